// The calendar of the pbehaviors' periods in the viewer's time zone: a week (days side by
// side, hours down) or a month (six weeks of days), with previous / next / today. Its view
// and date live in the URL (?view=month&date=2026-12-03), so it can be bookmarked.
import { useEffect, useState } from "preact/hooks";
import { withQuery } from "../api.js";
import { ErrorText } from "../components.jsx";
import { formatTime } from "../format.js";
import { BASE, navigate } from "../router.js";
import { useShortcuts } from "../shortcuts.js";
import { usePeriods } from "./pbhperiods.js";
import {
  addDays,
  browserZone,
  byDay,
  clock,
  dateText,
  moved,
  parseDate,
  shownDays,
  WEEKDAY_NAMES,
} from "./pbhtime.js";

// The week view's hour labels, every so many hours.
const HOUR_MARKS = [0, 3, 6, 9, 12, 15, 18, 21];
// A month's day lists this many periods, then "+N more".
const DAY_LINES = 3;

// The current minute, to draw "now" and to know which day is today.
function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 60000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function calendarUrl(params, changes) {
  const query = Object.fromEntries(params);
  return withQuery(`${BASE}/pbehaviors`, { ...query, ...changes });
}

export function Calendar({ items, version, params }) {
  const view = params.get("view") === "month" ? "month" : "week";
  const anchor = parseDate(params.get("date")) ?? new Date();
  const { from, days } = shownDays(view, anchor);
  const fromS = from.getTime() / 1000;
  const toS = addDays(from, days).getTime() / 1000;
  const { periods, error } = usePeriods(items, fromS, toS, version);
  const now = useNow();
  const go = (changes) => navigate(calendarUrl(params, changes), { replace: true });
  const step = (n) => go({ date: dateText(moved(view, anchor, n)) });
  useShortcuts(
    [
      { key: "[", what: "calendar: previous week or month", run: () => step(-1) },
      { key: "]", what: "calendar: next week or month", run: () => step(1) },
      { key: "t", what: "calendar: today", run: () => go({ date: undefined }) },
    ],
    [params.toString()],
  );

  return (
    <section class="panel pbh-calendar" aria-label="calendar" data-view={view}>
      <div class="pbh-cal-head">
        <h2>{title(view, anchor, from)}</h2>
        <span class="muted">times in {browserZone()}</span>
        <span class="pbh-cal-nav" role="group" aria-label="calendar navigation">
          <button type="button" onClick={() => step(-1)}>
            ‹ Previous
          </button>
          <button type="button" onClick={() => go({ date: undefined })}>
            Today
          </button>
          <button type="button" onClick={() => step(1)}>
            Next ›
          </button>
        </span>
        <span class="pbh-cal-views" role="group" aria-label="calendar view">
          {["week", "month"].map((name) => (
            <button
              key={name}
              type="button"
              aria-pressed={view === name ? "true" : "false"}
              onClick={() => go({ view: name === "week" ? undefined : name })}
            >
              {name === "week" ? "Week" : "Month"}
            </button>
          ))}
        </span>
      </div>
      <ErrorText error={error} />
      {periods === null ? (
        <p class="muted">Loading the periods…</p>
      ) : view === "week" ? (
        <Week days={byDay(periods, from, 7)} now={now} />
      ) : (
        <Month days={byDay(periods, from, days)} month={anchor.getMonth()} now={now} />
      )}
    </section>
  );
}

// "Week of 2026-11-30" or "December 2026".
function title(view, anchor, from) {
  if (view === "month") {
    return anchor.toLocaleDateString("en", { month: "long", year: "numeric" });
  }
  return `Week of ${dateText(from)}`;
}

const dayLabel = (ms) => {
  const d = new Date(ms);
  return `${WEEKDAY_NAMES[(d.getDay() + 6) % 7]} ${d.getDate()}`;
};

const isToday = (day, now) => day.dayStart <= now && now < day.dayEnd;

// What a period says when pointed at: its pbehavior and its whole span.
const periodTitle = (piece) =>
  `${piece.pbehavior.name} (${piece.pbehavior.type}): ${formatTime(piece.start)} – ` +
  `${formatTime(piece.end)}`;

function Week({ days, now }) {
  return (
    <div class="pbh-week">
      <div class="pbh-week-hours" aria-hidden="true">
        <div class="pbh-week-day-head" />
        <div class="pbh-week-track">
          {HOUR_MARKS.map((hour) => (
            <span key={hour} class="pbh-hour" style={{ top: `${(hour / 24) * 100}%` }}>
              {String(hour).padStart(2, "0")}:00
            </span>
          ))}
        </div>
      </div>
      {days.map((day) => (
        <div
          key={day.dayStart}
          class={isToday(day, now) ? "pbh-week-day pbh-today" : "pbh-week-day"}
          data-day={dateText(new Date(day.dayStart))}
        >
          <div class="pbh-week-day-head">{dayLabel(day.dayStart)}</div>
          <div class="pbh-week-track">
            {day.pieces.map((piece) => (
              <WeekBlock key={`${piece.pbehavior._id}/${piece.from}`} piece={piece} day={day} />
            ))}
            {isToday(day, now) && (
              <div class="pbh-now-line" style={{ top: `${fraction(now, day) * 100}%` }} />
            )}
          </div>
        </div>
      ))}
    </div>
  );
}

const fraction = (ms, day) => (ms - day.dayStart) / (day.dayEnd - day.dayStart);

// One period's part in one day, placed by its hours (element.style: the CSP allows no
// style attribute in markup, and the CSSOM is fine).
function WeekBlock({ piece, day }) {
  const top = fraction(piece.from, day) * 100;
  const height = Math.max(fraction(piece.to, day) * 100 - top, 0.8);
  const style = {
    top: `${top}%`,
    height: `${height}%`,
    left: `${(piece.lane / piece.lanes) * 100}%`,
    width: `${100 / piece.lanes}%`,
  };
  return (
    <div
      class={`pbh-event pbh-type-${piece.pbehavior.type}`}
      style={style}
      title={periodTitle(piece)}
      data-pbehavior={piece.pbehavior._id}
    >
      <span class="pbh-event-time">{clock(piece.from)}</span> {piece.pbehavior.name}
    </div>
  );
}

function Month({ days, month, now }) {
  return (
    <div class="pbh-month">
      {WEEKDAY_NAMES.map((name) => (
        <div key={name} class="pbh-month-weekday">
          {name}
        </div>
      ))}
      {days.map((day) => {
        const date = new Date(day.dayStart);
        const classes = ["pbh-month-day"];
        if (date.getMonth() !== month) classes.push("pbh-other-month");
        if (isToday(day, now)) classes.push("pbh-today");
        const more = day.pieces.length - DAY_LINES;
        return (
          <div key={day.dayStart} class={classes.join(" ")} data-day={dateText(date)}>
            <div class="pbh-month-date">{date.getDate()}</div>
            {day.pieces.slice(0, DAY_LINES).map((piece) => (
              <div
                key={`${piece.pbehavior._id}/${piece.from}`}
                class={`pbh-event pbh-type-${piece.pbehavior.type}`}
                title={periodTitle(piece)}
                data-pbehavior={piece.pbehavior._id}
              >
                <span class="pbh-event-time">
                  {piece.from === day.dayStart ? "…" : clock(piece.from)}
                </span>{" "}
                {piece.pbehavior.name}
              </div>
            ))}
            {more > 0 && <div class="muted pbh-more">+{more} more</div>}
          </div>
        );
      })}
    </div>
  );
}
