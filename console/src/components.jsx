// Small pieces the pages share. Every text from an event or the API is a child text
// node (never markup): Preact escapes it.
import { stateName, statusName } from "./format.js";

export function StateBadge({ value }) {
  return (
    <span class={`state state-${value}`} data-state={value}>
      {stateName(value)}
    </span>
  );
}

export function StatusBadge({ value }) {
  return (
    <span class={`status status-${value}`} data-status={value}>
      {statusName(value)}
    </span>
  );
}

// An error of the API: its message and the fields it names.
export function ErrorText({ error }) {
  if (!error) return null;
  const fields = Object.entries(error.fields || {});
  return (
    <div class="error" role="alert">
      {error.message}
      {fields.length > 0 && (
        <ul>
          {fields.map(([name, why]) => (
            <li key={name}>
              <code>{name}</code>: {String(why)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading() {
  return <p class="loading">Loading…</p>;
}

// Pages of a list: "1–50 of 1,234" and the links to the others through `go(page)`.
export function Pager({ page, limit, total, go }) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const first = total === 0 ? 0 : (page - 1) * limit + 1;
  const last = Math.min(total, page * limit);
  return (
    <nav class="pager" aria-label="pages">
      <button type="button" disabled={page <= 1} onClick={() => go(page - 1)}>
        ‹ Previous
      </button>
      <span class="pager-where">
        {first}–{last} of {total.toLocaleString("en")} (page {page} of {pages})
      </span>
      <button type="button" disabled={page >= pages} onClick={() => go(page + 1)}>
        Next ›
      </button>
    </nav>
  );
}
