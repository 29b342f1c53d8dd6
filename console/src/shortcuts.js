// Keyboard shortcuts: a page declares its own with useShortcuts while it is shown; the
// help overlay ("?") lists every shortcut declared at that moment. Keys typed into a
// field are the field's, except Escape; Enter and Space on a button or link press it.
import { useEffect } from "preact/hooks";

const active = new Set();
const CHANGED = "canopsis:shortcuts";

// The shortcuts declared now: [{key, what}] in the order declared.
export function declared() {
  return [...active].flat().map(({ key, what }) => ({ key, what }));
}

function typing(event) {
  const target = event.target;
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

// Enter and Space on a focused button or link press it, as the browser does.
function pressing(event) {
  const target = event.target;
  return (
    (event.key === "Enter" || event.key === " ") &&
    target instanceof HTMLElement &&
    ["BUTTON", "A", "SUMMARY"].includes(target.tagName)
  );
}

// `list`: [{key, what, run(event)}]; `key` as KeyboardEvent.key ("j", "ArrowDown", "?").
// `deps` as for useEffect: the list is taken again when they change.
export function useShortcuts(list, deps = []) {
  useEffect(() => {
    const onKey = (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key !== "Escape" && (typing(event) || pressing(event))) return;
      const found = list.find((shortcut) => shortcut.key === event.key);
      if (!found) return;
      event.preventDefault();
      found.run(event);
    };
    active.add(list);
    window.dispatchEvent(new Event(CHANGED));
    window.addEventListener("keydown", onKey);
    return () => {
      active.delete(list);
      window.removeEventListener("keydown", onKey);
      window.dispatchEvent(new Event(CHANGED));
    };
  }, deps);
}
