// Routes of the console live in the address bar (path and query), so a view can be
// bookmarked and shared and the back button works. Every route is under /console.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";
const NAVIGATED = "canopsis:navigate";

function current() {
  const path = location.pathname.replace(/\/+$/, "") || BASE;
  return { path, params: new URLSearchParams(location.search), url: path + location.search };
}

// Go to `url` (a path under /console with its query): a new history entry, or the
// current one replaced (`replace`, for changes that are not a step back).
export function navigate(url, { replace = false } = {}) {
  if (url === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", url);
  window.dispatchEvent(new Event(NAVIGATED));
}

// The current {path, params, url}, re-rendering the component when it changes.
export function useLocation() {
  const [where, setWhere] = useState(current);
  useEffect(() => {
    const changed = () => setWhere(current());
    window.addEventListener("popstate", changed);
    window.addEventListener(NAVIGATED, changed);
    return () => {
      window.removeEventListener("popstate", changed);
      window.removeEventListener(NAVIGATED, changed);
    };
  }, []);
  return where;
}

// A link that changes the view without reloading (a plain link for a new tab or window).
export function Link({ href, children, ...props }) {
  const follow = (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    navigate(href);
  };
  return h("a", { href, onClick: follow, ...props }, children);
}
