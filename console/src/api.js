// Calls of the canopsis REST API (/api/v2): JSON in and out, the session cookie of the
// page; an error answer becomes an ApiError with the API's message and the fields it
// names. Whether the server answers at all is kept in `connection` for the banner.

export class ApiError extends Error {
  constructor(status, message, fields = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

export class Unreachable extends Error {}

const watchers = new Set();
export const connection = { online: true, since: null };

// Call `watcher(connection)` on every change of `connection`; returns the unsubscriber.
export function watchConnection(watcher) {
  watchers.add(watcher);
  return () => watchers.delete(watcher);
}

function setOnline(online) {
  if (connection.online === online) return;
  connection.online = online;
  connection.since = Date.now();
  for (const watcher of watchers) watcher({ ...connection });
}

// Said to the page when the session is gone (401 on anything but the login itself).
export const UNAUTHORIZED = "canopsis:unauthorized";

// `method` `path` (below /api/v2) with `body` as JSON; `etag`: the ETag of the copy the
// caller holds, answered {status: 304} when it did not change.
// Resolves to {status, data, etag}.
export async function request(method, path, { body, etag, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-None-Match"] = etag;
  let resp;
  try {
    resp = await fetch(`/api/v2${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    setOnline(false);
    throw new Unreachable("the server cannot be reached");
  }
  if (resp.status === 502 || resp.status === 504) {
    setOnline(false);
    throw new Unreachable(`the server cannot be reached (${resp.status})`);
  }
  setOnline(true);
  if (resp.status === 304) return { status: 304, data: null, etag };
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const error = data && data.error ? data.error : {};
    if (resp.status === 401 && path !== "/auth/login") {
      window.dispatchEvent(new Event(UNAUTHORIZED));
    }
    throw new ApiError(
      resp.status,
      error.message || `${resp.status} ${resp.statusText}`,
      error.fields || {},
    );
  }
  return { status: resp.status, data, etag: resp.headers.get("ETag") };
}

export const get = (path, options) => request("GET", path, options).then((r) => r.data);
export const post = (path, body) => request("POST", path, { body }).then((r) => r.data);
export const put = (path, body) => request("PUT", path, { body }).then((r) => r.data);

// `path` with the query of `params`, leaving out empty values (arrays repeat the name).
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) query.append(name, String(one));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

// An id as a path segment of the API.
export const segment = (id) => encodeURIComponent(id);
