// One alarm: what it is now, the timeline of its steps (who, what, when, message), its
// entity with a link to the entity's page and its history, and the entity's metrics.
// The alarm is asked for again every few seconds (a conditional request: unchanged, it
// costs a 304), so an action taken elsewhere shows here once the engines applied it.
import { useEffect, useState } from "preact/hooks";
import { get, request, segment, withQuery } from "../api.js";
import { ErrorText, Loading, Pager, StateBadge, StatusBadge } from "../components.jsx";
import { formatTime, stateName, statusName } from "../format.js";
import { BASE, Link } from "../router.js";
import { Metrics } from "./chart.jsx";
import "./entities.css";

const REFRESH_MS = 2000;
const HISTORY_LIMIT = 20;

export const entityHref = (id) => `${BASE}/entity?id=${encodeURIComponent(id)}`;
export const alarmHref = (id) => `${BASE}/alarm?id=${encodeURIComponent(id)}`;

// `path` asked for every `every` ms with the ETag of the copy held: {data, error}.
export function usePolled(path, every = REFRESH_MS) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    if (!path) return undefined;
    let etag = null;
    let timer = null;
    let stopped = false;
    const controller = new AbortController();
    setState({ data: null, error: null });
    const load = async () => {
      try {
        const answer = await request("GET", path, { etag, signal: controller.signal });
        if (answer.status !== 304) {
          etag = answer.etag;
          setState({ data: answer.data, error: null });
        }
      } catch (error) {
        if (error.name === "AbortError") return;
        setState((old) => ({ data: old.data, error }));
      }
      if (!stopped) timer = setTimeout(load, every);
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
    };
  }, [path, every]);
  return state;
}

// What a step did, in words.
export function stepText(step) {
  const val = step.val;
  switch (step._t) {
    case "stateinc":
      return `state increased to ${stateName(val)}`;
    case "statedec":
      return `state decreased to ${stateName(val)}`;
    case "changestate":
      return `state changed to ${stateName(val)} (locked)`;
    case "statusinc":
    case "statusdec":
      return `status changed to ${statusName(val)}`;
    case "ack":
      return "acknowledged";
    case "ackremove":
      return "acknowledgement removed";
    case "snooze":
      return `snoozed until ${formatTime(val)}`;
    case "cancel":
      return "cancelled";
    case "uncancel":
      return "cancellation undone";
    case "declareticket":
      return val ? `ticket ${val} declared` : "ticket declared";
    case "assocticket":
      return `ticket ${val} associated`;
    case "comment":
      return "comment";
    case "pbhenter":
      return "entered planned maintenance";
    case "pbhleave":
      return "left planned maintenance";
    case "hardlimit":
      return "step limit reached";
    default:
      return step._t;
  }
}

export function AlarmDetail({ id }) {
  const { data: alarm, error } = usePolled(id ? `/alarms/${segment(id)}` : null);
  if (!id) return <Missing what="alarm" />;
  if (!alarm) {
    return (
      <main>
        <h1>Alarm</h1>
        {error ? <ErrorText error={error} /> : <Loading />}
      </main>
    );
  }
  return (
    <main class="alarm-detail">
      <AlarmHeader alarm={alarm} />
      {error && <ErrorText error={error} />}
      <div class="columns">
        <Timeline steps={alarm.steps || []} />
        <div>
          <EntityInfo entityId={alarm.entity_id} />
          <History alarmId={alarm._id} />
        </div>
      </div>
      <Metrics entityId={alarm.entity_id} initial="day" />
    </main>
  );
}

export function Missing({ what }) {
  return (
    <main>
      <h1>No {what} named</h1>
      <p>
        The address names no {what}. <Link href={`${BASE}/`}>The alarm list</Link>
      </p>
    </main>
  );
}

function AlarmHeader({ alarm }) {
  const where = [alarm.component, alarm.resource].filter(Boolean).join(" / ");
  return (
    <section class="panel alarm-header" aria-label="alarm">
      <h1>
        <StateBadge value={alarm.state.val} /> <StatusBadge value={alarm.status.val} />{" "}
        <span class="alarm-where">{where}</span>
      </h1>
      <p class="badges">
        {alarm.resolved && <span class="badge">resolved {formatTime(alarm.resolved)}</span>}
        {alarm.ack && <span class="badge">acked by {alarm.ack.a}</span>}
        {alarm.snooze && <span class="badge">snoozed until {formatTime(alarm.snooze.val)}</span>}
        {alarm.ticket && <span class="badge">ticket {alarm.ticket.val || "declared"}</span>}
        {alarm.pbehavior && (
          <span class="badge">
            {alarm.pbehavior.type}: {alarm.pbehavior.name}
          </span>
        )}
        {alarm.entity_disabled && <span class="badge">entity disabled</span>}
      </p>
      <dl class="facts">
        <dt>Component</dt>
        <dd>{alarm.component}</dd>
        <dt>Resource</dt>
        <dd>{alarm.resource || <span class="muted">none</span>}</dd>
        <dt>Connector</dt>
        <dd>
          {alarm.connector} / {alarm.connector_name}
        </dd>
        <dt>Output</dt>
        <dd class="output">{alarm.output}</dd>
        {alarm.long_output && (
          <>
            <dt>Long output</dt>
            <dd class="output">{alarm.long_output}</dd>
          </>
        )}
        <dt>Opened</dt>
        <dd>{formatTime(alarm.creation_date)}</dd>
        <dt>Last update</dt>
        <dd>{formatTime(alarm.last_update_date)}</dd>
        <dt>Last event</dt>
        <dd>
          {formatTime(alarm.last_event_date)} ({alarm.events_count} events)
        </dd>
        {alarm.tags && alarm.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>
              {alarm.tags.map((tag) => (
                <span class="badge" key={tag}>
                  {tag}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

// The steps, newest first (the latest is what an operator looks for).
function Timeline({ steps }) {
  const newestFirst = steps.map((step, i) => ({ step, i })).reverse();
  return (
    <section class="panel" aria-label="timeline">
      <h2>Timeline</h2>
      {steps.length === 0 && <p class="muted">No steps.</p>}
      <ol class="timeline">
        {newestFirst.map(({ step, i }) => (
          <li key={i} class={`step step-${step._t}`}>
            <time>{formatTime(step.t)}</time>
            <span class="step-what">{stepText(step)}</span>
            <span class="step-who">by {step.a}</span>
            {step.m && <div class="step-message output">{step.m}</div>}
          </li>
        ))}
      </ol>
    </section>
  );
}

// The alarm's entity: its type, whether it is enabled, its infos, and its page.
function EntityInfo({ entityId }) {
  const [entity, setEntity] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setEntity(null);
    setError(null);
    get(`/entities/${segment(entityId)}`).then(setEntity).catch(setError);
  }, [entityId]);
  return (
    <section class="panel" aria-label="entity">
      <h2>Entity</h2>
      <p>
        <Link href={entityHref(entityId)} class="entity-link">
          {entityId}
        </Link>
      </p>
      <ErrorText error={error} />
      {entity && <EntityFacts entity={entity} />}
    </section>
  );
}

// What an entity is: type, enabled, when seen, and its infos (each as text).
export function EntityFacts({ entity }) {
  const infos = Object.entries(entity.infos || {});
  return (
    <dl class="facts">
      <dt>Name</dt>
      <dd>{entity.name}</dd>
      <dt>Type</dt>
      <dd>{entity.type}</dd>
      <dt>Enabled</dt>
      <dd class="entity-enabled">{entity.enabled === false ? "no (disabled)" : "yes"}</dd>
      {entity.component && (
        <>
          <dt>Component</dt>
          <dd>
            <Link href={entityHref(entity.component)}>{entity.component}</Link>
          </dd>
        </>
      )}
      {entity.connector && (
        <>
          <dt>Connector</dt>
          <dd>{entity.connector}</dd>
        </>
      )}
      {entity.first_seen !== undefined && (
        <>
          <dt>First seen</dt>
          <dd>{formatTime(entity.first_seen)}</dd>
        </>
      )}
      {entity.last_seen !== undefined && (
        <>
          <dt>Last seen</dt>
          <dd>{formatTime(entity.last_seen)}</dd>
        </>
      )}
      {infos.map(([name, value]) => (
        <InfoFact key={name} name={name} value={value} />
      ))}
    </dl>
  );
}

function InfoFact({ name, value }) {
  const shown = value && typeof value === "object" && "value" in value ? value.value : value;
  return (
    <>
      <dt>{name}</dt>
      <dd>{typeof shown === "string" ? shown : JSON.stringify(shown)}</dd>
    </>
  );
}

// The history of the alarm's entity (GET /alarms/{id}/history), shown on demand, paged.
function History({ alarmId }) {
  const [shown, setShown] = useState(false);
  return (
    <section class="panel" aria-label="history">
      <h2>History</h2>
      <button type="button" aria-expanded={shown} onClick={() => setShown(!shown)}>
        {shown ? "Hide the entity's history" : "Show the entity's history"}
      </button>
      {shown && <HistoryPages alarmId={alarmId} />}
    </section>
  );
}

function HistoryPages({ alarmId }) {
  const [page, setPage] = useState(1);
  const [body, setBody] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    const path = withQuery(`/alarms/${segment(alarmId)}/history`, {
      page,
      limit: HISTORY_LIMIT,
    });
    get(path).then(setBody).catch(setError);
  }, [alarmId, page]);
  if (error) return <ErrorText error={error} />;
  if (!body) return <Loading />;
  return (
    <>
      <table class="list history">
        <thead>
          <tr>
            <th>When</th>
            <th>Event</th>
            <th>State</th>
            <th>Who</th>
            <th>Output</th>
          </tr>
        </thead>
        <tbody>
          {body.items.map((entry) => (
            <tr key={entry._id}>
              <td>{formatTime(Date.parse(entry.t) / 1000)}</td>
              <td>{entry.event_type}</td>
              <td>{entry.state === undefined ? "" : <StateBadge value={entry.state} />}</td>
              <td>{entry.author || `${entry.connector}.${entry.connector_name}`}</td>
              <td class="output">{entry.output}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {body.items.length === 0 && <p class="muted">Nothing kept.</p>}
      <Pager page={body.page} limit={body.limit} total={body.total} go={setPage} />
    </>
  );
}
