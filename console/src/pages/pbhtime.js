// Times of the maintenance page: wall-clock times in a pbehavior's IANA time zone (the form's
// start, end and exdates are read in that zone, as the API computes the periods in it), the
// recurrence helper's RRULEs, and the weeks and months of the calendar (in the viewer's zone).

const formatters = new Map();

// The browser's IANA time zone: the viewer's, and the default of a new pbehavior.
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

// Whether `zone` is a time zone the browser knows (the API's list may differ a little).
export function knownZone(zone) {
  try {
    Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

// Every IANA zone the browser knows, for the form's suggestions.
export function zoneNames() {
  return typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
}

function formatter(zone) {
  let found = formatters.get(zone);
  if (!found) {
    found = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, found);
  }
  return found;
}

// The wall clock of `ms` (epoch milliseconds) in `zone`: {year, month (1-12), day, hour,
// minute, second}.
export function wallClock(ms, zone) {
  const parts = {};
  for (const { type, value } of formatter(zone).formatToParts(new Date(ms))) parts[type] = value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

const wallMs = (w) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

// How far `zone`'s wall clock is ahead of UTC at `ms`, in milliseconds.
function offsetAt(ms, zone) {
  return wallMs(wallClock(ms, zone)) - Math.floor(ms / 1000) * 1000;
}

const pad = (n) => String(n).padStart(2, "0");

// An epoch (seconds) as a datetime-local value in `zone` ("2026-12-03T14:05", seconds only
// when there are some).
export function toLocalInput(epoch, zone) {
  if (epoch === null || epoch === undefined) return "";
  const w = wallClock(epoch * 1000, zone);
  const seconds = w.second ? `:${pad(w.second)}` : "";
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}${seconds}`;
}

const LOCAL_INPUT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/;
const DAY_MS = 86400000;

// A datetime-local value read as a wall-clock time in `zone`: epoch seconds, null when it
// is not one. A time the zone skips (spring gap) is read with the offset before the change
// and one it repeats (autumn overlap) as its first instance, as the API (zoneinfo) does.
export function fromLocalInput(text, zone) {
  const m = LOCAL_INPUT.exec(text || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  if (Number.isNaN(wall)) return null;
  // the offsets in force a little before and after: no zone changes twice within a day
  const before = offsetAt(wall - DAY_MS, zone);
  const after = offsetAt(wall + DAY_MS, zone);
  const fits = [before, after]
    .map((offset) => wall - offset)
    .filter((ms) => offsetAt(ms, zone) === wall - ms)
    .sort((a, b) => a - b);
  return (fits.length ? fits[0] : wall - before) / 1000;
}

// The weekday (0: Monday … 6: Sunday) of `epoch` (seconds) in `zone`.
export function weekdayIn(epoch, zone) {
  const w = wallClock(epoch * 1000, zone);
  return (new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay() + 6) % 7;
}

// RRULE weekdays, Monday first (the calendar's weeks start on Monday too).
export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
export const WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HELPED = { DAILY: "daily", WEEKLY: "weekly", MONTHLY: "monthly" };

// The recurrence helper's state of a stored rule: {kind: "none" | "daily" | "weekly" |
// "monthly" | "custom", interval, days (WEEKDAYS), raw}. A rule the helper cannot say
// (COUNT, UNTIL, BYMONTHDAY…) is "custom", kept as its raw text.
export function recurrenceOf(rrule) {
  const plain = { kind: "none", interval: 1, days: [], raw: "" };
  if (!rrule) return plain;
  const body = rrule.replace(/^RRULE:/i, "");
  const parts = {};
  for (const part of body.toUpperCase().split(";")) {
    const [key, value] = part.split("=");
    if (key) parts[key] = value ?? "";
  }
  const kind = HELPED[parts.FREQ];
  const extra = Object.keys(parts).filter((key) => !["FREQ", "INTERVAL", "BYDAY"].includes(key));
  const interval = parts.INTERVAL === undefined ? 1 : Number(parts.INTERVAL);
  const days = parts.BYDAY ? parts.BYDAY.split(",") : [];
  const helped =
    kind &&
    extra.length === 0 &&
    Number.isInteger(interval) &&
    interval >= 1 &&
    (kind === "weekly" ? days.every((day) => WEEKDAYS.includes(day)) : days.length === 0);
  if (!helped) return { ...plain, kind: "custom", raw: body };
  return { kind, interval, days, raw: body };
}

// The RRULE of the helper's state, null for none ("" when a custom one is empty).
export function ruleOf({ kind, interval, days, raw }) {
  if (kind === "none") return null;
  if (kind === "custom") return raw.trim();
  const parts = [`FREQ=${kind.toUpperCase()}`];
  if (interval > 1) parts.push(`INTERVAL=${interval}`);
  if (kind === "weekly" && days.length) {
    parts.push(`BYDAY=${WEEKDAYS.filter((day) => days.includes(day)).join(",")}`);
  }
  return parts.join(";");
}

// The first instant (ms) of the viewer's local day of `date`, and the day `n` days later.
export const startOfDay = (date) => new Date(date.getFullYear(), date.getMonth(), date.getDate());
export const addDays = (date, n) =>
  new Date(date.getFullYear(), date.getMonth(), date.getDate() + n);

// The Monday starting the viewer's local week of `date`.
export const startOfWeek = (date) => addDays(date, -((date.getDay() + 6) % 7));

// The days a calendar `view` ("week" or "month") around `anchor` shows: {from, days} (the
// month's are the six weeks from the Monday on or before its first day).
export function shownDays(view, anchor) {
  if (view === "month") {
    return { from: startOfWeek(new Date(anchor.getFullYear(), anchor.getMonth(), 1)), days: 42 };
  }
  return { from: startOfWeek(anchor), days: 7 };
}

// The anchor `step` weeks or months away from `anchor`.
export function moved(view, anchor, step) {
  if (view === "month") return new Date(anchor.getFullYear(), anchor.getMonth() + step, 1);
  return addDays(anchor, 7 * step);
}

// A local date as the URL keeps it ("2026-12-03"), and back (null when it is not one).
export const dateText = (date) =>
  `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
export function parseDate(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
  if (!m) return null;
  const date = new Date(+m[1], +m[2] - 1, +m[3]);
  return Number.isNaN(date.getTime()) ? null : date;
}

// The viewer's local "HH:MM" of `ms`.
export const clock = (ms) => {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

// The parts of `periods` ([{start, end}] in epoch seconds, with their pbehavior) within
// each of the `days` local days from `from`: [[{…, from, to (ms, clipped to the day)}]].
export function byDay(periods, from, days) {
  const out = [];
  for (let i = 0; i < days; i += 1) {
    const dayStart = addDays(from, i).getTime();
    const dayEnd = addDays(from, i + 1).getTime();
    const pieces = periods
      .filter((p) => p.start * 1000 < dayEnd && p.end * 1000 > dayStart)
      .map((p) => ({
        ...p,
        from: Math.max(p.start * 1000, dayStart),
        to: Math.min(p.end * 1000, dayEnd),
      }))
      .sort((a, b) => a.from - b.from || a.to - b.to);
    out.push({ dayStart, dayEnd, pieces: lanes(pieces) });
  }
  return out;
}

// Side-by-side lanes for overlapping pieces: each gets `lane` and `lanes` (the day's count).
function lanes(pieces) {
  const ends = [];
  const placed = pieces.map((piece) => {
    let lane = ends.findIndex((end) => end <= piece.from);
    if (lane < 0) lane = ends.length;
    ends[lane] = piece.to;
    return { ...piece, lane };
  });
  return placed.map((piece) => ({ ...piece, lanes: Math.max(1, ends.length) }));
}
