// The "try it" box: a pasted event run through the rules by the API
// (POST /eventfilter/try), without publishing it or counting a hit; each enabled rule says
// what it did, then the event at the end. Everyone may use it (it changes nothing).
import { useState } from "preact/hooks";
import { ApiError, post } from "../api.js";
import { ErrorText } from "../components.jsx";

const EXAMPLE = {
  connector: "nagios",
  connector_name: "nagios-1",
  event_type: "check",
  source_type: "resource",
  component: "web-1",
  resource: "cpu",
  state: 2,
  output: "CPU at 97%",
};

// What an outcome of the API is called in the page.
const OUTCOMES = {
  "no match": "no match",
  matched: "matched, changed nothing",
  edited: "changed the event",
  dropped: "dropped the event",
  "not reached": "not reached",
};

export function TryBox() {
  const [text, setText] = useState(() => JSON.stringify(EXAMPLE, null, 2));
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const run = async (e) => {
    e.preventDefault();
    let event;
    try {
      event = JSON.parse(text);
    } catch (failure) {
      setError(new ApiError(0, "Not sent: the event is not JSON.", { event: failure.message }));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setAnswer(await post("/eventfilter/try", { event }));
    } catch (failure) {
      setAnswer(null);
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const invalid = Object.keys(error?.fields || {}).some((name) => name.startsWith("event"));
  return (
    <section class="panel rule-try" aria-label="try it">
      <h2>Try it</h2>
      <form onSubmit={run} aria-label="trial" noValidate>
        <label for="rule-try-event">
          An event (JSON, as sent to canopsis): it is run through the rules, not sent
        </label>
        <textarea
          id="rule-try-event"
          rows="10"
          spellcheck={false}
          value={text}
          aria-invalid={invalid ? "true" : undefined}
          class={invalid ? "invalid" : undefined}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <div>
          <button type="submit" class="primary" disabled={busy}>
            Run
          </button>
        </div>
      </form>
      <ErrorText error={error} />
      {answer && <Trace answer={answer} />}
    </section>
  );
}

// What each rule did, then the verdict and the event that leaves the filter.
function Trace({ answer }) {
  return (
    <div class="rule-trace" aria-label="trial result">
      {answer.rules.length === 0 ? (
        <p class="muted">No rule is enabled: the event passes on as it came.</p>
      ) : (
        <ol class="rule-steps">
          {answer.rules.map((step) => (
            <Step key={step._id} step={step} />
          ))}
        </ol>
      )}
      {answer.skipped.length > 0 && (
        <p class="muted">
          Skipped (they do not compile):{" "}
          {answer.skipped.map((s) => `${s._id} (${s.error})`).join("; ")}
        </p>
      )}
      <p class={answer.dropped ? "rule-verdict dropped" : "rule-verdict"} aria-live="polite">
        {answer.dropped
          ? `Dropped by ${answer.dropped_by}.`
          : answer.route
            ? `Passes on, routed to ${answer.route}.`
            : "Passes on to the next engine."}
      </p>
      {!answer.dropped && (
        <details open>
          <summary>The event at the end</summary>
          <pre class="rule-json">{JSON.stringify(answer.event, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

function Step({ step }) {
  const outcome = step.outcome.replace(" ", "-");
  return (
    <li class={`rule-step rule-${outcome}`} data-rule={step._id} data-outcome={step.outcome}>
      <div class="rule-step-head">
        <strong>{step.name}</strong>
        {step.name !== step._id && <span class="muted">{step._id}</span>}
        <span class="badge rule-outcome">{OUTCOMES[step.outcome] ?? step.outcome}</span>
        {step.route && <span class="badge">routes to {step.route}</span>}
        {step.ends && step.ends !== "drop" && <span class="badge">ends here ({step.ends})</span>}
      </div>
      {step.changes.length > 0 && (
        <ul class="rule-changes">
          {step.changes.map((change) => (
            <li key={change.field}>
              <Change change={change} />
            </li>
          ))}
        </ul>
      )}
      {step.matched && step.event && (
        <details>
          <summary>The event after it</summary>
          <pre class="rule-json">{JSON.stringify(step.event, null, 2)}</pre>
        </details>
      )}
    </li>
  );
}

const shown = (value) => JSON.stringify(value);

function Change({ change }) {
  const field = <code>{change.field}</code>;
  if (change.kind === "added") {
    return (
      <>
        {field} set to <code>{shown(change.after)}</code>
      </>
    );
  }
  if (change.kind === "removed") {
    return (
      <>
        {field} removed (was <code>{shown(change.before)}</code>)
      </>
    );
  }
  return (
    <>
      {field} <code>{shown(change.before)}</code> → <code>{shown(change.after)}</code>
    </>
  );
}
