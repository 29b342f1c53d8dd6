// Operator actions on alarms: the controls (for one alarm or a selection) and the notices
// saying what became of each action: sent, accepted by the API (202), then applied once
// the live rows show its effect, or the API's error with the fields it names.
import { useEffect, useState } from "preact/hooks";
import { post, segment } from "../api.js";
import { ErrorText } from "../components.jsx";
import { STATES } from "../format.js";

// Each action: its API name, its button, the form it needs (if any) and how its effect
// shows in a row (`before`: the row's last_update_date when the action was sent).
export const ACTIONS = [
  { name: "ack", label: "Ack", done: (a) => a.ack != null },
  { name: "ackremove", label: "Remove ack", done: (a) => a.ack == null },
  { name: "snooze", label: "Snooze…", form: SnoozeForm, done: (a) => a.snooze != null },
  { name: "cancel", label: "Cancel alarm", done: (a) => a.canceled != null },
  { name: "uncancel", label: "Uncancel", done: (a) => a.canceled == null },
  { name: "declareticket", label: "Declare ticket", done: (a) => a.ticket != null },
  {
    name: "assocticket",
    label: "Associate ticket…",
    form: TicketForm,
    done: (a, fields) => a.ticket?.val === fields.ticket,
  },
  {
    name: "changestate",
    label: "Change state…",
    form: StateForm,
    done: (a, fields) => a.state?.val === fields.state,
  },
  {
    name: "comment",
    label: "Comment…",
    form: CommentForm,
    done: (a, _fields, before) => a.last_update_date !== before,
  },
];
const byName = Object.fromEntries(ACTIONS.map((action) => [action.name, action]));

let serial = 0;

// The notices of the actions sent from this page, and `send(name, ids, fields, rows)`
// (resolves to whether the API accepted it). `rows`: the rows shown now, to see effects.
export function useActions(rows) {
  const [notices, setNotices] = useState([]);
  const update = (key, changes) =>
    setNotices((list) => list.map((n) => (n.key === key ? { ...n, ...changes } : n)));

  // Accepted actions become applied once every one of their rows shown has the effect.
  const accepted = notices.filter((n) => n.status === "accepted").length;
  useEffect(() => {
    if (!rows) return;
    setNotices((list) => {
      const next = list.map((n) => {
        if (n.status !== "accepted") return n;
        const shown = rows.filter((a) => n.ids.includes(a._id));
        const done = byName[n.action].done;
        const applied =
          shown.length > 0 && shown.every((a) => done(a, n.fields, n.before.get(a._id)));
        if (!applied && shown.length === n.shown) return n;
        return { ...n, status: applied ? "applied" : n.status, shown: shown.length };
      });
      return next.some((n, i) => n !== list[i]) ? next : list;
    });
  }, [rows, accepted]);

  const send = async (name, ids, fields, shownRows) => {
    const key = ++serial;
    const before = new Map(shownRows.map((a) => [a._id, a.last_update_date]));
    const notice = { key, action: name, ids, fields, before, status: "sending", shown: 0 };
    setNotices((list) => [notice, ...list].slice(0, 5));
    try {
      const answer =
        ids.length === 1
          ? await post(`/alarms/${segment(ids[0])}/${name}`, fields)
          : await post(`/alarms/${name}`, { ids, ...fields });
      update(key, { status: "accepted", missing: answer?.missing ?? [] });
      return true;
    } catch (error) {
      update(key, { status: "error", error });
      return false;
    }
  };
  const dismiss = (key) => setNotices((list) => list.filter((n) => n.key !== key));
  return { notices, send, dismiss };
}

const plural = (n) => `${n} alarm${n === 1 ? "" : "s"}`;

function noticeText(n) {
  const label = `${byName[n.action].label.replace("…", "")}`;
  const missing = n.missing?.length ? ` (${plural(n.missing.length)} no longer open)` : "";
  switch (n.status) {
    case "sending":
      return `${label}: sending for ${plural(n.ids.length)}…`;
    case "accepted":
      return n.shown > 0
        ? `${label}: accepted for ${plural(n.ids.length)}${missing}; waiting for the engines to apply it…`
        : `${label}: accepted for ${plural(n.ids.length)}${missing}; not in this view, so its effect is not shown here`;
    case "applied":
      return `${label}: applied to ${plural(n.ids.length)}${missing}`;
    default:
      return `${label} failed for ${plural(n.ids.length)}:`;
  }
}

export function ActionNotices({ notices, dismiss }) {
  if (notices.length === 0) return null;
  return (
    <ul class="action-notices" aria-label="actions">
      {notices.map((n) => (
        <li key={n.key} class={`notice notice-${n.status}`} role="status">
          <span>{noticeText(n)}</span>
          {n.status === "error" && <ErrorText error={n.error} />}
          <button type="button" class="dismiss" aria-label="dismiss" onClick={() => dismiss(n.key)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

// The buttons of every action for `ids`; an action needing more (snooze duration,
// ticket, state, comment) opens its small form first. `onSent` after the API accepted.
export function ActionControls({ ids, rows, send, onSent }) {
  const [open, setOpen] = useState(null);
  const run = async (name, fields) => {
    const shown = rows.filter((a) => ids.includes(a._id));
    if (await send(name, ids, fields, shown)) {
      setOpen(null);
      onSent?.();
    }
  };
  const Form = open && byName[open].form;
  return (
    <div class="action-controls">
      <div class="action-buttons">
        {ACTIONS.map((action) => (
          <button
            type="button"
            key={action.name}
            aria-pressed={action.form ? open === action.name : undefined}
            disabled={ids.length === 0}
            onClick={() => (action.form ? setOpen(action.name) : run(action.name, {}))}
          >
            {action.label}
          </button>
        ))}
      </div>
      {Form && <Form submit={(fields) => run(open, fields)} close={() => setOpen(null)} />}
    </div>
  );
}

function ActionForm({ submit, close, children, fields }) {
  const onSubmit = (event) => {
    event.preventDefault();
    const values = fields();
    if (values) submit(values);
  };
  return (
    <form class="action-form" onSubmit={onSubmit}>
      {children}
      <button type="submit" class="primary">
        Send
      </button>
      <button type="button" onClick={close}>
        Close
      </button>
    </form>
  );
}

const SNOOZES = [
  ["300", "5 min"],
  ["900", "15 min"],
  ["3600", "1 h"],
  ["14400", "4 h"],
  ["86400", "1 d"],
  ["custom", "custom (minutes)"],
];

function SnoozeForm({ submit, close }) {
  const [choice, setChoice] = useState("3600");
  const [minutes, setMinutes] = useState("30");
  // A custom duration the API refuses (not a whole positive number) is the API's to say.
  const duration = () => (choice === "custom" ? Number(minutes) * 60 : Number(choice));
  return (
    <ActionForm submit={submit} close={close} fields={() => ({ duration: duration() })}>
      <label>
        Snooze for{" "}
        <select value={choice} onChange={(e) => setChoice(e.currentTarget.value)}>
          {SNOOZES.map(([value, text]) => (
            <option key={value} value={value}>
              {text}
            </option>
          ))}
        </select>
      </label>
      {choice === "custom" && (
        <label>
          Minutes{" "}
          <input
            type="number"
            min="1"
            step="1"
            value={minutes}
            onInput={(e) => setMinutes(e.currentTarget.value)}
          />
        </label>
      )}
    </ActionForm>
  );
}

function TicketForm({ submit, close }) {
  const [ticket, setTicket] = useState("");
  return (
    <ActionForm submit={submit} close={close} fields={() => ({ ticket })}>
      <label>
        Ticket number{" "}
        <input value={ticket} required onInput={(e) => setTicket(e.currentTarget.value)} />
      </label>
    </ActionForm>
  );
}

function StateForm({ submit, close }) {
  const [state, setState] = useState("3");
  return (
    <ActionForm submit={submit} close={close} fields={() => ({ state: Number(state) })}>
      <label>
        New state{" "}
        <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
          {STATES.map((name, value) => (
            <option key={value} value={String(value)}>
              {name}
            </option>
          ))}
        </select>
      </label>
    </ActionForm>
  );
}

function CommentForm({ submit, close }) {
  const [text, setText] = useState("");
  return (
    <ActionForm submit={submit} close={close} fields={() => ({ output: text })}>
      <label>
        Comment{" "}
        <input value={text} required size="40" onInput={(e) => setText(e.currentTarget.value)} />
      </label>
    </ActionForm>
  );
}
