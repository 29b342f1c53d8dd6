// What the administrators' pages share: a confirm step for destructive actions, DELETE,
// and the API's ISO dates written as the other times of the console.
import { useState } from "preact/hooks";
import { request } from "../api.js";
import { formatTime } from "../format.js";
import "./adminkit.css";

// DELETE `path`; resolves to the answer's body (null for a 204).
export const remove = (path) => request("DELETE", path).then((r) => r.data);

// An ISO date of the API ("2026-12-03T14:00:00+00:00") in the viewer's time, "" for none.
export function isoTime(text) {
  if (!text) return "";
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? String(text) : formatTime(ms / 1000);
}

// A button that asks first: "Delete" becomes "Really delete …? [Yes] [No]" in place
// (window.confirm would block the page and hide the question from the tests).
// `onYes` may return a promise; the buttons wait for it.
export function Confirm({ label, question, onYes, disabled = false }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  const yes = async () => {
    setBusy(true);
    try {
      await onYes();
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button type="button" class="danger" disabled={busy} onClick={yes}>
        Yes
      </button>
      <button type="button" disabled={busy} onClick={() => setAsking(false)}>
        No
      </button>
    </span>
  );
}
