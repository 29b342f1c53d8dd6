// The dead letters: the events canopsis refused, newest first, with why. A row opens the
// letter (?id=) with its raw body; an admin replays it as it is, edits then replays it
// (the API keeps the original and lists the replays), deletes it, or purges by age.
// Viewers and operators see the same list and bodies without any control.
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post, segment, withQuery } from "../api.js";
import { ErrorText, Loading, Pager } from "../components.jsx";
import { age, formatTime } from "../format.js";
import { BASE, Link, navigate } from "../router.js";
import { useSession } from "../session.js";
import { Confirm, remove } from "./adminkit.jsx";
import "./deadletters.css";

const LIMIT = 50;
// New letters show up by themselves this often (ms).
const REFRESH = 10_000;
const AGES = [
  ["1 h", 3600],
  ["1 day", 86400],
  ["1 week", 7 * 86400],
];

const here = (page, id) =>
  withQuery(`${BASE}/deadletters`, { page: page > 1 ? page : undefined, id });

// The body as stored, indented when it is JSON (a body that is not is shown as it is).
function pretty(body) {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

const reasonText = (r) => (r.field ? `${r.field}: ${r.reason}` : r.reason);

export function DeadLetters({ params }) {
  const page = Math.max(1, Number(params.get("page")) || 1);
  const id = params.get("id");
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  return (
    <main class="deadletters">
      <h1>Dead letters</h1>
      <p class="muted">
        Events canopsis refused, kept with the reasons. Open one to read its body.
      </p>
      <PurgeByAge onPurged={reload} />
      <div class={id ? "dl-columns" : ""}>
        <LetterList page={page} selected={id} version={version} />
        {id && (
          <LetterDetail
            key={id}
            id={id}
            onGone={() => {
              navigate(here(page), { replace: true });
              reload();
            }}
            onChanged={reload}
          />
        )}
      </div>
    </main>
  );
}

// A page of letters, polled so new ones appear without a reload.
function LetterList({ page, selected, version }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      get(withQuery("/deadletters", { page, limit: LIMIT }))
        .then((d) => live && (setData(d), setError(null)))
        .catch((e) => live && setError(e));
    load();
    const timer = setInterval(load, REFRESH);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [page, version]);
  if (!data) return error ? <ErrorText error={error} /> : <Loading />;
  return (
    <section>
      <ErrorText error={error} />
      {data.total === 0 ? (
        <p class="muted">No dead letter: every event was used.</p>
      ) : (
        <table class="list dl-list">
          <thead>
            <tr>
              <th>When</th>
              <th class="wide">Engine</th>
              <th>Reasons</th>
              <th class="wide">Routing key</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((letter) => (
              <LetterRow
                key={letter._id}
                letter={letter}
                href={here(page, letter._id)}
                selected={letter._id === selected}
              />
            ))}
          </tbody>
        </table>
      )}
      <Pager page={page} limit={LIMIT} total={data.total} go={(p) => navigate(here(p))} />
    </section>
  );
}

function LetterRow({ letter, href, selected }) {
  const reasons = letter.reasons || [];
  return (
    <tr
      class={selected ? "selected dl-row" : "dl-row"}
      data-letter={letter._id}
      onClick={(e) => e.target.tagName !== "A" && navigate(href)}
    >
      <td class="dl-when">
        <Link href={href}>{formatTime(letter.time)}</Link>
        <div class="muted">{age(letter.time)} ago</div>
      </td>
      <td class="wide">{letter.engine}</td>
      <td>
        <ul class="dl-reasons">
          {reasons.map((r, i) => (
            <li key={i}>{reasonText(r)}</li>
          ))}
        </ul>
        {letter.replays?.length > 0 && (
          <span class="badge">replayed ×{letter.replays.length}</span>
        )}
      </td>
      <td class="wide">
        <code>{letter.routing_key}</code>
      </td>
    </tr>
  );
}

// One letter: its facts, reasons, body and replays; the admin's controls.
function LetterDetail({ id, onGone, onChanged }) {
  const { can } = useSession();
  const [letter, setLetter] = useState(null);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    get(`/deadletters/${segment(id)}`)
      .then((d) => (setLetter(d), setError(null)))
      .catch(setError);
  }, [id, version]);
  if (error?.status === 404) {
    return (
      <section class="panel dl-detail">
        <p>This dead letter is gone (replayed, deleted or purged).</p>
        <Link href={`${BASE}/deadletters`}>Back to the list</Link>
      </section>
    );
  }
  if (!letter) return error ? <ErrorText error={error} /> : <Loading />;
  const replayed = (what) => {
    setDone(what);
    setVersion((v) => v + 1);
    onChanged();
  };
  return (
    <section class="panel dl-detail" aria-label="dead letter">
      <h2>Refused {formatTime(letter.time)}</h2>
      <dl class="facts">
        <dt>Engine</dt>
        <dd>{letter.engine}</dd>
        <dt>Routing key</dt>
        <dd>
          <code>{letter.routing_key}</code>
        </dd>
        <dt>Reasons</dt>
        <dd>
          <ul class="dl-reasons">
            {(letter.reasons || []).map((r, i) => (
              <li key={i}>{reasonText(r)}</li>
            ))}
          </ul>
        </dd>
      </dl>
      {done && (
        <p class="done" role="status">
          {done}
        </p>
      )}
      {can("admin") && (
        <LetterActions letter={letter} onReplayed={replayed} onGone={onGone} />
      )}
      <h3>Body</h3>
      {letter.body_encoding === "base64" && (
        <p class="muted">Not UTF-8 text: the bytes in base64.</p>
      )}
      {letter.body_truncated && (
        <p class="muted">
          Kept cut: the body was {letter.body_truncated.toLocaleString("en")} bytes.
        </p>
      )}
      <pre class="dl-body">{pretty(letter.body)}</pre>
      <Replays replays={letter.replays || []} />
    </section>
  );
}

// Replay as it is (the API then deletes the letter), edit then replay (the letter stays
// with the replay beside it), delete.
function LetterActions({ letter, onReplayed, onGone }) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState(null);
  const path = `/deadletters/${segment(letter._id)}`;
  const asItIs = async () => {
    try {
      await post(`${path}/replay`);
      onGone();
    } catch (e) {
      setError(e);
    }
  };
  const erase = async () => {
    try {
      await remove(path);
      onGone();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <div class="actions">
        <button
          type="button"
          disabled={Boolean(letter.body_truncated)}
          title={letter.body_truncated ? "a body kept cut cannot be replayed" : undefined}
          onClick={asItIs}
        >
          Replay as it is
        </button>
        <button type="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
          Edit and replay
        </button>
        <Confirm label="Delete" question="Really delete this dead letter?" onYes={erase} />
      </div>
      <ErrorText error={error} />
      {editing && (
        <Editor
          letter={letter}
          path={`${path}/replay`}
          onSent={(key) => {
            setEditing(false);
            onReplayed(`Replayed the corrected event with the routing key ${key}.`);
          }}
        />
      )}
    </div>
  );
}

// The body in a textarea; sent as the corrected event (one JSON object, checked by the
// API as POST /event checks one: a 400 names the field).
function Editor({ letter, path, onSent }) {
  const [text, setText] = useState(() => pretty(letter.body));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (event) => {
    event.preventDefault();
    let corrected;
    try {
      corrected = JSON.parse(text);
    } catch (e) {
      setError(new ApiError(0, `not JSON: ${e.message}`));
      return;
    }
    if (!corrected || typeof corrected !== "object" || Array.isArray(corrected)) {
      setError(new ApiError(0, "the corrected event must be one JSON object"));
      return;
    }
    setBusy(true);
    try {
      const answer = await post(path, corrected);
      onSent(answer.routing_key);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="dl-editor" onSubmit={send}>
      <label for="dl-corrected">The corrected event</label>
      <textarea
        id="dl-corrected"
        rows={Math.min(24, text.split("\n").length + 2)}
        spellcheck={false}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      <ErrorText error={error} />
      <button type="submit" class="primary" disabled={busy}>
        Replay the corrected event
      </button>
    </form>
  );
}

function Replays({ replays }) {
  if (replays.length === 0) return null;
  return (
    <div class="dl-replays">
      <h3>Replays with a corrected body</h3>
      <ol>
        {replays.map((r) => (
          <li key={r.time}>
            {formatTime(r.time)} by {r.by}, routing key <code>{r.routing_key}</code>
            <pre class="dl-body">{pretty(r.body)}</pre>
          </li>
        ))}
      </ol>
    </div>
  );
}

// Admin only: delete the letters older than a chosen age, after a confirm step.
function PurgeByAge({ onPurged }) {
  const { can } = useSession();
  const [seconds, setSeconds] = useState(AGES[1][1]);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  if (!can("admin")) return null;
  const name = AGES.find(([, s]) => s === seconds)[0];
  const purge = async () => {
    try {
      const before = Math.floor(Date.now() / 1000) - seconds;
      const answer = await remove(withQuery("/deadletters", { before }));
      setDone(`Deleted ${answer.deleted} dead letter${answer.deleted === 1 ? "" : "s"}.`);
      setError(null);
      onPurged();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div class="panel dl-purge">
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label>
          Purge the letters older than
          <select
            value={seconds}
            onChange={(e) => (setSeconds(Number(e.currentTarget.value)), setDone(null))}
          >
            {AGES.map(([label, s]) => (
              <option key={s} value={s}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <Confirm
          label="Purge"
          question={`Really delete every dead letter older than ${name}?`}
          onYes={purge}
        />
      </form>
      {done && (
        <p class="done" role="status">
          {done}
        </p>
      )}
      <ErrorText error={error} />
    </div>
  );
}
