// Written next: see the console's issue for administrators.
export function Heartbeats({ params }) {
  return (
    <main>
      <h1>Heartbeats</h1>
      <p class="muted">Not written yet.</p>
    </main>
  );
}
