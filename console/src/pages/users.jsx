// Users and API keys (admins only: the frame shows this page to no one else). Users are
// created, change role, are disabled and enabled, deleted; the API's refusals (the last
// admin) are shown as it words them. A new API key's secret is shown once, with a copy
// button; keys are listed with the role they act with now, and revoked.
import { useEffect, useState } from "preact/hooks";
import { get, post, put, segment } from "../api.js";
import { ErrorText, Loading } from "../components.jsx";
import { ROLES } from "../format.js";
import { useSession } from "../session.js";
import { Confirm, isoTime, remove } from "./adminkit.jsx";
import "./users.css";

// The expiries a new key may have, in seconds from now (null: never).
const EXPIRIES = [
  ["never", null],
  ["1 day", 86400],
  ["30 days", 30 * 86400],
  ["90 days", 90 * 86400],
  ["1 year", 365 * 86400],
];

export function Users() {
  return (
    <main class="users">
      <h1>Users and API keys</h1>
      <UserSection />
      <KeySection />
    </main>
  );
}

// `path`'s items, loaded again when `version` changes.
function useItems(path, version) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get(path)
      .then((d) => (setItems(d.items), setError(null)))
      .catch(setError);
  }, [path, version]);
  return { items, error };
}

function RoleSelect({ value, onChange, id }) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}

function UserSection() {
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  const { items, error } = useItems("/users", version);
  const [refused, setRefused] = useState(null);
  // Every change goes through here: a refusal is shown above the table, then the list
  // is read again (a refused change leaves the user as the API has them).
  const change = async (call) => {
    try {
      await call();
      setRefused(null);
    } catch (e) {
      setRefused(e);
    }
    reload();
  };
  return (
    <section class="panel" aria-label="users">
      <h2>Users</h2>
      <NewUser onCreated={reload} />
      <ErrorText error={refused} />
      <ErrorText error={error} />
      {items === null ? (
        !error && <Loading />
      ) : (
        <table class="list user-list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th class="wide">Created</th>
              <th>State</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((user) => (
              <UserRow key={user.name} user={user} change={change} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function UserRow({ user, change }) {
  const { user: me } = useSession();
  const path = `/users/${segment(user.name)}`;
  return (
    <tr data-user={user.name} class={user.disabled ? "user-disabled" : ""}>
      <td>
        {user.name}
        {me?.name === user.name && <span class="muted"> (you)</span>}
      </td>
      <td>
        <RoleSelect
          value={user.role}
          onChange={(role) => change(() => put(path, { role }))}
          id={`role-${user.name}`}
        />
      </td>
      <td class="wide">{isoTime(user.created)}</td>
      <td>{user.disabled ? "disabled" : "enabled"}</td>
      <td>
        <div class="actions">
          <button
            type="button"
            onClick={() => change(() => put(path, { disabled: !user.disabled }))}
          >
            {user.disabled ? "Enable" : "Disable"}
          </button>
          <Confirm
            label="Delete"
            question={`Really delete ${user.name}?`}
            onYes={() => change(() => remove(path))}
          />
        </div>
      </td>
    </tr>
  );
}

function NewUser({ onCreated }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("viewer");
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const create = async (event) => {
    event.preventDefault();
    try {
      const user = await post("/users", { name, password, role });
      setDone(`Created ${user.name} (${user.role}).`);
      setError(null);
      setName("");
      setPassword("");
      onCreated();
    } catch (e) {
      setError(e);
      setDone(null);
    }
  };
  return (
    <form class="inline new-user" onSubmit={create} aria-label="new user">
      <label>
        Name
        <input value={name} required onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input
          type="password"
          autocomplete="new-password"
          value={password}
          required
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <label>
        Role
        <RoleSelect value={role} onChange={setRole} />
      </label>
      <button type="submit" class="primary">
        Create user
      </button>
      <div class="form-result">
        {done && (
          <p class="done" role="status">
            {done}
          </p>
        )}
        <ErrorText error={error} />
      </div>
    </form>
  );
}

function KeySection() {
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  const { items, error } = useItems("/apikeys", version);
  const [refused, setRefused] = useState(null);
  const revoke = async (key) => {
    try {
      await remove(`/apikeys/${segment(key._id)}`);
      setRefused(null);
    } catch (e) {
      setRefused(e);
    }
    reload();
  };
  return (
    <section class="panel" aria-label="API keys">
      <h2>API keys</h2>
      <NewKey onCreated={reload} />
      <ErrorText error={refused} />
      <ErrorText error={error} />
      {items === null ? (
        !error && <Loading />
      ) : items.length === 0 ? (
        <p class="muted">No API key yet.</p>
      ) : (
        <table class="list key-list">
          <thead>
            <tr>
              <th>Key id</th>
              <th>Description</th>
              <th>Creator</th>
              <th>Role</th>
              <th>Acts as</th>
              <th class="wide">Created</th>
              <th>Expires</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((key) => (
              <KeyRow key={key._id} apikey={key} revoke={revoke} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function KeyRow({ apikey, revoke }) {
  const works = apikey.effective_role !== null;
  return (
    <tr data-key={apikey._id} class={works ? "" : "key-dead"}>
      <td>
        <code>{apikey._id}</code>
      </td>
      <td>{apikey.description}</td>
      <td>{apikey.author}</td>
      <td>{apikey.role}</td>
      <td>
        {works ? apikey.effective_role : "nothing"}
        <div class="muted">{apikey.effective_reason}</div>
      </td>
      <td class="wide">{isoTime(apikey.created)}</td>
      <td>{apikey.expires ? isoTime(apikey.expires) : "never"}</td>
      <td>
        {apikey.revoked ? (
          <span class="muted">revoked {isoTime(apikey.revoked)}</span>
        ) : (
          <Confirm
            label="Revoke"
            question={`Really revoke ${apikey._id}?`}
            onYes={() => revoke(apikey)}
          />
        )}
      </td>
    </tr>
  );
}

function NewKey({ onCreated }) {
  const [role, setRole] = useState("operator");
  const [description, setDescription] = useState("");
  const [expiry, setExpiry] = useState("never");
  const [error, setError] = useState(null);
  const [made, setMade] = useState(null);
  const create = async (event) => {
    event.preventDefault();
    const seconds = EXPIRIES.find(([name]) => name === expiry)[1];
    const expires = seconds === null ? null : Math.floor(Date.now() / 1000) + seconds;
    try {
      setMade(await post("/apikeys", { role, description, expires }));
      setError(null);
      setDescription("");
      onCreated();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <form class="inline new-key" onSubmit={create} aria-label="new API key">
        <label>
          Description
          <input
            value={description}
            maxLength={200}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </label>
        <label>
          Role
          <RoleSelect value={role} onChange={setRole} />
        </label>
        <label>
          Expires after
          <select value={expiry} onChange={(e) => setExpiry(e.currentTarget.value)}>
            {EXPIRIES.map(([name]) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      <ErrorText error={error} />
      {made && <Secret made={made} onDismiss={() => setMade(null)} />}
    </div>
  );
}

// The new key's secret: the API answers it once, so it is shown once, until dismissed.
function Secret({ made, onDismiss }) {
  const [copied, setCopied] = useState(null);
  const copy = () =>
    navigator.clipboard.writeText(made.key).then(
      () => setCopied("copied"),
      () => setCopied("copy refused by the browser: select the key instead"),
    );
  return (
    <div class="secret" role="region" aria-label="new key">
      <p>
        The key <code>{made._id}</code> ({made.role}). Copy it now: it is shown only this once.
      </p>
      <div class="actions">
        <code class="secret-key">{made.key}</code>
        <button type="button" onClick={copy}>
          Copy
        </button>
        {copied && <span role="status">{copied}</span>}
        <button type="button" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}
