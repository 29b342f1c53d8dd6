// What the pipeline page reads: GET /engines every few seconds (with its ETag: a 304
// costs nothing), and the series of each engine's numbers since the page opened, kept
// in the page (the API answers the last values only).
import { useEffect, useRef, useState } from "preact/hooks";
import { request } from "../api.js";

export const POLL_MS = 3000;
// Seconds of history the charts keep.
export const SPAN_S = 600;
// The numbers of an engine's reports the page shows, as the engines name them
// (canopsis/runtime/beats.py): label and unit.
export const METRICS = [
  { metric: "events_per_second", label: "events/s", unit: "/s" },
  { metric: "mean_processing_ms", label: "per event", unit: "ms" },
  { metric: "queue_depth", label: "queue", unit: "" },
  { metric: "errors", label: "errors", unit: "" },
];

// {data, error, series, refresh}: the last answer of GET /engines (null until the first),
// the error of the last poll (null once one succeeds), the series by report
// (`entity_id`) and metric ({times, values}), and refresh() to poll at once.
export function useEngines() {
  const [state, setState] = useState({ data: null, error: null });
  const etag = useRef(null);
  const series = useRef({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    const poll = () =>
      request("GET", "/engines", { etag: etag.current })
        .then((answer) => {
          if (stop) return;
          if (answer.status !== 304) {
            etag.current = answer.etag;
            series.current = grown(series.current, answer.data, Date.now() / 1000);
            setState({ data: answer.data, error: null });
          } else setState((was) => (was.error ? { ...was, error: null } : was));
        })
        .catch((error) => !stop && setState((was) => ({ ...was, error })));
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [tick]);
  return { ...state, series: series.current, refresh: () => setTick((t) => t + 1) };
}

// The reports of every engine program of `data`: [{program, engine, report}].
export function reportsOf(data) {
  const found = [];
  for (const item of data.items) {
    for (const [engine, reports] of Object.entries(item.engines || {})) {
      for (const report of reports) found.push({ program: item.name, engine, report });
    }
  }
  return found;
}

// `series` with the values of `data`'s reports at `now` added, the points older than
// SPAN_S dropped: new arrays (the charts redraw on a new array).
function grown(series, data, now) {
  const next = {};
  for (const { report } of reportsOf(data)) {
    const was = series[report.entity_id] || {};
    next[report.entity_id] = {};
    for (const { metric } of METRICS) {
      const old = was[metric] || { times: [], values: [] };
      const keep = old.times.findIndex((t) => t >= now - SPAN_S);
      const from = keep === -1 ? old.times.length : keep;
      const value = report.metrics[metric];
      next[report.entity_id][metric] = {
        times: [...old.times.slice(from), now],
        values: [...old.values.slice(from), value ?? null],
      };
    }
  }
  return next;
}
