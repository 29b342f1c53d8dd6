// The alarm list's view: the filters, sort and page the URL holds, the counts by state
// (each a filter) and the filter form.
import { useEffect, useState } from "preact/hooks";
import { withQuery } from "../api.js";
import { STATES, STATUSES } from "../format.js";
import { BASE, Link } from "../router.js";

// The filters of GET /api/v2/alarms (and /alarms/counts), kept in the URL as they are.
const FILTERS = [
  "opened",
  "state",
  "status",
  "acked",
  "snoozed",
  "in_maintenance",
  "entity_disabled",
  "component",
  "resource",
  "connector",
  "connector_name",
  "tags",
  "search",
  "from",
  "to",
];
// The filters typed as text, applied together when the filter form is sent.
const TEXTS = ["search", "connector", "component", "resource", "connector_name", "tags"];
// The filters folded under "More filters".
const MORE = ["component", "resource", "connector_name", "tags", "entity_disabled", "from", "to"];
const DEFAULT_SORT = "last_update_date";
// "Problems" as the counts define them: not OK, not cancelled, not in a pbehavior.
const PROBLEMS = { state: "1,2,3", status: "0,1,2,3", in_maintenance: "false" };

// The view the URL asks for: {filters, sort, direction, page}.
export function readView(params) {
  const filters = {};
  for (const name of FILTERS) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  const page = Number.parseInt(params.get("page") || "1", 10);
  return {
    filters,
    sort: params.get("sort") || DEFAULT_SORT,
    direction: params.get("direction") === "asc" ? "asc" : "desc",
    page: page > 0 ? page : 1,
  };
}

// The console URL of `view` (defaults left out, so the plain list is /console/).
export function viewUrl({ filters, sort, direction, page }) {
  const sorted = sort !== DEFAULT_SORT || direction !== "desc";
  return withQuery(`${BASE}/`, {
    ...filters,
    sort: sorted ? sort : undefined,
    direction: sorted ? direction : undefined,
    page: page > 1 ? page : undefined,
  });
}

// `view` with the filters of `changes` set (an empty value removes one), on page 1.
export function filtered(view, changes) {
  const filters = { ...view.filters };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined || value === null || value === "") delete filters[name];
    else filters[name] = String(value);
  }
  return { ...view, filters, page: 1 };
}

// The counts by state and the problems, each a filter of the list.
export function Counts({ counts, view, go }) {
  if (!counts) return <div class="counts" />;
  const active = (changes) =>
    Object.entries(changes).every(([name, value]) => view.filters[name] === value);
  const pick = (changes) =>
    go(
      active(changes)
        ? filtered(view, Object.fromEntries(Object.keys(changes).map((k) => [k, ""])))
        : filtered(view, changes),
    );
  return (
    <div class="counts" aria-label="counts">
      {STATES.map((name, value) => (
        <button
          type="button"
          key={name}
          class={`count count-state state-${value}`}
          aria-pressed={active({ state: String(value) })}
          onClick={() => pick({ state: String(value) })}
        >
          <span class="count-name">{name}</span>{" "}
          <span class="count-value">{counts.by_state[String(value)]}</span>
        </button>
      ))}
      <button
        type="button"
        class="count count-problems"
        aria-pressed={active(PROBLEMS)}
        onClick={() => pick(PROBLEMS)}
      >
        <span class="count-name">problems</span>{" "}
        <span class="count-value">{counts.problems}</span>
      </button>
      <span class="muted count-total">
        {counts.total} in all, {counts.in_pbehavior} in maintenance
      </span>
    </div>
  );
}

const YES_NO = [
  ["", "any"],
  ["true", "yes"],
  ["false", "no"],
];

// The filters: lists and yes/no choices apply at once; texts when Enter is pressed.
export function Filters({ view, go, search }) {
  const { filters } = view;
  const set = (name) => (event) => go(filtered(view, { [name]: event.currentTarget.value }));
  const chosen = (name) => new Set((filters[name] || "").split(",").filter(Boolean));
  const flip = (name, value) => {
    const values = chosen(name);
    if (!values.delete(String(value))) values.add(String(value));
    go(filtered(view, { [name]: [...values].sort().join(",") }));
  };
  const [texts, setTexts] = useState({});
  // Texts typed but not applied are dropped when the URL changes (back button).
  useEffect(() => setTexts({}), [...TEXTS.map((name) => filters[name])]);
  const text = (name) => texts[name] ?? filters[name] ?? "";
  const typed = (name) => (event) => {
    const value = event.currentTarget.value;
    setTexts((old) => ({ ...old, [name]: value }));
  };
  const apply = (event) => {
    event.preventDefault();
    go(filtered(view, Object.fromEntries(TEXTS.map((name) => [name, text(name)]))));
  };
  return (
    <form class="filters panel" onSubmit={apply} aria-label="filters">
      <input
        type="search"
        ref={search}
        aria-label="Search"
        placeholder="Search component, resource, output (/)"
        value={text("search")}
        onInput={typed("search")}
      />
      <input
        aria-label="Connector"
        placeholder="Connector"
        size="12"
        value={text("connector")}
        onInput={typed("connector")}
      />
      <button type="submit">Filter</button>
      <fieldset>
        <legend>State</legend>
        {STATES.map((name, value) => (
          <label key={name}>
            <input
              type="checkbox"
              checked={chosen("state").has(String(value))}
              onChange={() => flip("state", value)}
            />{" "}
            {name}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Status</legend>
        {STATUSES.map((name, value) => (
          <label key={name}>
            <input
              type="checkbox"
              checked={chosen("status").has(String(value))}
              onChange={() => flip("status", value)}
            />{" "}
            {name}
          </label>
        ))}
      </fieldset>
      <label>
        Alarms{" "}
        <select value={filters.opened === "false" ? "false" : ""} onChange={set("opened")}>
          <option value="">open</option>
          <option value="false">resolved</option>
        </select>
      </label>
      {[
        ["acked", "Acked"],
        ["snoozed", "Snoozed"],
        ["in_maintenance", "In maintenance"],
      ].map(([name, label]) => (
        <label key={name}>
          {label}{" "}
          <select value={filters[name] || ""} onChange={set(name)}>
            {YES_NO.map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </label>
      ))}
      <MoreFilters filters={filters} text={text} typed={typed} set={set} view={view} go={go} />
      {Object.keys(filters).length > 0 && (
        <Link href={viewUrl({ ...view, filters: {}, page: 1 })} class="clear">
          Clear filters
        </Link>
      )}
    </form>
  );
}

// The filters less often used, folded unless one of them is set.
function MoreFilters({ filters, text, typed, set, view, go }) {
  const used = MORE.some((name) => filters[name]);
  const when = (name) => (event) => go(filtered(view, { [name]: epochOf(event.currentTarget.value) }));
  return (
    <details class="more-filters" open={used}>
      <summary>More filters</summary>
      {[
        ["component", "Component (exact)"],
        ["resource", "Resource (exact)"],
        ["connector_name", "Connector name"],
        ["tags", "Tags (comma list)"],
      ].map(([name, label]) => (
        <label key={name}>
          {label} <input size="14" value={text(name)} onInput={typed(name)} />
        </label>
      ))}
      <label>
        Entity disabled{" "}
        <select value={filters.entity_disabled || ""} onChange={set("entity_disabled")}>
          {YES_NO.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Updated from{" "}
        <input type="datetime-local" value={localTime(filters.from)} onChange={when("from")} />
      </label>
      <label>
        to <input type="datetime-local" value={localTime(filters.to)} onChange={when("to")} />
      </label>
    </details>
  );
}

const pad = (n) => String(n).padStart(2, "0");

// An epoch (seconds, as text) as the value of a datetime-local input, in local time.
function localTime(epoch) {
  if (!epoch) return "";
  const d = new Date(Number(epoch) * 1000);
  if (Number.isNaN(d.getTime())) return "";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

// The value of a datetime-local input (local time) as epoch seconds; "" when empty.
function epochOf(value) {
  const ms = value ? new Date(value).getTime() : Number.NaN;
  return Number.isNaN(ms) ? "" : String(Math.floor(ms / 1000));
}
