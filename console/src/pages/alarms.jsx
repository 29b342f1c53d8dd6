// Written next: see the console's issue.
export function AlarmList({ params }) {
  return <main><h1>AlarmList</h1><p class="muted">Not written yet.</p></main>;
}
