// Written next: see the console's issue.
export function AlarmDetail({ id }) {
  return <main><h1>AlarmDetail</h1><p class="muted">Not written yet.</p></main>;
}
