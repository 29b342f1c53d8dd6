// The event-filter rules: the ordered list the engine runs (hits, drops, last hit, enabled),
// polled so the counters move while events flow; admins create, edit, reorder, enable or
// disable and delete them (nobody else sees a control); everyone has the "try it" box.
import { useState } from "preact/hooks";
import { request, segment } from "../api.js";
import { ErrorText, Loading } from "../components.jsx";
import { useSession } from "../session.js";
import { useShortcuts } from "../shortcuts.js";
import { Confirm } from "./adminkit.jsx";
import { RuleForm } from "./ruleform.jsx";
import {
  lastHit,
  reprioritized,
  RULES,
  saveRule,
  swapped,
  useRules,
} from "./rulesdata.js";
import { TryBox } from "./ruletry.jsx";
import "./rules.css";

export function Rules() {
  const { can } = useSession();
  const admin = can("admin");
  const { rules, error, reload } = useRules();
  // null: no form; {rule: the rule edited, or null for a new one}
  const [form, setShownForm] = useState(null);
  const [notice, setNotice] = useState(null);
  const [failure, setFailure] = useState(null);
  const setForm = (next) => {
    setShownForm(next);
    if (next) setNotice(null);
  };
  useShortcuts(
    admin ? [{ key: "n", what: "new rule", run: () => setForm({ rule: null }) }] : [],
    [admin],
  );
  if (!rules) {
    return (
      <main class="rules">
        <h1>Event-filter rules</h1>
        {error ? <ErrorText error={error} /> : <Loading />}
      </main>
    );
  }
  // Run a change of the admins' controls: its notice, or its error above the list.
  const change = async (work, message) => {
    setFailure(null);
    try {
      await work();
      setNotice(message);
    } catch (problem) {
      setFailure(problem);
    } finally {
      reload();
    }
  };
  const actions = admin && {
    edit: (rule) => setForm({ rule }),
    toggle: (rule) => {
      const enabled = rule.enabled === false;
      const said = `${enabled ? "Enabled" : "Disabled"} rule ${rule._id}.`;
      return change(() => saveRule(rule, { enabled }), said);
    },
    move: (index, by) => {
      const moved = reprioritized(swapped(rules, index, by));
      const work = async () => {
        for (const rule of moved) await saveRule(rule, { priority: rule.priority });
      };
      return change(work, `Moved rule ${rules[index]._id} ${by < 0 ? "up" : "down"}.`);
    },
    remove: (rule) =>
      change(
        () => request("DELETE", `${RULES}/${segment(rule._id)}`),
        `Deleted rule ${rule._id}.`,
      ),
  };
  const saved = (rule) => {
    setForm(null);
    setNotice(`Saved rule ${rule._id}.`);
    reload();
  };
  return (
    <main class="rules">
      <div class="rules-head">
        <h1>Event-filter rules</h1>
        <span class="muted">
          {rules.length} {rules.length === 1 ? "rule" : "rules"},{" "}
          {rules.filter((r) => r.enabled !== false).length} enabled
        </span>
        {admin && !form && (
          <button type="button" class="primary" onClick={() => setForm({ rule: null })}>
            New rule
          </button>
        )}
      </div>
      <p class="muted">
        The event filter runs the enabled rules on every event, top to bottom (lower priority
        first, then by id); a rule whose match fits the event runs its actions. A change
        applies within the engine's beat.
      </p>
      {notice && (
        <p role="status" class="rules-notice">
          {notice}
        </p>
      )}
      <ErrorText error={failure || error} />
      {form && (
        <RuleForm
          key={form.rule?._id ?? ""}
          rule={form.rule}
          last={rules[rules.length - 1]}
          onSaved={saved}
          onCancel={() => setForm(null)}
        />
      )}
      <RuleTable rules={rules} actions={actions} />
      <TryBox />
    </main>
  );
}

function RuleTable({ rules, actions }) {
  if (rules.length === 0) return <p class="muted panel">No rule is defined.</p>;
  return (
    <table class="list rules-list" aria-label="rules">
      <thead>
        <tr>
          <th>#</th>
          <th>Rule</th>
          <th>Priority</th>
          <th>State</th>
          <th class="wide">Match</th>
          <th class="wide">Actions</th>
          <th>Hits</th>
          <th>Drops</th>
          <th>Last hit</th>
          {actions && <th>Change</th>}
        </tr>
      </thead>
      <tbody>
        {rules.map((rule, index) => (
          <RuleRow
            key={rule._id}
            rule={rule}
            index={index}
            count={rules.length}
            actions={actions}
          />
        ))}
      </tbody>
    </table>
  );
}

function RuleRow({ rule, index, count, actions }) {
  const enabled = rule.enabled !== false;
  return (
    <tr
      data-rule={rule._id}
      data-enabled={String(enabled)}
      class={enabled ? undefined : "rule-disabled"}
    >
      <td>{index + 1}</td>
      <td>
        <strong>{rule.name ?? rule._id}</strong>
        {rule.name !== undefined && rule.name !== rule._id && (
          <div class="muted">{rule._id}</div>
        )}
        {rule.description && <div class="muted">{rule.description}</div>}
        {rule.error && <div class="rule-broken">skipped by the engine: {rule.error}</div>}
      </td>
      <td>{rule.priority ?? 0}</td>
      <td>
        <span class={enabled ? "badge rule-on" : "badge rule-off"}>
          {enabled ? "enabled" : "disabled"}
        </span>
        {rule.break && <span class="badge">break</span>}
      </td>
      <td class="wide">
        <code class="rule-code">{JSON.stringify(rule.match)}</code>
      </td>
      <td class="wide">
        <ActionList actions={rule.actions} />
      </td>
      <td class="rule-hits">{rule.hits ?? 0}</td>
      <td class="rule-drops">{rule.drops ?? 0}</td>
      <td class="rule-last">{lastHit(rule.last_hit) || "never"}</td>
      {actions && (
        <td>
          <RowActions rule={rule} index={index} count={count} actions={actions} />
        </td>
      )}
    </tr>
  );
}

// The actions of a rule in words: 'set site = "paris"', "drop".
function ActionList({ actions }) {
  if (!Array.isArray(actions) || actions.length === 0) {
    return <span class="muted">none (counts hits)</span>;
  }
  return (
    <ol class="rule-actions">
      {actions.map((action, i) => (
        <li key={i}>{said(action)}</li>
      ))}
    </ol>
  );
}

function said(action) {
  switch (action?.type) {
    case "set":
      return `set ${action.field} = ${JSON.stringify(action.value)}`;
    case "remove":
      return `remove ${action.field}`;
    case "add_tag":
      return `add tag ${action.value}`;
    case "route":
      return `route to ${action.engine}`;
    case "drop":
    case "pass":
      return action.type;
    default:
      return JSON.stringify(action);
  }
}

// Up, down, enable or disable, edit, delete (asked again): admins only.
function RowActions({ rule, index, count, actions }) {
  const [busy, setBusy] = useState(false);
  const run = async (work) => {
    setBusy(true);
    try {
      await work();
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="rule-row-actions">
      <button
        type="button"
        title="run earlier"
        aria-label={`move ${rule._id} up`}
        disabled={busy || index === 0}
        onClick={() => run(() => actions.move(index, -1))}
      >
        ↑
      </button>
      <button
        type="button"
        title="run later"
        aria-label={`move ${rule._id} down`}
        disabled={busy || index === count - 1}
        onClick={() => run(() => actions.move(index, 1))}
      >
        ↓
      </button>
      <button type="button" disabled={busy} onClick={() => run(() => actions.toggle(rule))}>
        {rule.enabled === false ? "Enable" : "Disable"}
      </button>
      <button type="button" disabled={busy} onClick={() => actions.edit(rule)}>
        Edit
      </button>
      <Confirm
        label="Delete"
        question={`Really delete ${rule._id}?`}
        onYes={() => actions.remove(rule)}
      />
    </span>
  );
}
