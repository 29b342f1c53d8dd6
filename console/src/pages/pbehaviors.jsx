// Planned maintenance: the pbehaviors as a list (with the next period of each) and on a
// week or month calendar of their periods in the viewer's time zone; create, edit and
// delete for admins (nobody else sees a control).
import { useEffect, useState } from "preact/hooks";
import { get, segment } from "../api.js";
import { ErrorText, Loading } from "../components.jsx";
import { formatTime } from "../format.js";
import { useSession } from "../session.js";
import { useShortcuts } from "../shortcuts.js";
import { Confirm, remove } from "./adminkit.jsx";
import { Calendar } from "./pbhcalendar.jsx";
import { PbehaviorForm } from "./pbhform.jsx";
import { useNextPeriods } from "./pbhperiods.js";
import "./pbehaviors.css";

// The pbehaviors: {items, error, version, reload()}; `version` counts the reloads.
function usePbehaviors() {
  const [state, setState] = useState({ items: null, error: null });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    get("/pbehaviors")
      .then((answer) => current && setState({ items: answer.items, error: null }))
      .catch((error) => current && setState((old) => ({ ...old, error })));
    return () => {
      current = false;
    };
  }, [version]);
  return { ...state, version, reload: () => setVersion((v) => v + 1) };
}

export function Pbehaviors({ params }) {
  const { can } = useSession();
  const admin = can("admin");
  const list = usePbehaviors();
  const next = useNextPeriods(list.items, list.version);
  // null: no form; {editing: a stored pbehavior, or null for a new one}
  const [form, setShownForm] = useState(null);
  const [notice, setNotice] = useState(null);
  const [failure, setFailure] = useState(null);
  const setForm = (shown) => {
    setShownForm(shown);
    if (shown) setNotice(null);
  };
  useShortcuts(
    admin ? [{ key: "n", what: "new maintenance", run: () => setForm({ editing: null }) }] : [],
    [admin],
  );

  if (!list.items) {
    return (
      <main>
        <h1>Planned maintenance</h1>
        {list.error ? <ErrorText error={list.error} /> : <Loading />}
      </main>
    );
  }
  // The form stays open on the saved pbehavior: its preview of the next periods shows.
  const saved = (doc) => {
    setShownForm({ editing: doc });
    setNotice(`Saved ${doc.name}.`);
    list.reload();
  };
  const deleteOne = async (doc) => {
    setFailure(null);
    try {
      await remove(`/pbehaviors/${segment(doc._id)}`);
    } catch (error) {
      setFailure(error);
      return;
    }
    if (form?.editing?._id === doc._id) setShownForm(null);
    setNotice(`Deleted ${doc.name}.`);
    list.reload();
  };
  return (
    <main class="pbehaviors">
      <div class="pbh-head">
        <h1>Planned maintenance</h1>
        <span class="muted">
          {list.items.length} {list.items.length === 1 ? "pbehavior" : "pbehaviors"}
        </span>
        {admin && !form && (
          <button type="button" class="primary" onClick={() => setForm({ editing: null })}>
            New maintenance
          </button>
        )}
      </div>
      <p class="muted">
        A pbehavior puts the entities its filter matches in maintenance, pause or inactive
        during its periods: their alarms stay listed, flagged, and out of the problems.
      </p>
      {notice && (
        <p role="status" class="pbh-notice">
          {notice}
        </p>
      )}
      <ErrorText error={list.error || failure} />
      {form && (
        <PbehaviorForm
          key={form.editing?._id ?? "new"}
          editing={form.editing}
          onSaved={saved}
          onClose={() => setForm(null)}
        />
      )}
      <PbehaviorTable
        items={list.items}
        next={next}
        actions={admin && { edit: (doc) => setForm({ editing: doc }), deleteOne }}
      />
      <Calendar items={list.items} version={list.version} params={params} />
    </main>
  );
}

function PbehaviorTable({ items, next, actions }) {
  if (items.length === 0) {
    return <p class="panel muted">No pbehavior is defined.</p>;
  }
  return (
    <table class="list pbh-list" aria-label="pbehaviors">
      <thead>
        <tr>
          <th>Name</th>
          <th>Type</th>
          <th class="wide">Reason</th>
          <th class="wide">Filter</th>
          <th>Next period</th>
          <th>Enabled</th>
          {actions && <th>Actions</th>}
        </tr>
      </thead>
      <tbody>
        {items.map((doc) => (
          <tr key={doc._id} data-pbehavior={doc._id}>
            <td>
              <strong>{doc.name}</strong>
              {doc.rrule && <div class="muted pbh-rule">{doc.rrule}</div>}
            </td>
            <td>
              <span class={`badge pbh-type-${doc.type}`}>{doc.type}</span>
            </td>
            <td class="wide">{doc.reason}</td>
            <td class="wide">
              <code class="pbh-filter">{JSON.stringify(doc.filter)}</code>
            </td>
            <td>
              <NextPeriod found={next.get(doc._id)} enabled={doc.enabled !== false} />
            </td>
            <td>{doc.enabled === false ? "no" : "yes"}</td>
            {actions && (
              <td>
                <div class="actions">
                  <button type="button" onClick={() => actions.edit(doc)}>
                    Edit
                  </button>
                  <Confirm
                    label="Delete"
                    question={`Really delete ${doc.name}?`}
                    onYes={() => actions.deleteOne(doc)}
                  />
                </div>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// The next period: "now, until …" when active, its start and end, or why there is none.
function NextPeriod({ found, enabled }) {
  if (!enabled) return <span class="muted">none (disabled)</span>;
  if (found === undefined) return <span class="muted">…</span>;
  if (found === null) return <span class="muted">none within 400 days</span>;
  if (found.error) return <span class="muted">{found.error.message}</span>;
  const now = Date.now() / 1000;
  if (found.start <= now + 1) {
    return <span class="pbh-now">now, until {formatTime(found.end)}</span>;
  }
  return (
    <span>
      {formatTime(found.start)} – {formatTime(found.end)}
    </span>
  );
}
