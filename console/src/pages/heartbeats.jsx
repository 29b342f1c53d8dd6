// The heartbeats: every definition in the tree its parents make (relays and leaves), each
// with its state (on time, late since when, its last event), polled every few seconds;
// create, edit and delete for admins (nobody else sees a control).
import { useEffect, useState } from "preact/hooks";
import { request, segment } from "../api.js";
import { ErrorText, Loading } from "../components.jsx";
import { age, formatTime } from "../format.js";
import { useSession } from "../session.js";
import { useShortcuts } from "../shortcuts.js";
import { HeartbeatForm } from "./heartbeatform.jsx";
import { buildTree, lateSince, STATE_NAMES, stateOf } from "./heartbeattree.js";
import "./heartbeats.css";

// The status is asked for this often (with the ETag of the copy held).
const REFRESH_MS = 3000;

// `path` polled every `every` ms: {data, fetched (ms, when data was answered), error,
// reload()}. A 304 keeps the copy held.
function useWatched(path, every) {
  const [state, setState] = useState({ data: null, fetched: 0, error: null });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let etag = null;
    let timer = null;
    let stopped = false;
    const controller = new AbortController();
    const load = async () => {
      try {
        const answer = await request("GET", path, { etag, signal: controller.signal });
        if (answer.status !== 304) {
          etag = answer.etag;
          setState({ data: answer.data, fetched: Date.now(), error: null });
        }
      } catch (error) {
        if (error.name === "AbortError") return;
        setState((old) => ({ ...old, error }));
      }
      if (!stopped) timer = setTimeout(load, every);
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
    };
  }, [path, every, round]);
  return { ...state, reload: () => setRound((r) => r + 1) };
}

export function Heartbeats() {
  const { can } = useSession();
  const admin = can("admin");
  const defs = useWatched("/heartbeats", REFRESH_MS);
  const status = useWatched("/heartbeats/status", REFRESH_MS);
  // null: no form; {editing: a definition or null for a new one, parent: an id or null}
  const [form, setShownForm] = useState(null);
  const [notice, setNotice] = useState(null);
  // What the last change said is old news once another form opens.
  const setForm = (next) => {
    setShownForm(next);
    if (next) setNotice(null);
  };
  useShortcuts(
    admin ? [{ key: "n", what: "new heartbeat", run: () => setForm({ editing: null }) }] : [],
    [admin],
  );

  if (!defs.data) {
    return (
      <main>
        <h1>Heartbeats</h1>
        {defs.error ? <ErrorText error={defs.error} /> : <Loading />}
      </main>
    );
  }
  const definitions = defs.data.items;
  const statuses = new Map((status.data?.items || []).map((s) => [s._id, s]));
  const roots = buildTree(definitions, statuses);
  const changed = (message) => {
    setForm(null);
    setNotice(message);
    defs.reload();
    status.reload();
  };
  const actions = admin && {
    edit: (defn) => setForm({ editing: defn }),
    addChild: (defn) => setForm({ editing: null, parent: defn._id }),
    deleted: (defn) => changed(`Deleted heartbeat ${defn._id}.`),
  };
  return (
    <main class="heartbeats">
      <div class="hb-head">
        <h1>Heartbeats</h1>
        <Summary definitions={definitions} statuses={statuses} />
        {admin && !form && (
          <button type="button" class="primary" onClick={() => setForm({ editing: null })}>
            New heartbeat
          </button>
        )}
      </div>
      <p class="muted">
        A heartbeat turns late when the events its match selects stop coming for longer than
        its interval, and raises a critical alarm until they come back. A relay hears of its
        children through them: its interval exceeds theirs.
      </p>
      {notice && (
        <p role="status" class="hb-notice">
          {notice}
        </p>
      )}
      {(defs.error || status.error) && <ErrorText error={defs.error || status.error} />}
      <div class={form ? "hb-columns" : undefined}>
        <section class="panel" aria-label="heartbeat tree">
          {roots.length === 0 ? (
            <p class="muted">No heartbeat is defined.</p>
          ) : (
            <ul class="hb-tree hb-roots">
              {roots.map((node) => (
                <Node key={node.defn._id} node={node} fetched={status.fetched} actions={actions} />
              ))}
            </ul>
          )}
        </section>
        {form && (
          <HeartbeatForm
            key={`${form.editing?._id ?? ""}/${form.parent ?? ""}`}
            definitions={definitions}
            editing={form.editing}
            parent={form.parent}
            onSaved={(saved) => changed(`Saved heartbeat ${saved._id}.`)}
            onCancel={() => setForm(null)}
          />
        )}
      </div>
    </main>
  );
}

function Summary({ definitions, statuses }) {
  const count = { ok: 0, late: 0, untracked: 0 };
  for (const defn of definitions) count[stateOf(statuses.get(defn._id))] += 1;
  const parts = ["late", "ok", "untracked"]
    .filter((state) => count[state] > 0)
    .map((state) => `${count[state]} ${STATE_NAMES[state]}`);
  return (
    <span class="muted" aria-label="summary">
      {definitions.length} {definitions.length === 1 ? "heartbeat" : "heartbeats"}
      {parts.length > 0 && `: ${parts.join(", ")}`}
    </span>
  );
}

// One heartbeat of the tree and, below it, its children.
function Node({ node, fetched, actions }) {
  const { defn, status, children, problems, lateBelow } = node;
  const state = stateOf(status);
  return (
    <li>
      <div class={`hb-node hb-${state}`} data-heartbeat={defn._id} data-state={state}>
        <div class="hb-line">
          <span class="hb-state">{STATE_NAMES[state]}</span>
          <strong class="hb-name">{defn.name ?? defn._id}</strong>
          {defn.name !== undefined && defn.name !== defn._id && (
            <span class="muted">{defn._id}</span>
          )}
          <span class="badge">
            {children.length > 0 ? `relay of ${children.length}` : "leaf"}
          </span>
          {defn.author === "announced" && <span class="badge">announced by its agent</span>}
          {lateBelow > 0 && <span class="badge hb-late-below">{lateBelow} late below</span>}
          {actions && <NodeActions defn={defn} actions={actions} />}
        </div>
        <div class="hb-facts">
          <span>every {defn.interval} s</span>
          <Timing status={status} fetched={fetched} />
          <code class="hb-match">{JSON.stringify(defn.match)}</code>
        </div>
        {defn.description && <div class="hb-description">{defn.description}</div>}
        {problems.map((problem) => (
          <div key={problem} class="hb-problem">
            {problem}
          </div>
        ))}
      </div>
      {children.length > 0 && (
        <ul class="hb-tree">
          {children.map((child) => (
            <Node key={child.defn._id} node={child} fetched={fetched} actions={actions} />
          ))}
        </ul>
      )}
    </li>
  );
}

// The last event and, when late, since when.
function Timing({ status, fetched }) {
  const state = stateOf(status);
  if (state === "untracked") return <span>not looked at by the heartbeat engine yet</span>;
  const seen = status.last_seen;
  const since = lateSince(status, fetched);
  return (
    <>
      <span>
        last event{" "}
        {seen === null ? "never" : `${formatTime(seen)} (${age(seen)} ago)`}
      </span>
      {since !== null && (
        <span class="hb-late-since">
          late since {formatTime(since)} ({age(since)})
        </span>
      )}
    </>
  );
}

// Edit, add a child, delete (with a confirm step): admins only.
function NodeActions({ defn, actions }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await request("DELETE", `/heartbeats/${segment(defn._id)}`);
      actions.deleted(defn);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  if (confirming) {
    return (
      <span class="hb-actions" role="group" aria-label={`delete ${defn._id}`}>
        <span>Really delete {defn._id}?</span>
        <button type="button" class="danger" disabled={busy} onClick={remove}>
          Yes, delete
        </button>
        <button type="button" disabled={busy} onClick={() => setConfirming(false)}>
          No
        </button>
        <ErrorText error={error} />
      </span>
    );
  }
  return (
    <span class="hb-actions">
      <button type="button" onClick={() => actions.edit(defn)}>
        Edit
      </button>
      <button type="button" onClick={() => actions.addChild(defn)}>
        Add child
      </button>
      <button type="button" onClick={() => setConfirming(true)}>
        Delete
      </button>
    </span>
  );
}
