// Written next: see the console's issue.
export function EntityPage({ id }) {
  return <main><h1>EntityPage</h1><p class="muted">Not written yet.</p></main>;
}
