// Create or edit a pbehavior (admins only): name, type, reason, the entity filter (JSON),
// start and end read as wall-clock times in the pbehavior's time zone, the recurrence (a
// helper for the common rules, the raw RRULE for the rest), the skipped occurrences, and
// each problem the API's 400 names shown on its field. The API computes periods of saved
// pbehaviors only, so the preview of the next periods is the saved one's, shown as soon as
// it is saved.
import { cloneElement } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, request, segment } from "../api.js";
import { ErrorText } from "../components.jsx";
import { formatTime } from "../format.js";
import { periodsOf } from "./pbhperiods.js";
import {
  browserZone,
  fromLocalInput,
  knownZone,
  recurrenceOf,
  ruleOf,
  toLocalInput,
  WEEKDAY_NAMES,
  WEEKDAYS,
  weekdayIn,
  zoneNames,
} from "./pbhtime.js";

const TYPES = ["maintenance", "pause", "inactive"];
const KINDS = [
  ["none", "Does not repeat"],
  ["daily", "Daily"],
  ["weekly", "Weekly"],
  ["monthly", "Monthly"],
  ["custom", "Custom RRULE"],
];
const UNITS = { daily: "days", weekly: "weeks", monthly: "months" };
// The zones the time zone field suggests.
const ZONES = zoneNames();
// The preview lists this many periods, from within this many days.
const PREVIEWED = 8;
const PREVIEW_DAYS = 90;

// The form's values of `doc` (null: a new one).
function valuesOf(doc) {
  if (!doc) {
    return {
      name: "",
      type: "maintenance",
      reason: "",
      filter: "",
      start: "",
      end: "",
      tz: browserZone(),
      enabled: true,
      recurrence: recurrenceOf(null),
      exdates: [],
    };
  }
  const tz = doc.tz || "UTC";
  const zone = knownZone(tz) ? tz : "UTC";
  return {
    name: doc.name ?? "",
    type: doc.type ?? "maintenance",
    reason: doc.reason ?? "",
    filter: JSON.stringify(doc.filter ?? {}, null, 2),
    start: toLocalInput(doc.start, zone),
    end: toLocalInput(doc.end, zone),
    tz,
    enabled: doc.enabled !== false,
    recurrence: recurrenceOf(doc.rrule),
    exdates: (doc.exdates || []).map((when) => toLocalInput(when, zone)),
  };
}

// The body to send, or {problems} the page finds before the API could.
function bodyOf(values) {
  const problems = {};
  const body = {
    name: values.name,
    type: values.type,
    reason: values.reason,
    tz: values.tz,
    enabled: values.enabled,
  };
  try {
    body.filter = JSON.parse(values.filter || "null");
  } catch (e) {
    problems.filter = `not JSON: ${e.message}`;
  }
  if (!knownZone(values.tz)) {
    problems.tz = "not a time zone this browser knows, so the times cannot be read in it";
    return { body, problems };
  }
  const when = (text) => fromLocalInput(text, values.tz);
  body.start = when(values.start);
  if (body.start === null) problems.start = "expected a date and time";
  body.end = values.end ? when(values.end) : null;
  if (values.end && body.end === null) problems.end = "expected a date and time";
  const rule = ruleOf(values.recurrence);
  if (rule !== null) body.rrule = rule;
  if (values.exdates.length) {
    body.exdates = values.exdates.map(when);
    if (body.exdates.includes(null)) problems.exdates = "expected dates and times";
  }
  return { body, problems };
}

// The form field a name of the API's 400 is about ("filter.$where" is about the filter,
// "exdates.0" about the exdates).
const fieldOf = (name) => name.split(".")[0];

export function PbehaviorForm({ editing, onSaved, onClose }) {
  const [values, setValues] = useState(() => valuesOf(editing));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const problems = {};
  for (const [name, why] of Object.entries(error?.fields || {})) {
    problems[fieldOf(name)] ??= String(why);
  }
  const change = (key, value) => setValues((old) => ({ ...old, [key]: value }));
  const set = (key) => (e) => change(key, e.currentTarget.value);

  const submit = async (e) => {
    e.preventDefault();
    const { body, problems: found } = bodyOf(values);
    if (Object.keys(found).length > 0) {
      setError(new ApiError(0, "Not sent: the form has problems.", found));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const path = editing ? `/pbehaviors/${segment(editing._id)}` : "/pbehaviors";
      const answer = await request(editing ? "PUT" : "POST", path, { body });
      onSaved(answer.data);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const skip = (start) => {
    const text = toLocalInput(start, knownZone(values.tz) ? values.tz : "UTC");
    if (!values.exdates.includes(text)) change("exdates", [...values.exdates, text]);
  };

  const field = (name) => ({ name, problem: problems[name] });
  return (
    <div class="pbh-form-row">
      <form class="panel pbh-form" aria-label="pbehavior form" onSubmit={submit} noValidate>
        <h2>{editing ? `Edit ${editing.name}` : "New maintenance"}</h2>
        <div class="pbh-form-grid">
          <Field {...field("name")} label="Name">
            <input value={values.name} onInput={set("name")} required />
          </Field>
          <Field {...field("type")} label="Type">
            <select value={values.type} onChange={set("type")}>
              {TYPES.map((type) => (
                <option key={type} value={type}>
                  {type}
                </option>
              ))}
            </select>
          </Field>
          <Field {...field("reason")} label="Reason" wide>
            <input value={values.reason} onInput={set("reason")} />
          </Field>
          <Field
            {...field("filter")}
            label="Filter"
            wide
            hint='the entities it applies to, as JSON: {"component": "db1"}, {"component": {"$in": ["db1", "db2"]}}'
          >
            <textarea rows="3" value={values.filter} onInput={set("filter")} spellcheck={false} />
          </Field>
          <Field {...field("start")} label="Start">
            <input type="datetime-local" value={values.start} onInput={set("start")} />
          </Field>
          <Field {...field("end")} label="End" hint="empty: open-ended (not with a recurrence)">
            <input type="datetime-local" value={values.end} onInput={set("end")} />
          </Field>
          <Field
            {...field("tz")}
            label="Time zone"
            hint="start, end and skipped dates are read in it; a recurrence keeps its local time"
          >
            <input value={values.tz} onInput={set("tz")} list="pbh-zones" spellcheck={false} />
          </Field>
          <datalist id="pbh-zones">
            {ZONES.map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
          <Field {...field("enabled")} label="Enabled">
            <input
              type="checkbox"
              checked={values.enabled}
              onChange={(e) => change("enabled", e.currentTarget.checked)}
            />
          </Field>
        </div>
        <Recurrence
          recurrence={values.recurrence}
          startDay={startDay(values)}
          problem={problems.rrule}
          onChange={(recurrence) => change("recurrence", recurrence)}
        />
        <Exdates
          list={values.exdates}
          problem={problems.exdates}
          onChange={(list) => change("exdates", list)}
        />
        <ErrorText error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {editing ? "Save" : "Create"}
          </button>
          <button type="button" onClick={onClose}>
            {editing ? "Close" : "Cancel"}
          </button>
        </div>
      </form>
      <Preview doc={editing} onSkip={editing?.rrule ? skip : null} />
    </div>
  );
}

// The weekday of the start in the form's zone (today's when the start is not set yet).
function startDay(values) {
  const zone = knownZone(values.tz) ? values.tz : "UTC";
  const start = fromLocalInput(values.start, zone);
  return weekdayIn(start ?? Date.now() / 1000, zone);
}

// The recurrence helper: none, daily, weekly on chosen days, monthly, or a raw RRULE; the
// rule it makes is shown as the API will get it.
function Recurrence({ recurrence, startDay, problem, onChange }) {
  const { kind, interval, days, raw } = recurrence;
  const pick = (e) => {
    const next = e.currentTarget.value;
    const chosen = { ...recurrence, kind: next };
    // weekly starts from the start's weekday; custom from the rule the helper made
    if (next === "weekly" && days.length === 0) chosen.days = [WEEKDAYS[startDay]];
    if (next === "custom" && kind !== "custom") chosen.raw = ruleOf(recurrence) ?? "";
    onChange(chosen);
  };
  const toggle = (day) => {
    const chosen = days.includes(day) ? days.filter((d) => d !== day) : [...days, day];
    onChange({ ...recurrence, days: chosen });
  };
  const rule = ruleOf(recurrence);
  return (
    <fieldset class={problem ? "pbh-recurrence invalid" : "pbh-recurrence"}>
      <legend>Recurrence</legend>
      <div class="pbh-recurrence-line">
        <label>
          Repeats{" "}
          <select value={kind} onChange={pick} aria-invalid={problem ? "true" : undefined}>
            {KINDS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {UNITS[kind] && (
          <label>
            Every{" "}
            <input
              type="number"
              min="1"
              step="1"
              class="pbh-interval"
              value={interval}
              onInput={(e) =>
                onChange({ ...recurrence, interval: Math.max(1, Number(e.currentTarget.value) || 1) })
              }
            />{" "}
            {UNITS[kind]}
          </label>
        )}
      </div>
      {kind === "weekly" && (
        <div class="pbh-days" role="group" aria-label="weekdays">
          {WEEKDAYS.map((day, i) => (
            <label key={day}>
              <input type="checkbox" checked={days.includes(day)} onChange={() => toggle(day)} />
              {WEEKDAY_NAMES[i]}
            </label>
          ))}
          {days.length === 0 && <span class="muted">none chosen: the start's weekday</span>}
        </div>
      )}
      {kind === "monthly" && (
        <p class="muted">On the start's day of the month (a month without that day is skipped).</p>
      )}
      {kind === "custom" && (
        <label class="pbh-raw">
          RRULE{" "}
          <input
            value={raw}
            onInput={(e) => onChange({ ...recurrence, raw: e.currentTarget.value })}
            spellcheck={false}
            placeholder="FREQ=MONTHLY;BYDAY=1SA"
            aria-invalid={problem ? "true" : undefined}
          />
        </label>
      )}
      {problem && <p class="field-error">{problem}</p>}
      <p class="muted pbh-hint">
        {rule === null ? (
          "One period, from start to end."
        ) : (
          <>
            Each occurrence lasts from start to end, from the start on. Rule:{" "}
            <code aria-label="rule">{rule || "(empty)"}</code>
          </>
        )}
      </p>
    </fieldset>
  );
}

// The occurrences to skip: each an occurrence's start (wall clock in the form's zone).
function Exdates({ list, problem, onChange }) {
  const [adding, setAdding] = useState("");
  const add = () => {
    if (adding && !list.includes(adding)) onChange([...list, adding]);
    setAdding("");
  };
  return (
    <fieldset class={problem ? "pbh-exdates invalid" : "pbh-exdates"}>
      <legend>Skipped occurrences (exdates)</legend>
      {list.length === 0 && <p class="muted">None.</p>}
      <ul>
        {list.map((text) => (
          <li key={text}>
            <span>{text.replace("T", " ")}</span>{" "}
            <button
              type="button"
              aria-label={`keep ${text}`}
              onClick={() => onChange(list.filter((t) => t !== text))}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <label>
        Skip the occurrence starting at{" "}
        <input type="datetime-local" value={adding} onInput={(e) => setAdding(e.currentTarget.value)} />
      </label>{" "}
      <button type="button" onClick={add} disabled={!adding}>
        Add
      </button>
      {problem && <p class="field-error">{problem}</p>}
      <p class="muted pbh-hint">
        An exdate must be the start of an occurrence; "Skip" in the preview adds one.
      </p>
    </fieldset>
  );
}

// The next periods of the saved pbehavior `doc` (from the API), each with a "Skip" that
// adds its start to the form's exdates when it repeats.
function Preview({ doc, onSkip }) {
  const [state, setState] = useState({ periods: null, error: null });
  useEffect(() => {
    if (!doc) return undefined;
    let current = true;
    // from a period's length ago, so the one going on now is shown whole (and can be skipped)
    const length = doc.end === null || doc.end === undefined ? 0 : doc.end - doc.start;
    const now = Date.now() / 1000;
    periodsOf(doc._id, now - length, now + PREVIEW_DAYS * 86400)
      .then((periods) => current && setState({ periods, error: null }))
      .catch((error) => current && setState({ periods: [], error }));
    return () => {
      current = false;
    };
  }, [doc]);
  return (
    <section class="panel pbh-preview" aria-label="next periods">
      <h2>Next periods</h2>
      {!doc && (
        <p class="muted">
          Shown once it is saved: the API computes the periods of saved pbehaviors only.
        </p>
      )}
      {doc && (
        <p class="muted">
          Of the version saved at {formatTime(doc.updated)}, in your time zone.
        </p>
      )}
      <ErrorText error={state.error} />
      {doc && state.periods && state.periods.length === 0 && (
        <p class="muted">None within {PREVIEW_DAYS} days.</p>
      )}
      {doc && state.periods && state.periods.length > 0 && (
        <ol class="pbh-periods">
          {state.periods.slice(0, PREVIEWED).map((period) => (
            <li key={period.start}>
              {formatTime(period.start)} – {formatTime(period.end)}
              {onSkip && (
                <button type="button" onClick={() => onSkip(period.start)}>
                  Skip
                </button>
              )}
            </li>
          ))}
          {state.periods.length > PREVIEWED && (
            <li class="muted">
              and {state.periods.length - PREVIEWED} more within {PREVIEW_DAYS} days
            </li>
          )}
        </ol>
      )}
    </section>
  );
}

// One labelled field: `problem` (from the API or the page) marks it and is said under it.
function Field({ name, label, hint, problem, wide, children }) {
  const inputId = `pbh-${name}`;
  const about = `${inputId}-about`;
  const control = cloneElement(children, {
    id: inputId,
    "aria-describedby": about,
    "aria-invalid": problem ? "true" : undefined,
  });
  const classes = ["pbh-field"];
  if (wide) classes.push("pbh-wide");
  if (problem) classes.push("invalid");
  return (
    <div class={classes.join(" ")}>
      <label for={inputId}>{label}</label>
      {control}
      <div id={about}>
        {problem && <p class="field-error">{problem}</p>}
        {hint && <p class="muted pbh-hint">{hint}</p>}
      </div>
    </div>
  );
}
