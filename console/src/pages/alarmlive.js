// The alarm list kept live: the page and its counts asked again every INTERVAL_MS with
// the ETags of the copies held (an unchanged list is a 304 with no body), one request at
// a time, so one tab makes at most one list request per interval. When the server cannot
// be reached the copies are kept (the frame's banner says so) and polling goes on.
import { useEffect, useRef, useState } from "preact/hooks";
import { request, Unreachable } from "../api.js";

export const INTERVAL_MS = 2000;
// How long a new or changed row stays marked `changed`.
const FLASH_MS = 2000;

// Live {list, counts, error, now, flash} of `listPath` and `countsPath` (API paths);
// `flash`: the ids of the rows that just appeared or changed.
export function useLiveAlarms(listPath, countsPath) {
  const [live, setLive] = useState({ list: null, counts: null, error: null });
  const [now, setNow] = useState(Date.now());
  const flash = useFlash();
  // The last_update_date of each row last shown, and of which list, to tell what changed.
  const seen = useRef({ path: null, dates: new Map() });

  useEffect(() => {
    let stopped = false;
    let timer = null;
    const abort = new AbortController();
    const etags = { list: null, counts: null };
    const ask = async (name, path) => {
      const answer = await request("GET", path, { etag: etags[name], signal: abort.signal });
      if (answer.status === 304) return undefined;
      etags[name] = answer.etag;
      return answer.data;
    };
    const tick = async () => {
      const started = Date.now();
      try {
        // The rows first: they are shown without waiting for the counts.
        const list = await ask("list", listPath);
        if (stopped) return;
        if (list) {
          flash.mark(changedIds(seen.current, listPath, list.items));
          seen.current = { path: listPath, dates: datesOf(list.items) };
          setLive((old) => ({ ...old, list, error: null }));
        }
        const counts = await ask("counts", countsPath);
        if (stopped) return;
        setLive((old) => ({ ...old, counts: counts ?? old.counts, error: null }));
      } catch (error) {
        if (stopped) return;
        // Unreachable: keep what is shown; an error of the API: what is shown is not this list.
        setLive((old) =>
          error instanceof Unreachable ? { ...old, error } : { list: null, counts: null, error },
        );
      }
      setNow(Date.now());
      timer = setTimeout(tick, Math.max(0, started + INTERVAL_MS - Date.now()));
    };
    tick();
    return () => {
      stopped = true;
      abort.abort();
      clearTimeout(timer);
    };
  }, [listPath, countsPath]);

  return { ...live, now, flash: flash.ids };
}

const datesOf = (items) => new Map(items.map((a) => [a._id, a.last_update_date]));

// The ids of `items` that are new or changed since `seen`; none when `seen` is of
// another list (a new filter or page is not a change of the alarms).
function changedIds(seen, path, items) {
  if (seen.path !== path) return [];
  return items.filter((a) => seen.dates.get(a._id) !== a.last_update_date).map((a) => a._id);
}

// A set of ids, each forgotten FLASH_MS after it was last marked.
function useFlash() {
  const [ids, setIds] = useState(() => new Set());
  const marks = useRef(new Map()); // id -> when it was last marked
  const timers = useRef(new Set());
  useEffect(() => () => timers.current.forEach(clearTimeout), []);
  const mark = (marked) => {
    if (marked.length === 0) return;
    const at = Date.now();
    for (const id of marked) marks.current.set(id, at);
    setIds(new Set(marks.current.keys()));
    const timer = setTimeout(() => {
      timers.current.delete(timer);
      for (const [id, when] of marks.current) {
        if (when === at) marks.current.delete(id);
      }
      setIds(new Set(marks.current.keys()));
    }, FLASH_MS);
    timers.current.add(timer);
  };
  return { ids, mark };
}
