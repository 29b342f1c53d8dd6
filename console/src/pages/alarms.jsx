// The alarm list, the console's home page: the counts by state on top (each a filter),
// the filters, the alarms of one page, live, and (operators and admins) the actions on one
// alarm or on a selection. The URL holds the filters, the sort and the page, so a view can
// be bookmarked and the back button works: everything is read from `params`.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, withQuery } from "../api.js";
import { ErrorText, Loading, Pager } from "../components.jsx";
import { Link, navigate } from "../router.js";
import { useSession } from "../session.js";
import { useShortcuts } from "../shortcuts.js";
import { ActionControls, ActionNotices, useActions } from "./alarmactions.jsx";
import { useLiveAlarms } from "./alarmlive.js";
import { AlarmTable, alarmHref } from "./alarmtable.jsx";
import { Counts, Filters, readView, viewUrl } from "./alarmview.jsx";
import "./alarms.css";

const LIMIT = 50;

export function AlarmList({ params }) {
  const view = readView(params);
  const { can } = useSession();
  // Resolved alarms take no action (the API acts on open ones only).
  const canAct = can("operator") && view.filters.opened !== "false";
  const listPath = withQuery("/alarms", {
    ...view.filters,
    sort: view.sort,
    direction: view.direction,
    page: view.page,
    limit: LIMIT,
  });
  // The counts leave the state filter out, so every state's count stays there to click.
  const countFilters = { ...view.filters };
  delete countFilters.state;
  const countsPath = withQuery("/alarms/counts", countFilters);
  const live = useLiveAlarms(listPath, countsPath);
  const rows = live.list?.items ?? null;
  const go = (next) => navigate(viewUrl(next));

  const [selected, setSelected] = useState(() => new Set());
  const [focused, setFocused] = useState(null);
  const [menuFor, setMenuFor] = useState(null);
  const actions = useActions(rows);
  const search = useRef(null);

  const toggle = (id) =>
    setSelected((old) => {
      const next = new Set(old);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  useAlarmShortcuts({ rows, focused, setFocused, selected, toggle, canAct, actions, search });
  const closeMenu = { key: "Escape", what: "close the actions menu", run: () => setMenuFor(null) };
  useShortcuts(canAct ? [closeMenu] : [], [canAct]);

  const shown = rows ?? [];
  const chosen = shown.filter((a) => selected.has(a._id)).map((a) => a._id);
  return (
    <main class="alarm-list">
      <Counts counts={live.counts} view={view} go={go} />
      <Filters view={view} go={go} search={search} />
      {canAct && (
        <BulkBar
          chosen={chosen}
          rows={shown}
          actions={actions}
          clear={() => setSelected(new Set())}
        />
      )}
      <ActionNotices notices={actions.notices} dismiss={actions.dismiss} />
      {live.error instanceof ApiError && (
        <>
          <ErrorText error={live.error} />
          {view.page > 1 && <Link href={viewUrl({ ...view, page: 1 })}>Back to the first page</Link>}
        </>
      )}
      {rows === null && !live.error && <Loading />}
      {rows !== null && (
        <>
          <AlarmTable
            rows={rows}
            view={view}
            go={go}
            live={live}
            canAct={canAct}
            selected={selected}
            toggle={toggle}
            setAll={(on) => setSelected(new Set(on ? rows.map((a) => a._id) : []))}
            focused={focused}
            setFocused={setFocused}
            menuFor={menuFor}
            setMenuFor={setMenuFor}
            actions={actions}
          />
          <Pager
            page={view.page}
            limit={LIMIT}
            total={live.list.total}
            go={(page) => go({ ...view, page })}
          />
        </>
      )}
    </main>
  );
}

// j/k and the arrows move the focused row, x and Space select it, a acks the selection
// (or the focused row), Enter opens the focused alarm, / goes to the search box. The run
// functions read the current page through a ref: the shortcuts are declared once.
function useAlarmShortcuts(page) {
  const current = useRef(page);
  current.current = page;
  const move = (step) => {
    const { rows, focused, setFocused } = current.current;
    if (!rows || rows.length === 0) return;
    const at = rows.findIndex((a) => a._id === focused);
    const next = at < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, at + step));
    setFocused(rows[next]._id);
  };
  const focusedRow = () => {
    const { rows, focused } = current.current;
    return rows?.find((a) => a._id === focused);
  };
  const select = () => {
    const row = focusedRow();
    if (row && current.current.canAct) current.current.toggle(row._id);
  };
  const ack = () => {
    const { rows, selected, actions } = current.current;
    const chosen = (rows ?? []).filter((a) => selected.has(a._id));
    const targets = chosen.length > 0 ? chosen : [focusedRow()].filter(Boolean);
    if (targets.length > 0) {
      actions.send(
        "ack",
        targets.map((a) => a._id),
        {},
        targets,
      );
    }
  };
  const list = [
    { key: "j", what: "next alarm", run: () => move(1) },
    { key: "ArrowDown", what: "next alarm", run: () => move(1) },
    { key: "k", what: "previous alarm", run: () => move(-1) },
    { key: "ArrowUp", what: "previous alarm", run: () => move(-1) },
    {
      key: "Enter",
      what: "open the alarm",
      run: () => {
        const row = focusedRow();
        if (row) navigate(alarmHref(row._id));
      },
    },
    { key: "/", what: "search", run: () => current.current.search.current?.focus() },
  ];
  if (page.canAct) {
    list.push(
      { key: "x", what: "select the alarm", run: select },
      { key: " ", what: "select the alarm", run: select },
      { key: "a", what: "ack the selected alarms (or the focused one)", run: ack },
    );
  }
  useShortcuts(list, [page.canAct]);

  // The focused row stays in sight.
  useEffect(() => {
    if (!page.focused) return;
    const row = document.querySelector(`tr[data-id="${CSS.escape(page.focused)}"]`);
    row?.scrollIntoView({ block: "nearest" });
  }, [page.focused]);
}
function BulkBar({ chosen, rows, actions, clear }) {
  if (chosen.length === 0) return null;
  return (
    <section class="bulk panel" aria-label="selection">
      <span>
        {chosen.length} selected{" "}
        <button type="button" onClick={clear}>
          Clear selection
        </button>
      </span>
      <ActionControls ids={chosen} rows={rows} send={actions.send} onSent={clear} />
    </section>
  );
}
