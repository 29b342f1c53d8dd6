// The alarm list, the console's home page: the counts by state on top (each a filter),
// the filters, the alarms of one page, live, and (operators and admins) the actions on one
// alarm or on a selection. The URL holds the filters, the sort and the page, so a view can
// be bookmarked and the back button works: everything is read from `params`.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, withQuery } from "../api.js";
import { ErrorText, Loading, Pager, StateBadge, StatusBadge } from "../components.jsx";
import { STATES, STATUSES, age, formatTime } from "../format.js";
import { BASE, Link, navigate } from "../router.js";
import { useSession } from "../session.js";
import { useShortcuts } from "../shortcuts.js";
import { ActionControls, ActionNotices, useActions } from "./alarmactions.jsx";
import { useLiveAlarms } from "./alarmlive.js";
import "./alarms.css";

const LIMIT = 50;
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
function readView(params) {
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
function viewUrl({ filters, sort, direction, page }) {
  const sorted = sort !== DEFAULT_SORT || direction !== "desc";
  return withQuery(`${BASE}/`, {
    ...filters,
    sort: sorted ? sort : undefined,
    direction: sorted ? direction : undefined,
    page: page > 1 ? page : undefined,
  });
}

// `view` with the filters of `changes` set (an empty value removes one), on page 1.
function filtered(view, changes) {
  const filters = { ...view.filters };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined || value === null || value === "") delete filters[name];
    else filters[name] = String(value);
  }
  return { ...view, filters, page: 1 };
}

const alarmHref = (id) => `${BASE}/alarm?id=${encodeURIComponent(id)}`;

export function AlarmList({ params }) {
  const view = readView(params);
  const { can } = useSession();
  // Resolved alarms take no action (the API acts on open ones only).
  const canAct = can("operator") && view.filters.opened !== "false";
  const listPath = withQuery("/alarms", {
    ...view.filters,
    sort: view.sort,
    direction: view.direction,
    page: view.page,
    limit: LIMIT,
  });
  // The counts leave the state filter out, so every state's count stays there to click.
  const countFilters = { ...view.filters };
  delete countFilters.state;
  const countsPath = withQuery("/alarms/counts", countFilters);
  const live = useLiveAlarms(listPath, countsPath);
  const rows = live.list?.items ?? null;
  const go = (next) => navigate(viewUrl(next));

  const [selected, setSelected] = useState(() => new Set());
  const [focused, setFocused] = useState(null);
  const [menuFor, setMenuFor] = useState(null);
  const actions = useActions(rows);
  const search = useRef(null);

  const toggle = (id) =>
    setSelected((old) => {
      const next = new Set(old);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  useAlarmShortcuts({ rows, focused, setFocused, selected, toggle, canAct, actions, search });
  const closeMenu = { key: "Escape", what: "close the actions menu", run: () => setMenuFor(null) };
  useShortcuts(canAct ? [closeMenu] : [], [canAct]);

  const shown = rows ?? [];
  const chosen = shown.filter((a) => selected.has(a._id)).map((a) => a._id);
  return (
    <main class="alarm-list">
      <Counts counts={live.counts} view={view} go={go} />
      <Filters view={view} go={go} search={search} />
      {canAct && (
        <BulkBar
          chosen={chosen}
          rows={shown}
          actions={actions}
          clear={() => setSelected(new Set())}
        />
      )}
      <ActionNotices notices={actions.notices} dismiss={actions.dismiss} />
      {live.error instanceof ApiError && (
        <>
          <ErrorText error={live.error} />
          {view.page > 1 && <Link href={viewUrl({ ...view, page: 1 })}>Back to the first page</Link>}
        </>
      )}
      {rows === null && !live.error && <Loading />}
      {rows !== null && (
        <>
          <AlarmTable
            rows={rows}
            view={view}
            go={go}
            live={live}
            canAct={canAct}
            selected={selected}
            toggle={toggle}
            setAll={(on) => setSelected(new Set(on ? rows.map((a) => a._id) : []))}
            focused={focused}
            setFocused={setFocused}
            menuFor={menuFor}
            setMenuFor={setMenuFor}
            actions={actions}
          />
          <Pager
            page={view.page}
            limit={LIMIT}
            total={live.list.total}
            go={(page) => go({ ...view, page })}
          />
        </>
      )}
    </main>
  );
}

// j/k and the arrows move the focused row, x and Space select it, a acks the selection
// (or the focused row), Enter opens the focused alarm, / goes to the search box. The run
// functions read the current page through a ref: the shortcuts are declared once.
function useAlarmShortcuts(page) {
  const current = useRef(page);
  current.current = page;
  const move = (step) => {
    const { rows, focused, setFocused } = current.current;
    if (!rows || rows.length === 0) return;
    const at = rows.findIndex((a) => a._id === focused);
    const next = at < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, at + step));
    setFocused(rows[next]._id);
  };
  const focusedRow = () => {
    const { rows, focused } = current.current;
    return rows?.find((a) => a._id === focused);
  };
  const select = () => {
    const row = focusedRow();
    if (row && current.current.canAct) current.current.toggle(row._id);
  };
  const ack = () => {
    const { rows, selected, actions } = current.current;
    const chosen = (rows ?? []).filter((a) => selected.has(a._id));
    const targets = chosen.length > 0 ? chosen : [focusedRow()].filter(Boolean);
    if (targets.length > 0) {
      actions.send(
        "ack",
        targets.map((a) => a._id),
        {},
        targets,
      );
    }
  };
  const list = [
    { key: "j", what: "next alarm", run: () => move(1) },
    { key: "ArrowDown", what: "next alarm", run: () => move(1) },
    { key: "k", what: "previous alarm", run: () => move(-1) },
    { key: "ArrowUp", what: "previous alarm", run: () => move(-1) },
    {
      key: "Enter",
      what: "open the alarm",
      run: () => {
        const row = focusedRow();
        if (row) navigate(alarmHref(row._id));
      },
    },
    { key: "/", what: "search", run: () => current.current.search.current?.focus() },
  ];
  if (page.canAct) {
    list.push(
      { key: "x", what: "select the alarm", run: select },
      { key: " ", what: "select the alarm", run: select },
      { key: "a", what: "ack the selected alarms (or the focused one)", run: ack },
    );
  }
  useShortcuts(list, [page.canAct]);

  // The focused row stays in sight.
  useEffect(() => {
    if (!page.focused) return;
    const row = document.querySelector(`tr[data-id="${CSS.escape(page.focused)}"]`);
    row?.scrollIntoView({ block: "nearest" });
  }, [page.focused]);
}

// The counts by state and the problems, each a filter of the list.
function Counts({ counts, view, go }) {
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
function Filters({ view, go, search }) {
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

function BulkBar({ chosen, rows, actions, clear }) {
  if (chosen.length === 0) return null;
  return (
    <section class="bulk panel" aria-label="selection">
      <span>
        {chosen.length} selected{" "}
        <button type="button" onClick={clear}>
          Clear selection
        </button>
      </span>
      <ActionControls ids={chosen} rows={rows} send={actions.send} onSent={clear} />
    </section>
  );
}

// The sortable columns: header text, the API's sort, the direction a first click asks.
const COLUMNS = {
  state: ["State", "desc"],
  component: ["Component", "asc"],
  resource: ["Resource", "asc"],
  creation_date: ["Age", "asc"],
  last_update_date: ["Last update", "desc"],
};

function SortHeader({ sort, view, go, wide }) {
  const [label, first] = COLUMNS[sort];
  const on = view.sort === sort;
  const direction = on ? (view.direction === "asc" ? "desc" : "asc") : first;
  const arrow = on ? (view.direction === "asc" ? " ▲" : " ▼") : "";
  return (
    <th
      class={wide ? "wide" : undefined}
      aria-sort={on ? (view.direction === "asc" ? "ascending" : "descending") : undefined}
    >
      <button type="button" class="sort" onClick={() => go({ ...view, sort, direction, page: 1 })}>
        {label}
        {arrow}
      </button>
    </th>
  );
}

function AlarmTable(props) {
  const { rows, view, go, canAct, selected, setAll } = props;
  if (rows.length === 0) return <p class="muted empty">No alarm matches.</p>;
  const all = rows.every((a) => selected.has(a._id));
  return (
    <table class="list alarms">
      <thead>
        <tr>
          {canAct && (
            <th class="pick">
              <input
                type="checkbox"
                aria-label="select all shown"
                checked={all}
                onChange={() => setAll(!all)}
              />
            </th>
          )}
          <SortHeader sort="state" view={view} go={go} />
          <SortHeader sort="component" view={view} go={go} />
          <SortHeader sort="resource" view={view} go={go} />
          <th>Output</th>
          <th>Flags</th>
          <SortHeader sort="creation_date" view={view} go={go} />
          <th class="wide">Status</th>
          <th class="wide">Connector</th>
          <SortHeader sort="last_update_date" view={view} go={go} wide />
          {canAct && <th class="wide">Actions</th>}
        </tr>
      </thead>
      <tbody>
        {rows.map((alarm) => (
          <AlarmRow key={alarm._id} alarm={alarm} {...props} />
        ))}
      </tbody>
    </table>
  );
}

function AlarmRow({ alarm, live, canAct, selected, toggle, focused, setFocused, ...props }) {
  const { menuFor, setMenuFor, actions, rows } = props;
  const id = alarm._id;
  const classes = [
    live.flash.has(id) && "changed",
    focused === id && "focused",
    selected.has(id) && "selected",
  ].filter(Boolean);
  const where = alarm.resource ? `${alarm.component}/${alarm.resource}` : alarm.component;
  const open = menuFor === id;
  return (
    <tr data-id={id} class={classes.join(" ") || undefined} onClick={() => setFocused(id)}>
      {canAct && (
        <td class="pick">
          <input
            type="checkbox"
            aria-label={`select ${where}`}
            checked={selected.has(id)}
            onChange={() => toggle(id)}
          />
        </td>
      )}
      <td>
        <StateBadge value={alarm.state?.val} />
      </td>
      <td class="component">
        <Link href={alarmHref(id)}>{alarm.component}</Link>
      </td>
      <td class="resource">{alarm.resource && <Link href={alarmHref(id)}>{alarm.resource}</Link>}</td>
      <td class="output">{alarm.output}</td>
      <td class="flags">
        <Flags alarm={alarm} />
      </td>
      <td class="age" title={`since ${formatTime(alarm.creation_date)}`}>
        {age(alarm.creation_date, live.now)}
      </td>
      <td class="wide">
        <StatusBadge value={alarm.status?.val} />
      </td>
      <td class="wide connector">
        {alarm.connector}/{alarm.connector_name}
      </td>
      <td class="wide when">{formatTime(alarm.last_update_date)}</td>
      {canAct && (
        <td class="wide row-actions">
          <button
            type="button"
            aria-expanded={open}
            aria-label={`actions for ${where}`}
            onClick={() => setMenuFor(open ? null : id)}
          >
            Actions ▾
          </button>
          {open && (
            <div class="row-menu" role="group" aria-label={`actions on ${where}`}>
              <ActionControls
                ids={[id]}
                rows={rows}
                send={actions.send}
                onSent={() => setMenuFor(null)}
              />
            </div>
          )}
        </td>
      )}
    </tr>
  );
}

// The badges of what operators and planned maintenance did to the alarm.
function Flags({ alarm }) {
  const ticket = alarm.ticket && (alarm.ticket.val ? `ticket ${alarm.ticket.val}` : "ticket");
  return (
    <>
      {alarm.ack && (
        <span class="badge badge-ack" title={`acked at ${formatTime(alarm.ack.t)}`}>
          acked by {alarm.ack.a}
        </span>
      )}
      {alarm.snooze && (
        <span class="badge badge-snooze">snoozed until {formatTime(alarm.snooze.val)}</span>
      )}
      {ticket && <span class="badge badge-ticket">{ticket}</span>}
      {alarm.pbehavior && (
        <span class="badge badge-pbehavior" title={alarm.pbehavior.reason || undefined}>
          maintenance: {alarm.pbehavior.name || alarm.pbehavior.type}
        </span>
      )}
      {alarm.entity_disabled && <span class="badge badge-disabled">entity disabled</span>}
      {alarm.resolved && (
        <span class="badge badge-resolved">resolved {formatTime(alarm.resolved)}</span>
      )}
    </>
  );
}
