// The periods of pbehaviors, from GET /pbehaviors/{id}/periods (the API computes them: the
// console never expands an RRULE itself).
import { useEffect, useState } from "preact/hooks";
import { get, segment, withQuery } from "../api.js";

// The longest window the API answers (MAX_SPAN of webserver/resources/pbehaviors.py).
export const MAX_SPAN = 400 * 86400;
// The next period is looked for within a week first (the usual case, a short answer), then
// within the longest window.
const FIRST_LOOK = 8 * 86400;

// The periods of the pbehavior `id` within [from, to) (epoch seconds).
export function periodsOf(id, from, to) {
  const path = withQuery(`/pbehaviors/${segment(id)}/periods`, {
    from: Math.floor(from),
    to: Math.ceil(to),
  });
  return get(path).then((answer) => answer.items);
}

// The periods of every pbehavior of `items` within [from, to): {periods: [{start, end,
// pbehavior}], error}. `version` changes when the pbehaviors do (they are asked again).
export function usePeriods(items, from, to, version) {
  const [state, setState] = useState({ periods: null, error: null });
  useEffect(() => {
    if (!items) return undefined;
    let current = true;
    const asked = items
      .filter((doc) => doc.enabled !== false)
      .map((doc) =>
        periodsOf(doc._id, from, to).then((found) => found.map((p) => ({ ...p, pbehavior: doc }))),
      );
    Promise.all(asked)
      .then((lists) => current && setState({ periods: lists.flat(), error: null }))
      .catch((error) => current && setState({ periods: [], error }));
    return () => {
      current = false;
    };
  }, [items, from, to, version]);
  return state;
}

// The next period (the current one when active now) of each pbehavior of `items`: a Map of
// _id to {start, end} or null (none within MAX_SPAN), or to an error.
export function useNextPeriods(items, version) {
  const [found, setFound] = useState(new Map());
  useEffect(() => {
    if (!items) return undefined;
    let current = true;
    const now = Date.now() / 1000;
    const next = async (doc) => {
      if (doc.enabled === false) return null;
      try {
        const soon = await periodsOf(doc._id, now, now + FIRST_LOOK);
        if (soon.length) return soon[0];
        const later = await periodsOf(doc._id, now, now + MAX_SPAN);
        return later[0] ?? null;
      } catch (error) {
        return { error };
      }
    };
    Promise.all(items.map(async (doc) => [doc._id, await next(doc)])).then(
      (pairs) => current && setFound(new Map(pairs)),
    );
    return () => {
      current = false;
    };
  }, [items, version]);
  return found;
}
