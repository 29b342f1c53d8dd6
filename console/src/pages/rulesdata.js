// The event-filter rules as the page holds them: polled with their ETag (their counters
// move while events flow), the body a rule is sent back with, and the priorities that
// put them in a new order.
import { useEffect, useState } from "preact/hooks";
import { request, segment } from "../api.js";
import { formatTime } from "../format.js";
import { isoTime } from "./adminkit.jsx";

export const RULES = "/eventfilter/rules";

// The rules are asked for this often (a 304 of a few bytes when nothing moved).
const REFRESH_MS = 3000;

// What canopsis sets in a stored rule and refuses in a body (the API's METADATA_FIELDS).
const SET_BY_CANOPSIS = ["author", "created", "updated", "hits", "drops", "last_hit", "error"];

// The rules in evaluation order, polled: {rules, error, reload()}; rules is null until the
// first answer.
export function useRules() {
  const [state, setState] = useState({ rules: null, error: null });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let etag = null;
    let timer = null;
    let stopped = false;
    const controller = new AbortController();
    const load = async () => {
      try {
        const answer = await request("GET", RULES, { etag, signal: controller.signal });
        if (answer.status !== 304) {
          etag = answer.etag;
          setState({ rules: answer.data.items, error: null });
        }
      } catch (error) {
        if (error.name === "AbortError") return;
        setState((old) => ({ ...old, error }));
      }
      if (!stopped) timer = setTimeout(load, REFRESH_MS);
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
    };
  }, [round]);
  return { ...state, reload: () => setRound((r) => r + 1) };
}

// A stored rule as a body for PUT: without what canopsis sets.
export function bodyOf(rule) {
  const body = { ...rule };
  for (const key of SET_BY_CANOPSIS) delete body[key];
  return body;
}

// PUT a rule changed by `changes` (e.g. {enabled: false}); resolves to the stored rule.
export function saveRule(rule, changes) {
  const body = { ...bodyOf(rule), ...changes };
  return request("PUT", `${RULES}/${segment(rule._id)}`, { body }).then((r) => r.data);
}

const priorityOf = (rule) => (Number.isInteger(rule.priority) ? rule.priority : 0);

// Whether rule `a` runs before rule `b`: the engine's order, priority then _id.
function before(a, b) {
  const pa = priorityOf(a);
  const pb = priorityOf(b);
  return pa < pb || (pa === pb && String(a._id) < String(b._id));
}

// The rules moved from `rules` (in evaluation order) to `order` (the same rules, in the
// order wanted), each with the priority that puts it there: walking down the new order, a
// rule that would run before the one above it gets the priority just above that one's.
// Only those change, so a move writes few rules.
export function reprioritized(order) {
  const moved = [];
  let above = null;
  for (const rule of order) {
    let placed = rule;
    if (above && !before(above, rule)) {
      placed = { ...rule, priority: priorityOf(above) + 1 };
      moved.push(placed);
    }
    above = placed;
  }
  return moved;
}

// `rules` with the rule at `index` swapped with its neighbour `by` (-1: up, +1: down).
export function swapped(rules, index, by) {
  const order = [...rules];
  [order[index], order[index + by]] = [order[index + by], order[index]];
  return order;
}

// When a rule last matched: the API's ISO date (an epoch when written by hand), "" for never.
export function lastHit(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "number" ? formatTime(value) : isoTime(value);
}
