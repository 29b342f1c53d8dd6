// Written next: see the console's issue for administrators.
export function Pipeline({ params }) {
  return (
    <main>
      <h1>Pipeline</h1>
      <p class="muted">Not written yet.</p>
    </main>
  );
}
