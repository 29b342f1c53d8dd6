// A small live chart of one series (uPlot in a canvas; it sets element.style only, which
// the Content-Security-Policy allows). Made once, then given its new points with setData:
// a page polling every few seconds does not rebuild its charts.
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import { formatTime } from "../format.js";

const HEIGHT = 64;
const WIDTH = 220;

// A number short enough for a small axis or a cell: six significant digits at most.
export function shortNumber(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return String(Number(value.toPrecision(value >= 1000 ? 6 : 3)));
}

// `times` (epoch seconds) and `values` of the series named `label`, drawn over at most
// the last `span` seconds.
export function Sparkline({ label, times, values, span }) {
  const holder = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    plot.current = new uPlot(options(label, span), [times, values], holder.current);
    return () => plot.current.destroy();
  }, [label, span]);
  useEffect(() => plot.current.setData([times, values]), [times, values]);
  return <div class="sparkline" ref={holder} data-series={label} data-points={times.length} />;
}

// The series' arrays are replaced, never changed in place, at each new point.
function options(label, span) {
  return {
    width: WIDTH,
    height: HEIGHT,
    legend: { show: false },
    cursor: { show: false },
    scales: {
      // the last `span` seconds, or since the first point while there are fewer
      x: {
        time: true,
        range: (u, min, max) => [Math.max(min, max - span), Math.max(max, min + 1)],
      },
      y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
    },
    series: [
      { label: "time", value: (u, t) => (t === null ? "–" : formatTime(t)) },
      { label, stroke: "#1f5fbf", width: 1.5, fill: "rgba(31, 95, 191, 0.1)" },
    ],
    axes: [
      { show: false },
      { size: 40, ticks: { show: false }, values: (u, ticks) => ticks.map(shortNumber) },
    ],
  };
}
