// Create or edit an event-filter rule (admins only): the fields the API takes, `match` and
// `actions` as JSON, and each problem the API's 400 names marked on its field.
import { cloneElement } from "preact";
import { useState } from "preact/hooks";
import { ApiError, request, segment } from "../api.js";
import { ErrorText } from "../components.jsx";
import { bodyOf, RULES } from "./rulesdata.js";

const EXAMPLE_ACTIONS = '[{"type": "set", "field": "site", "value": "paris"}]';
const TEXT_FIELDS = ["_id", "name", "description"];

// The form's values of `rule` (null: a new rule placed after `last`, the rule now last).
function valuesOf(rule, last) {
  if (!rule) {
    const priority = last ? (Number.isInteger(last.priority) ? last.priority : 0) + 10 : 0;
    return {
      _id: "",
      name: "",
      description: "",
      priority: String(priority),
      enabled: true,
      stop: false,
      match: "{}",
      actions: "[]",
    };
  }
  const values = {
    priority: rule.priority === undefined ? "" : String(rule.priority),
    enabled: rule.enabled !== false,
    stop: rule.break === true,
    match: JSON.stringify(rule.match ?? {}, null, 2),
    actions: JSON.stringify(rule.actions ?? [], null, 2),
  };
  for (const key of TEXT_FIELDS) values[key] = rule[key] ?? "";
  return values;
}

// The body to send, or {problems} the page finds before the API could (JSON that does not
// parse, a priority that is not an integer). Editing keeps the stored fields the form does
// not show.
function bodyFrom(values, rule) {
  const body = rule ? bodyOf(rule) : {};
  const problems = {};
  for (const key of TEXT_FIELDS) {
    if (values[key] !== "") body[key] = values[key];
    else delete body[key];
  }
  if (values.priority.trim() === "") delete body.priority;
  else if (/^-?\d+$/.test(values.priority.trim())) body.priority = Number(values.priority);
  else problems.priority = "expected an integer";
  body.enabled = values.enabled;
  body.break = values.stop;
  for (const key of ["match", "actions"]) {
    try {
      body[key] = JSON.parse(values[key]);
    } catch (e) {
      problems[key] = `not JSON: ${e.message}`;
    }
  }
  return { body, problems };
}

// The form field a name of the API's 400 is about ("actions.0.field" is about actions).
function fieldOf(name) {
  const first = name.split(".")[0];
  return first === "break" ? "stop" : first;
}

export function RuleForm({ rule, last, onSaved, onCancel }) {
  const [values, setValues] = useState(() => valuesOf(rule, last));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const problems = {};
  for (const [name, why] of Object.entries(error?.fields || {})) {
    const field = fieldOf(name);
    const said = name === field ? String(why) : `${name}: ${why}`;
    problems[field] = problems[field] ? `${problems[field]}; ${said}` : said;
  }
  const set = (key) => (e) => setValues({ ...values, [key]: e.currentTarget.value });
  const tick = (key) => (e) => setValues({ ...values, [key]: e.currentTarget.checked });

  const submit = async (e) => {
    e.preventDefault();
    const { body, problems: found } = bodyFrom(values, rule);
    if (Object.keys(found).length > 0) {
      setError(new ApiError(0, "Not sent: the form has problems.", found));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const path = rule ? `${RULES}/${segment(rule._id)}` : RULES;
      const answer = await request(rule ? "PUT" : "POST", path, { body });
      onSaved(answer.data);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const field = (name) => ({ name, problem: problems[name] });
  return (
    <form class="panel rule-form" aria-label="rule form" onSubmit={submit} noValidate>
      <h2>{rule ? `Edit ${rule._id}` : "New rule"}</h2>
      {!rule && (
        <Field {...field("_id")} label="Id" hint="unique; it cannot change later">
          <input value={values._id} onInput={set("_id")} required />
        </Field>
      )}
      <Field {...field("name")} label="Name" hint="the id when empty">
        <input value={values.name} onInput={set("name")} />
      </Field>
      <Field {...field("description")} label="Description">
        <input value={values.description} onInput={set("description")} />
      </Field>
      <Field {...field("priority")} label="Priority" hint="lower runs first; ties by id">
        <input type="number" step="1" value={values.priority} onInput={set("priority")} />
      </Field>
      <Field
        {...field("match")}
        label="Match"
        hint='the events it applies to, e.g. {"component": {"$regex": "^web"}}; {} is every event'
      >
        <textarea rows="4" value={values.match} onInput={set("match")} spellcheck={false} />
      </Field>
      <Field
        {...field("actions")}
        label="Actions"
        hint={`in order: set, remove, add_tag, route, then drop or pass last; e.g. ${EXAMPLE_ACTIONS}`}
      >
        <textarea rows="5" value={values.actions} onInput={set("actions")} spellcheck={false} />
      </Field>
      <div class="rule-ticks">
        <label class={problems.enabled ? "invalid" : undefined}>
          <input type="checkbox" checked={values.enabled} onChange={tick("enabled")} /> Enabled
        </label>
        <label class={problems.stop ? "invalid" : undefined}>
          <input type="checkbox" checked={values.stop} onChange={tick("stop")} /> Break (the
          rules after it are skipped for the events it hits)
        </label>
      </div>
      <ErrorText error={error} />
      <div class="rule-form-actions">
        <button type="submit" class="primary" disabled={busy}>
          {rule ? "Save" : "Create"}
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
  const inputId = `rule-${name}`;
  const about = `${inputId}-about`;
  const control = cloneElement(children, {
    id: inputId,
    "aria-describedby": about,
    "aria-invalid": problem ? "true" : undefined,
  });
  return (
    <div class={problem ? "rule-field invalid" : "rule-field"}>
      <label for={inputId}>{label}</label>
      {control}
      <div id={about}>
        {problem && <p class="rule-problem">{problem}</p>}
        {hint && <p class="muted rule-hint">{hint}</p>}
      </div>
    </div>
  );
}
