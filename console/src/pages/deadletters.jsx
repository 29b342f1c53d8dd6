// Written next: see the console's issue for administrators.
export function DeadLetters({ params }) {
  return (
    <main>
      <h1>DeadLetters</h1>
      <p class="muted">Not written yet.</p>
    </main>
  );
}
