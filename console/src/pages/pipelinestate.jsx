// A supervisord state (or an engine's health: OK, STALLED) as a badge, green when
// RUNNING, red when it failed, grey else.
const TONE = {
  RUNNING: "state-0",
  OK: "state-0",
  STALLED: "state-3",
  STARTING: "state-1",
  STOPPING: "state-1",
  BACKOFF: "state-2",
  FATAL: "state-3",
  EXITED: "state-3",
  UNKNOWN: "state-3",
};

export function StateOf({ state }) {
  return (
    <span class={`state ${TONE[state] || "stopped"}`} data-process-state={state}>
      {state}
    </span>
  );
}

// An uptime in seconds for people: "2 d 3 h", "4 h 5 min", "12 min 3 s", "40 s".
export function uptime(seconds) {
  const units = [
    ["d", 86400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ];
  const rest = Math.max(0, Math.floor(seconds));
  // the largest unit that fits, and the one after it
  const first = units.findIndex(([, size]) => rest >= size);
  if (first === -1 || first === units.length - 1) return `${rest} s`;
  const [big, bigSize] = units[first];
  const [small, smallSize] = units[first + 1];
  const after = Math.floor((rest % bigSize) / smallSize);
  return `${Math.floor(rest / bigSize)} ${big} ${after} ${small}`;
}
