// The console's frame: who is logged in, the routes, the header, the connection banner
// and the help overlay. An expired session (any 401) brings the login page back, and
// then the page the user was on.
import { useEffect, useState } from "preact/hooks";
import { get, post, UNAUTHORIZED, watchConnection } from "./api.js";
import { Loading } from "./components.jsx";
import { Login } from "./login.jsx";
import { allows } from "./format.js";
import { AlarmDetail } from "./pages/alarm.jsx";
import { AlarmList } from "./pages/alarms.jsx";
import { DeadLetters } from "./pages/deadletters.jsx";
import { EntityList } from "./pages/entities.jsx";
import { EntityPage } from "./pages/entity.jsx";
import { Heartbeats } from "./pages/heartbeats.jsx";
import { Pbehaviors } from "./pages/pbehaviors.jsx";
import { Pipeline } from "./pages/pipeline.jsx";
import { Rules } from "./pages/rules.jsx";
import { Users } from "./pages/users.jsx";
import { BASE, Link, navigate, useLocation } from "./router.js";
import { Session } from "./session.js";
import { declared, useShortcuts } from "./shortcuts.js";

const LOGIN = `${BASE}/login`;

// Every page: its path, the role it needs (the API refuses the rest anyway), its name in
// the header (none: reached through links) and what it shows.
const PAGES = [
  {
    path: BASE,
    role: "viewer",
    name: "Alarms",
    show: ({ params }) => <AlarmList params={params} />,
  },
  {
    path: `${BASE}/alarm`,
    role: "viewer",
    show: ({ params }) => <AlarmDetail id={params.get("id")} />,
  },
  {
    path: `${BASE}/entities`,
    role: "viewer",
    name: "Entities",
    show: ({ params }) => <EntityList params={params} />,
  },
  {
    path: `${BASE}/entity`,
    role: "viewer",
    show: ({ params }) => <EntityPage id={params.get("id")} />,
  },
  {
    path: `${BASE}/pbehaviors`,
    role: "viewer",
    name: "Maintenance",
    show: ({ params }) => <Pbehaviors params={params} />,
  },
  {
    path: `${BASE}/heartbeats`,
    role: "viewer",
    name: "Heartbeats",
    show: ({ params }) => <Heartbeats params={params} />,
  },
  {
    path: `${BASE}/rules`,
    role: "viewer",
    name: "Rules",
    show: ({ params }) => <Rules params={params} />,
  },
  {
    path: `${BASE}/pipeline`,
    role: "viewer",
    name: "Pipeline",
    show: ({ params }) => <Pipeline params={params} />,
  },
  {
    path: `${BASE}/deadletters`,
    role: "viewer",
    name: "Dead letters",
    show: ({ params }) => <DeadLetters params={params} />,
  },
  {
    path: `${BASE}/users`,
    role: "admin",
    name: "Users",
    show: ({ params }) => <Users params={params} />,
  },
];

function loginUrl() {
  return `${LOGIN}?next=${encodeURIComponent(location.pathname + location.search)}`;
}

export function App() {
  const where = useLocation();
  const [user, setUser] = useState(undefined); // undefined: not known yet; null: logged out
  useEffect(() => {
    get("/auth/me")
      .then(setUser)
      .catch(() => setUser(null));
    const expired = () => setUser(null);
    window.addEventListener(UNAUTHORIZED, expired);
    return () => window.removeEventListener(UNAUTHORIZED, expired);
  }, []);
  useEffect(() => {
    if (user === null && where.path !== LOGIN) navigate(loginUrl(), { replace: true });
  }, [user, where.path]);

  if (user === undefined) return <Loading />;
  if (user === null || where.path === LOGIN) {
    const loggedIn = (who) => {
      setUser(who);
      const next = where.params.get("next");
      navigate(next && next.startsWith(`${BASE}`) ? next : `${BASE}/`, { replace: true });
    };
    return user ? <Redirect to={`${BASE}/`} /> : <Login onLoggedIn={loggedIn} />;
  }
  const page = PAGES.find((p) => p.path === where.path && allows(user.role, p.role));
  const Page = page?.show;
  return (
    <Session.Provider value={user}>
      <Header user={user} path={where.path} onLogout={() => setUser(null)} />
      <ConnectionBanner />
      <div class="page">{Page ? <Page params={where.params} /> : <NotFound />}</div>
      <Help />
    </Session.Provider>
  );
}

function Redirect({ to }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function NotFound() {
  return (
    <main>
      <h1>Not found</h1>
      <p>
        No page here. <Link href={`${BASE}/`}>The alarm list</Link>
      </p>
    </main>
  );
}

function Header({ user, path, onLogout }) {
  const logout = async () => {
    await post("/auth/logout").catch(() => null);
    onLogout();
  };
  const current = (href) => (path === href ? "page" : undefined);
  return (
    <header class="top">
      <Link href={`${BASE}/`} class="brand">
        canopsis
      </Link>
      <nav>
        {PAGES.filter((p) => p.name && allows(user.role, p.role)).map((p) => (
          <Link
            key={p.path}
            href={p.path === BASE ? `${BASE}/` : p.path}
            aria-current={current(p.path)}
          >
            {p.name}
          </Link>
        ))}
      </nav>
      <span class="who">
        {user.name} <span class="role">({user.role})</span>
      </span>
      <button type="button" class="logout" onClick={logout}>
        Log out
      </button>
    </header>
  );
}

function ConnectionBanner() {
  const [online, setOnline] = useState(true);
  useEffect(() => watchConnection((c) => setOnline(c.online)), []);
  if (online) return null;
  return (
    <div class="offline" role="status">
      The server cannot be reached; retrying. What you see may be out of date.
    </div>
  );
}

function Help() {
  const [shown, setShown] = useState(false);
  const [list, setList] = useState([]);
  useShortcuts(
    [
      { key: "?", what: "show or hide this help", run: () => setShown((s) => !s) },
      { key: "Escape", what: "close this help", run: () => setShown(false) },
    ],
    [],
  );
  useEffect(() => {
    const changed = () => setList(declared());
    changed();
    window.addEventListener("canopsis:shortcuts", changed);
    return () => window.removeEventListener("canopsis:shortcuts", changed);
  }, []);
  if (!shown) return null;
  return (
    <div class="overlay" role="dialog" aria-label="keyboard shortcuts">
      <div class="help">
        <h2>Keyboard shortcuts</h2>
        <table>
          <tbody>
            {list.map(({ key, what }) => (
              <tr key={key + what}>
                <td>
                  <kbd>{key === " " ? "Space" : key}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" onClick={() => setShown(false)}>
          Close
        </button>
      </div>
    </div>
  );
}
