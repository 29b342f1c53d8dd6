// Create or edit a heartbeat definition (admins only): the fields the API takes, the
// interval rules of a tree explained next to the interval, and each problem the API's 400
// names shown on its field.
import { cloneElement } from "preact";
import { useState } from "preact/hooks";
import { ApiError, request, segment } from "../api.js";
import { ErrorText } from "../components.jsx";
import { boundsProblem, intervalBounds, possibleParents } from "./heartbeattree.js";

// The form's text fields, in the body's names; `match` is JSON, `interval` a number.
const TEXT_FIELDS = ["_id", "name", "description", "component", "output_late", "output_ok"];

// The form's values of `defn` (null: a new one under `parent`).
function valuesOf(defn, parent) {
  if (!defn) {
    return { _id: "", name: "", description: "", match: "", interval: "", parent: parent || "" };
  }
  const values = { match: JSON.stringify(defn.match ?? {}, null, 2) };
  for (const key of TEXT_FIELDS) values[key] = defn[key] ?? "";
  values.interval = defn.interval === undefined ? "" : String(defn.interval);
  values.parent = defn.parent ?? "";
  return values;
}

// The body to send, or {problems} the page finds before the API could.
function bodyOf(values, editing, bounds) {
  const body = {};
  const problems = {};
  for (const key of TEXT_FIELDS) {
    if (values[key] !== "" && values[key] !== undefined) body[key] = values[key];
  }
  if (values.parent) body.parent = values.parent;
  if (values.match.trim() !== "") {
    try {
      body.match = JSON.parse(values.match);
    } catch (e) {
      problems.match = `not JSON: ${e.message}`;
    }
  }
  if (values.interval.trim() !== "") {
    body.interval = Number(values.interval);
    const wrong = Number.isFinite(body.interval) ? boundsProblem(body.interval, bounds) : null;
    if (wrong) problems.interval = wrong;
  }
  // A self-announced definition raises on its agent's entity: kept as it is.
  if (editing && editing.entity) body.entity = editing.entity;
  return { body, problems };
}

// The form field a name of the API's 400 is about ("match.$regex" is about match).
function fieldOf(name) {
  const first = name.split(".")[0];
  return first === "entity" ? "component" : first;
}

export function HeartbeatForm({ definitions, editing, parent, onSaved, onCancel }) {
  const [values, setValues] = useState(() => valuesOf(editing, parent));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const id = editing ? editing._id : null;
  const bounds = intervalBounds(definitions, id, values.parent || null);
  const problems = {};
  for (const [name, why] of Object.entries(error?.fields || {})) {
    problems[fieldOf(name)] ??= String(why);
  }
  const set = (key) => (e) => setValues({ ...values, [key]: e.currentTarget.value });

  const submit = async (e) => {
    e.preventDefault();
    const { body, problems: found } = bodyOf(values, editing, bounds);
    if (Object.keys(found).length > 0) {
      setError(new ApiError(0, "Not sent: the form has problems.", found));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const path = editing ? `/heartbeats/${segment(id)}` : "/heartbeats";
      const answer = await request(editing ? "PUT" : "POST", path, { body });
      onSaved(answer.data);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const field = (name) => ({ name, problem: problems[name] });
  return (
    <form class="panel hb-form" aria-label="heartbeat form" onSubmit={submit} noValidate>
      <h2>{editing ? `Edit ${id}` : "New heartbeat"}</h2>
      {!editing && (
        <Field {...field("_id")} label="Id" hint="unique; it cannot change later">
          <input value={values._id} onInput={set("_id")} required />
        </Field>
      )}
      <Field {...field("name")} label="Name" hint="the resource of its alarm; the id when empty">
        <input value={values.name} onInput={set("name")} />
      </Field>
      <Field {...field("description")} label="Description">
        <input value={values.description} onInput={set("description")} />
      </Field>
      <Field
        {...field("match")}
        label="Match"
        hint='the events that show it alive, e.g. {"component": "agent-7"}'
      >
        <textarea rows="3" value={values.match} onInput={set("match")} spellcheck={false} />
      </Field>
      <Field {...field("parent")} label="Parent" hint="the relay it reports through, if any">
        <select value={values.parent} onChange={set("parent")}>
          <option value="">(none: a root)</option>
          {possibleParents(definitions, id).map((other) => (
            <option key={other} value={other}>
              {other}
            </option>
          ))}
        </select>
      </Field>
      <Field {...field("interval")} label="Interval (seconds)" hint={<IntervalRules {...bounds} />}>
        <input type="number" step="any" value={values.interval} onInput={set("interval")} />
      </Field>
      {editing && editing.entity ? (
        <p class="muted">
          Announced by its agent: its alarm is raised on the agent's entity ({editing._id}).
        </p>
      ) : (
        <Field {...field("component")} label="Component" hint="of its alarm; heartbeats when empty">
          <input value={values.component} onInput={set("component")} />
        </Field>
      )}
      <Field {...field("output_late")} label="Output when late" hint="the default tells how long">
        <input value={values.output_late} onInput={set("output_late")} />
      </Field>
      <Field {...field("output_ok")} label="Output when back">
        <input value={values.output_ok} onInput={set("output_ok")} />
      </Field>
      <ErrorText error={error} />
      <div class="hb-form-actions">
        <button type="submit" class="primary" disabled={busy}>
          {editing ? "Save" : "Create"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

// One labelled field: `problem` (from the API or the page) marks it and is said under it.
function Field({ name, label, hint, problem, children }) {
  const inputId = `hb-${name}`;
  const about = `${inputId}-about`;
  const control = cloneElement(children, {
    id: inputId,
    "aria-describedby": about,
    "aria-invalid": problem ? "true" : undefined,
  });
  return (
    <div class={problem ? "hb-field invalid" : "hb-field"}>
      <label for={inputId}>{label}</label>
      {control}
      <div id={about}>
        {problem && <p class="field-error">{problem}</p>}
        {hint && <p class="muted hb-hint">{hint}</p>}
      </div>
    </div>
  );
}

// The interval rule of a tree, with the bounds of this definition.
function IntervalRules({ above, child, below, parent }) {
  return (
    <>
      The seconds of silence after which it turns late (the engine looks every few seconds).
      A parent hears of its children through them, so a parent's interval must be greater than
      each child's
      {above === null && below === null && ": this one has neither parent nor children."}
      {above !== null && `; here more than ${above} s (child ${child})`}
      {below !== null && `; here less than ${below} s (parent ${parent})`}
      {(above !== null || below !== null) && "."}
    </>
  );
}
