// The pipeline: the chain of engines as the programs run it, every supervisord program
// with its state and uptime (start, stop, restart for admins, stop and restart confirmed
// in the page), and for each engine its numbers, live: GET /engines polled with its ETag
// (pipelinedata.js), the series charted since the page opened (sparkline.jsx).
import { useState } from "preact/hooks";
import { post, segment } from "../api.js";
import { ErrorText, Loading } from "../components.jsx";
import { formatTime } from "../format.js";
import { useSession } from "../session.js";
import { Chain } from "./pipelinechain.jsx";
import { METRICS, POLL_MS, SPAN_S, useEngines } from "./pipelinedata.js";
import { StateOf, uptime } from "./pipelinestate.jsx";
import { shortNumber, Sparkline } from "./sparkline.jsx";
import "./pipeline.css";

export function Pipeline() {
  const { data, error, series, refresh } = useEngines();
  return (
    <main class="pipeline">
      <h1>Pipeline</h1>
      <p class="muted">
        Refreshed every {POLL_MS / 1000} s; the charts show the last {SPAN_S / 60} minutes
        since this page opened.
      </p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && (
        <>
          <section class="panel" aria-label="the chain">
            <h2>Chain</h2>
            <Chain chain={data.chain || []} items={data.items} />
          </section>
          <Programs items={data.items} onDone={refresh} />
          {data.items
            .filter((item) => item.runs)
            .map((item) => (
              <EnginesOf key={item.name} item={item} series={series} />
            ))}
        </>
      )}
    </main>
  );
}

function Programs({ items, onDone }) {
  const { can } = useSession();
  const admin = can("admin");
  return (
    <section class="panel" aria-label="programs">
      <h2>Programs</h2>
      <table class="list programs">
        <thead>
          <tr>
            <th>Program</th>
            <th>State</th>
            <th>Uptime</th>
            <th class="wide">PID</th>
            <th class="wide">Description</th>
            {admin && <th>Control</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={`${item.group}:${item.name}`} data-program={item.name}>
              <td>
                {item.group !== item.name && <span class="muted">{item.group}:</span>}
                {item.name}
              </td>
              <td>
                <StateOf state={item.state} />
              </td>
              <td class="uptime">{item.state === "RUNNING" ? uptime(item.uptime) : "–"}</td>
              <td class="wide pid">{item.pid || "–"}</td>
              <td class="wide muted">{item.description}</td>
              {admin && (
                <td>
                  <Control item={item} onDone={onDone} />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

// Start at once; stop and restart after "Really …? Yes / No". The answer (or the
// refusal) shows in the row until the next action.
function Control({ item, onDone }) {
  const [asked, setAsked] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const program = item.group === item.name ? item.name : `${item.group}:${item.name}`;
  const run = (action) => {
    setAsked(null);
    setBusy(true);
    setError(null);
    post(`/engines/${segment(program)}/${action}`)
      .catch(setError)
      .finally(() => {
        setBusy(false);
        onDone();
      });
  };
  if (asked) {
    return (
      <span class="confirm" role="group" aria-label={`confirm ${asked}`}>
        Really {asked} {item.name}?{" "}
        <button type="button" class="primary" onClick={() => run(asked)}>
          Yes
        </button>{" "}
        <button type="button" onClick={() => setAsked(null)}>
          No
        </button>
      </span>
    );
  }
  const running = item.state === "RUNNING";
  return (
    <span class="controls">
      <button type="button" disabled={busy || running} onClick={() => run("start")}>
        Start
      </button>
      <button type="button" disabled={busy || !running} onClick={() => setAsked("stop")}>
        Stop
      </button>
      <button type="button" disabled={busy} onClick={() => setAsked("restart")}>
        Restart
      </button>
      {busy && <span class="muted"> working…</span>}
      <ErrorText error={error} />
    </span>
  );
}

// The engines one program runs, in its order: each one's reports (one per host) and
// the health its processes write.
function EnginesOf({ item, series }) {
  const health = Object.values(item.health || {});
  return (
    <section class="panel engines-of" aria-label={`engines of ${item.name}`}>
      <h2>
        {item.name} <StateOf state={item.state} />
      </h2>
      {item.runs.map((engine) => (
        <Engine
          key={engine}
          engine={engine}
          reports={(item.engines || {})[engine] || []}
          health={health.filter((h) => h.engine === engine)}
          series={series}
        />
      ))}
    </section>
  );
}

function Engine({ engine, reports, health, series }) {
  return (
    <article class="engine" data-engine={engine}>
      <h3>{engine}</h3>
      {health.map((h) => (
        <p key={`${h.host}/${h.worker}`} class={h.state ? "health stalled" : "health"}>
          <StateOf state={h.state ? "STALLED" : "OK"} /> {h.host}
          {h.worker !== null && ` worker ${h.worker}`}: <span class="output">{h.output}</span>
          <span class="muted">
            {" "}
            · {h.failures} failed in a row · {h.queue_depth} waiting · reported{" "}
            {formatTime(h.updated)}
          </span>
        </p>
      ))}
      {reports.length === 0 && <p class="muted">No report in the last ten minutes.</p>}
      {reports.map((report) => (
        <Report key={report.entity_id} report={report} series={series[report.entity_id]} />
      ))}
    </article>
  );
}

// One engine process's last numbers, each with its chart since the page opened.
function Report({ report, series }) {
  return (
    <div class="report" data-report={report.entity_id}>
      <span class="muted host">{report.host}</span>
      <dl class="numbers">
        {METRICS.filter(({ metric }) => metric in report.metrics).map((m) => (
          <div key={m.metric} class="number" data-metric={m.metric}>
            <dt>{m.label}</dt>
            <dd>
              <span class="value">{shortNumber(report.metrics[m.metric])}</span>
              {m.unit && <span class="muted"> {m.unit}</span>}
            </dd>
            {series && series[m.metric] && (
              <Sparkline
                label={`${report.entity_id} ${m.metric}`}
                times={series[m.metric].times}
                values={series[m.metric].values}
                span={SPAN_S}
              />
            )}
          </div>
        ))}
      </dl>
    </div>
  );
}
