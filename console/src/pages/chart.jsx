// The metrics of an entity as charts: one uPlot chart per metric (GET /perfdata/metrics,
// then GET /perfdata for each), over a time range the user picks (last hour, day, week
// or from-to) with an aggregation of the API. uPlot draws in a canvas and sets
// element.style only, which the Content-Security-Policy allows.
import uPlot from "uplot";
import { useEffect, useRef, useState } from "preact/hooks";
import { get, withQuery } from "../api.js";
import { ErrorText, Loading } from "../components.jsx";
import { formatTime } from "../format.js";
import "./entities.css";

// The aggregations of GET /perfdata (its `aggregation` enum in the OpenAPI document).
export const AGGREGATIONS = ["mean", "min", "max", "sum", "first", "last"];
export const RANGES = { hour: 3600, day: 86400, week: 7 * 86400 };
const HEIGHT = 220;
const FOLLOW_MS = 60_000;
const AHEAD_S = 60;

// The window [from, to) of a range: {kind: "hour"|"day"|"week"} ends now; a custom one
// {kind: "custom", from, to} (epoch seconds) is taken as it is. "Now" is a little ahead
// (AHEAD_S): a point of this very second, or from a server whose clock is a little ahead
// of the browser's, is in the window.
export function windowOf(range, now = Date.now() / 1000) {
  if (range.kind === "custom") return { from: range.from, to: range.to };
  const to = Math.ceil(now) + AHEAD_S;
  return { from: to - RANGES[range.kind], to };
}

// Every chart of `entityId` with the picker of range and aggregation above them.
export function Metrics({ entityId, initial = "day" }) {
  const [range, span, setRange] = useRange(initial);
  const [aggregation, setAggregation] = useState("mean");
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setList(null);
    setError(null);
    get(withQuery("/perfdata/metrics", { entity_id: entityId }))
      .then((body) => setList(body.items))
      .catch(setError);
  }, [entityId]);
  return (
    <section class="panel metrics" aria-label="metrics">
      <h2>Metrics</h2>
      <RangePicker
        range={range}
        aggregation={aggregation}
        onRange={setRange}
        onAggregation={setAggregation}
      />
      <ErrorText error={error} />
      {list === null && !error && <Loading />}
      {list && list.length === 0 && <p class="muted">This entity has no metrics.</p>}
      {list &&
        list.map((item) => (
          <MetricChart
            key={item.metric}
            entityId={entityId}
            metric={item.metric}
            unit={item.unit}
            from={span.from}
            to={span.to}
            aggregation={aggregation}
          />
        ))}
    </section>
  );
}

// The range chosen and its window, taken when the range is chosen (not at each render,
// which would ask for the points again) and moved on every minute while it ends now.
function useRange(initial) {
  const [state, setState] = useState(() => {
    const range = { kind: initial };
    return { range, span: windowOf(range) };
  });
  const choose = (range) => setState({ range, span: windowOf(range) });
  useEffect(() => {
    if (state.range.kind === "custom") return undefined;
    const timer = setInterval(() => choose(state.range), FOLLOW_MS);
    return () => clearInterval(timer);
  }, [state.range]);
  return [state.range, state.span, choose];
}

// "2026-12-03T14:05" for a datetime-local input, in the viewer's time zone.
function localInput(epoch) {
  const d = new Date(epoch * 1000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

function RangePicker({ range, aggregation, onRange, onAggregation }) {
  const now = Date.now() / 1000;
  const [from, setFrom] = useState(localInput(now - RANGES.day));
  const [to, setTo] = useState(localInput(now));
  const [problem, setProblem] = useState(null);
  const applyCustom = (event) => {
    event.preventDefault();
    const start = Date.parse(from) / 1000;
    const end = Date.parse(to) / 1000;
    if (!(start < end)) {
      setProblem("the start must be before the end");
      return;
    }
    setProblem(null);
    onRange({ kind: "custom", from: start, to: end });
  };
  return (
    <div class="range-picker">
      <fieldset class="ranges">
        <legend>Time range</legend>
        {[...Object.keys(RANGES), "custom"].map((kind) => (
          <label key={kind}>
            <input
              type="radio"
              name="range"
              checked={range.kind === kind}
              onChange={() =>
                onRange(kind === "custom" ? { kind, ...customOf(from, to) } : { kind })
              }
            />
            {kind === "custom" ? "custom" : `last ${kind}`}
          </label>
        ))}
      </fieldset>
      {range.kind === "custom" && (
        <form class="custom-range" onSubmit={applyCustom}>
          <label>
            From{" "}
            <input type="datetime-local" value={from} onInput={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            To <input type="datetime-local" value={to} onInput={(e) => setTo(e.target.value)} />
          </label>
          <button type="submit">Show</button>
          {problem && <span class="error">{problem}</span>}
        </form>
      )}
      <label class="aggregation">
        Aggregation{" "}
        <select value={aggregation} onChange={(e) => onAggregation(e.target.value)}>
          {AGGREGATIONS.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

// The custom window of the two inputs, or the last day when they do not make one.
function customOf(from, to) {
  const start = Date.parse(from) / 1000;
  const end = Date.parse(to) / 1000;
  return start < end ? { from: start, to: end } : windowOf({ kind: "day" });
}

// One metric over [from, to): its name and unit, the chart, and a summary of the points.
export function MetricChart({ entityId, metric, unit, from, to, aggregation }) {
  const [body, setBody] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    const path = withQuery("/perfdata", {
      entity_id: entityId,
      metric,
      from: Math.floor(from),
      to: Math.ceil(to),
      aggregation,
    });
    get(path, { signal: controller.signal })
      .then(setBody)
      .catch((e) => e.name !== "AbortError" && setError(e));
    return () => controller.abort();
  }, [entityId, metric, from, to, aggregation]);
  const shownUnit = (body && body.meta && body.meta.unit) || unit || "";
  return (
    <figure class="metric" data-metric={metric}>
      <figcaption>
        <strong class="metric-name">{metric}</strong>
        {shownUnit && <span class="muted"> ({shownUnit})</span>}
        {body && <span class="muted"> · {body.aggregation} per {body.step} s</span>}
      </figcaption>
      <ErrorText error={error} />
      {!body && !error && <Loading />}
      {body && body.points.length === 0 && <p class="muted no-data">no data in this range</p>}
      {body && body.points.length > 0 && (
        <>
          <Plot metric={metric} unit={shownUnit} points={body.points} from={from} to={to} />
          <Summary points={body.points} unit={shownUnit} />
        </>
      )}
    </figure>
  );
}

// A value to six significant digits, with its unit.
function withUnit(value, unit) {
  if (value === null || value === undefined) return "–";
  const number = Number(value.toPrecision(6));
  return unit ? `${number} ${unit}` : String(number);
}

// The figures a chart shows, as text too (readable without hovering the canvas).
function Summary({ points, unit }) {
  const values = points.map(([, v]) => v);
  const [lastT, lastV] = points[points.length - 1];
  return (
    <p class="metric-summary muted">
      {points.length} {points.length === 1 ? "point" : "points"} · latest{" "}
      {withUnit(lastV, unit)} at{" "}
      {formatTime(lastT)} · min {withUnit(Math.min(...values), unit)} · max{" "}
      {withUnit(Math.max(...values), unit)}
    </p>
  );
}

// The uPlot chart itself, as wide as its container (followed when the window resizes).
function Plot({ metric, unit, points, from, to }) {
  const holder = useRef(null);
  useEffect(() => {
    const element = holder.current;
    const data = [points.map(([t]) => t), points.map(([, v]) => v)];
    const plot = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: HEIGHT,
        scales: { x: { time: true, range: () => [from, to] } },
        series: [
          { label: "time", value: (u, t) => (t === null ? "–" : formatTime(t)) },
          {
            label: metric,
            stroke: "#1f5fbf",
            width: 2,
            fill: "rgba(31, 95, 191, 0.08)",
            points: { show: true, size: 5 },
            value: (u, v) => withUnit(v, unit),
          },
        ],
        axes: [{}, { values: (u, ticks) => ticks.map((v) => withUnit(v, "")) }],
      },
      data,
      element,
    );
    const resized = new ResizeObserver(() => {
      const width = Math.max(200, element.clientWidth);
      if (width !== plot.width) plot.setSize({ width, height: HEIGHT });
    });
    resized.observe(element);
    return () => {
      resized.disconnect();
      plot.destroy();
    };
  }, [metric, unit, points, from, to]);
  return <div class="plot" ref={holder} />;
}
