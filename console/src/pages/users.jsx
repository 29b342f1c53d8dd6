// Written next: see the console's issue for administrators.
export function Users({ params }) {
  return (
    <main>
      <h1>Users</h1>
      <p class="muted">Not written yet.</p>
    </main>
  );
}
