// One entity: what it is, what it depends on and what depends on it, its open alarm, the
// planned maintenance it is in now, enable/disable (admin only), and its metrics.
import { useState } from "preact/hooks";
import { put, segment } from "../api.js";
import { ErrorText, Loading, StateBadge, StatusBadge } from "../components.jsx";
import { formatTime } from "../format.js";
import { Link } from "../router.js";
import { useSession } from "../session.js";
import { alarmHref, EntityFacts, entityHref, Missing, usePolled } from "./alarm.jsx";
import { Metrics } from "./chart.jsx";
import "./entities.css";

// The entity with its open alarm is asked for again this often (a 304 when unchanged).
const REFRESH_MS = 5000;

export function EntityPage({ id }) {
  const { data: entity, error } = usePolled(id ? `/entities/${segment(id)}` : null, REFRESH_MS);
  const [changed, setChanged] = useState(null);
  if (!id) return <Missing what="entity" />;
  if (!entity) {
    return (
      <main>
        <h1>Entity</h1>
        {error ? <ErrorText error={error} /> : <Loading />}
      </main>
    );
  }
  // What the PUT answered is newer than the last poll until the poll catches up.
  const shown = changed && changed._id === entity._id ? { ...entity, ...changed } : entity;
  return (
    <main class="entity-page">
      <h1>
        <span class="muted">{shown.type}</span> <span class="entity-id">{shown._id}</span>
      </h1>
      {error && <ErrorText error={error} />}
      <div class="columns">
        <div>
          <section class="panel" aria-label="information">
            <h2>Information</h2>
            <EntityFacts entity={shown} />
            <EnableControl entity={shown} onChanged={setChanged} />
          </section>
          <Relations entity={shown} />
        </div>
        <div>
          <CurrentAlarm alarm={shown.alarm} />
          <Maintenance pbehavior={shown.pbehavior} alarm={shown.alarm} />
        </div>
      </div>
      <Metrics entityId={shown._id} initial="hour" />
    </main>
  );
}

// Enable or disable the entity: for admins only (nobody else sees the control).
function EnableControl({ entity, onChanged }) {
  const { can } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  if (!can("admin")) return null;
  const enabled = entity.enabled !== false;
  const toggle = async () => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const updated = await put(`/entities/${segment(entity._id)}`, { enabled: !enabled });
      onChanged({ _id: updated._id, enabled: updated.enabled });
      setDone(updated.enabled ? "Enabled." : "Disabled: its events are dropped.");
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="entity-actions">
      <button type="button" disabled={busy} onClick={toggle}>
        {enabled ? "Disable" : "Enable"}
      </button>
      {done && (
        <span role="status" class="muted">
          {done}
        </span>
      )}
      <ErrorText error={error} />
    </div>
  );
}

function Relations({ entity }) {
  return (
    <section class="panel" aria-label="relations">
      <h2>Depends on</h2>
      <EntityLinks ids={entity.depends} none="Nothing." label="depends on" />
      <h2>Impacts</h2>
      <EntityLinks ids={entity.impact} none="Nothing depends on it." label="impacts" />
    </section>
  );
}

function EntityLinks({ ids, none, label }) {
  if (!ids || ids.length === 0) return <p class="muted">{none}</p>;
  return (
    <ul class="links" aria-label={label}>
      {ids.map((id) => (
        <li key={id}>
          <Link href={entityHref(id)}>{id}</Link>
        </li>
      ))}
    </ul>
  );
}

function CurrentAlarm({ alarm }) {
  return (
    <section class="panel" aria-label="current alarm">
      <h2>Current alarm</h2>
      {!alarm && <p class="muted">No open alarm.</p>}
      {alarm && (
        <>
          <p>
            <StateBadge value={alarm.state.val} /> <StatusBadge value={alarm.status.val} />{" "}
            <Link href={alarmHref(alarm._id)} class="alarm-link">
              the alarm since {formatTime(alarm.creation_date)}
            </Link>
          </p>
          <p class="output">{alarm.output}</p>
          <p class="badges">
            {alarm.ack && <span class="badge">acked by {alarm.ack.a}</span>}
            {alarm.snooze && (
              <span class="badge">snoozed until {formatTime(alarm.snooze.val)}</span>
            )}
            {alarm.ticket && <span class="badge">ticket {alarm.ticket.val || "declared"}</span>}
          </p>
        </>
      )}
    </section>
  );
}

// The pbehavior the entity is in now (the API answers that one; it offers no way to ask
// which pbehaviors will cover the entity later).
function Maintenance({ pbehavior, alarm }) {
  const since = alarm && alarm.pbehavior ? alarm.pbehavior.since : null;
  return (
    <section class="panel" aria-label="planned maintenance">
      <h2>Planned maintenance</h2>
      {!pbehavior && <p class="muted">Not in a pbehavior now.</p>}
      {pbehavior && (
        <dl class="facts">
          <dt>Name</dt>
          <dd>{pbehavior.name}</dd>
          <dt>Type</dt>
          <dd>{pbehavior.type}</dd>
          <dt>Reason</dt>
          <dd>{pbehavior.reason}</dd>
          <dt>By</dt>
          <dd>{pbehavior.author}</dd>
          {since && (
            <>
              <dt>Alarm in it since</dt>
              <dd>{formatTime(since)}</dd>
            </>
          )}
        </dl>
      )}
    </section>
  );
}
