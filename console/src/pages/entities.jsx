// Written next: see the console's issue.
export function EntityList({ params }) {
  return <main><h1>EntityList</h1><p class="muted">Not written yet.</p></main>;
}
