// The entities: a searchable list (search, type, connector, enabled), each row linking to
// the entity's page. The filters and the page live in the URL (bookmarkable, the back
// button works): changing one navigates to the new query.
import { useEffect, useRef, useState } from "preact/hooks";
import { get, withQuery } from "../api.js";
import { ErrorText, Loading, Pager } from "../components.jsx";
import { formatTime } from "../format.js";
import { BASE, Link, navigate } from "../router.js";
import { useShortcuts } from "../shortcuts.js";
import { entityHref } from "./alarm.jsx";
import "./entities.css";

const LIMIT = 50;
const TYPES = ["component", "resource", "connector"];
const FILTERS = ["search", "type", "connector", "enabled"];
// Typing in the search box changes the URL once the user pauses.
const TYPING_MS = 300;

// The filters of the URL, as the API takes them.
function filtersOf(params) {
  const filters = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
  const page = Number.parseInt(params.get("page") || "1", 10);
  return { ...filters, page: page > 0 ? page : 1 };
}

// Go to the list with `filters` (a changed filter starts again at page 1).
function go(filters, { replace = false } = {}) {
  const query = withQuery(`${BASE}/entities`, {
    ...filters,
    page: filters.page > 1 ? filters.page : "",
  });
  navigate(query, { replace });
}

export function EntityList({ params }) {
  const filters = filtersOf(params);
  const key = withQuery("/entities", { ...filters, limit: LIMIT });
  const [body, setBody] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    get(key, { signal: controller.signal })
      .then(setBody)
      .catch((e) => e.name !== "AbortError" && setError(e));
    return () => controller.abort();
  }, [key]);
  const change = (name, value) => go({ ...filters, [name]: value, page: 1 });
  return (
    <main class="entities">
      <h1>Entities</h1>
      <Filters filters={filters} change={change} />
      <ErrorText error={error} />
      {!body && !error && <Loading />}
      {body && <EntityTable items={body.items} />}
      {body && (
        <Pager
          page={body.page}
          limit={body.limit}
          total={body.total}
          go={(page) => go({ ...filters, page })}
        />
      )}
    </main>
  );
}

function Filters({ filters, change }) {
  const search = useRef(null);
  const [text, setText] = useState(filters.search);
  const [connectors, setConnectors] = useState([]);
  useShortcuts([{ key: "/", what: "search the entities", run: () => search.current.focus() }], []);
  // The box follows the URL (back button), unless the user is typing in it.
  useEffect(() => {
    if (document.activeElement !== search.current) setText(filters.search);
  }, [filters.search]);
  useEffect(() => {
    if (text === filters.search) return undefined;
    const timer = setTimeout(() => change("search", text), TYPING_MS);
    return () => clearTimeout(timer);
  }, [text]);
  useEffect(() => {
    get(withQuery("/entities", { type: "connector", limit: 1000 }))
      .then((body) => setConnectors(body.items.map((item) => item._id)))
      .catch(() => setConnectors([]));
  }, []);
  return (
    <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
      <label>
        Search
        <input
          ref={search}
          type="search"
          placeholder="id or name"
          value={text}
          onInput={(e) => setText(e.target.value)}
        />
      </label>
      <label>
        Type
        <select value={filters.type} onChange={(e) => change("type", e.target.value)}>
          <option value="">any</option>
          {TYPES.map((type) => (
            <option key={type} value={type}>
              {type}
            </option>
          ))}
        </select>
      </label>
      <label>
        Connector
        <select value={filters.connector} onChange={(e) => change("connector", e.target.value)}>
          <option value="">any</option>
          {[...new Set([...connectors, filters.connector].filter(Boolean))].map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
      </label>
      <label>
        Enabled
        <select value={filters.enabled} onChange={(e) => change("enabled", e.target.value)}>
          <option value="">any</option>
          <option value="true">enabled</option>
          <option value="false">disabled</option>
        </select>
      </label>
    </form>
  );
}

function EntityTable({ items }) {
  if (items.length === 0) return <p class="muted">No entity matches.</p>;
  return (
    <table class="list entity-list">
      <thead>
        <tr>
          <th>Entity</th>
          <th>Type</th>
          <th class="wide">Component</th>
          <th class="wide">Connector</th>
          <th>Enabled</th>
          <th class="wide">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {items.map((entity) => (
          <tr key={entity._id} data-entity={entity._id}>
            <td>
              <Link href={entityHref(entity._id)}>{entity._id}</Link>
            </td>
            <td>{entity.type}</td>
            <td class="wide">{entity.component || ""}</td>
            <td class="wide">{entity.connector || ""}</td>
            <td>{entity.enabled === false ? "disabled" : "enabled"}</td>
            <td class="wide">{formatTime(entity.last_seen)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
