// The login page: a session cookie from POST /auth/login, then the page the user was on.
import { useState } from "preact/hooks";
import { post } from "./api.js";
import { ErrorText } from "./components.jsx";

export function Login({ onLoggedIn }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLoggedIn(await post("/auth/login", { name, password }));
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-label="log in">
        <h1>canopsis</h1>
        <label>
          Name
          <input
            name="name"
            autocomplete="username"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            required
            autofocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        <ErrorText error={error} />
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
