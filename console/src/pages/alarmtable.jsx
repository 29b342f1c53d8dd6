// The alarm list's table: sortable headers, one row per alarm with its badges, its
// selection box and its actions menu (operators and admins).
import { StateBadge, StatusBadge } from "../components.jsx";
import { age, formatTime } from "../format.js";
import { BASE, Link } from "../router.js";
import { ActionControls } from "./alarmactions.jsx";

export const alarmHref = (id) => `${BASE}/alarm?id=${encodeURIComponent(id)}`;

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

export function AlarmTable(props) {
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
