// The heartbeat definitions as the tree their `parent` fields make, with the state of each
// (from /heartbeats/status) and what is wrong with the tree. The API checks each definition
// alone, not the tree (unknown parents, cycles, a parent's interval not above a child's),
// so the page says it here (the same rules as canopsis.domain.heartbeat.check_tree).

// What a heartbeat is now: "late", "ok" (on time) or "untracked" (the engine has not
// looked at it yet: a new definition, or the heartbeat engine is not running).
export function stateOf(status) {
  if (!status || status.silent_for === null || status.silent_for === undefined) {
    return "untracked";
  }
  return status.late ? "late" : "ok";
}

export const STATE_NAMES = { ok: "on time", late: "late", untracked: "not tracked yet" };

// When a late heartbeat turned late, in epoch seconds of the viewer's clock: `silent_for`
// is counted at the server's now, i.e. when the answer was `fetched` (ms).
export function lateSince(status, fetched) {
  if (stateOf(status) !== "late" || typeof status.interval !== "number") return null;
  return fetched / 1000 - status.silent_for + status.interval;
}

// Whether `id`'s parents lead back to it.
function inCycle(id, byId) {
  const seen = new Set();
  let at = byId.get(id)?.defn.parent;
  while (at !== undefined && byId.has(at) && !seen.has(at)) {
    if (at === id) return true;
    seen.add(at);
    at = byId.get(at).defn.parent;
  }
  return false;
}

// The nodes {defn, status, children, problems, lateBelow}: the roots, sorted by _id. A
// node whose parent is unknown or whose parents form a cycle is shown as a root, with
// the problem, so every definition is in sight once.
export function buildTree(definitions, statuses) {
  const byId = new Map();
  for (const defn of definitions) {
    const status = statuses.get(defn._id) ?? null;
    byId.set(defn._id, { defn, status, children: [], problems: [], lateBelow: 0 });
  }
  const roots = [];
  for (const node of byId.values()) {
    const parentId = node.defn.parent;
    const parent = parentId === undefined ? undefined : byId.get(parentId);
    if (parentId !== undefined && !parent) {
      node.problems.push(`its parent ${parentId} does not exist`);
    } else if (parent && inCycle(node.defn._id, byId)) {
      node.problems.push("its parents form a cycle");
    } else if (parent) {
      parent.children.push(node);
      const wrong = intervalProblem(node.defn.interval, parent.defn);
      if (wrong) node.problems.push(wrong);
      continue;
    }
    roots.push(node);
  }
  const byName = (a, b) => (a.defn._id < b.defn._id ? -1 : 1);
  const settle = (node) => {
    node.children.sort(byName);
    node.lateBelow = node.children.reduce(
      (sum, child) => sum + settle(child) + (stateOf(child.status) === "late" ? 1 : 0),
      0,
    );
    return node.lateBelow;
  };
  roots.sort(byName).forEach(settle);
  return roots;
}

// Why a child of `parent` may not have `interval` (null when it may).
function intervalProblem(interval, parent) {
  if (typeof interval !== "number" || typeof parent.interval !== "number") return null;
  if (parent.interval > interval) return null;
  return (
    `its interval (${interval} s) must be less than its parent ${parent._id}'s ` +
    `(${parent.interval} s), or the parent turns late while this one is on time`
  );
}

// The interval a definition `id` (null: a new one) with parent `parentId` may have:
// {above: the largest interval of its children, or null, with that child's id;
// below: its parent's interval, or null, with the parent's id}.
export function intervalBounds(definitions, id, parentId) {
  let above = null;
  let child = null;
  for (const defn of definitions) {
    if (id !== null && defn.parent === id && typeof defn.interval === "number") {
      if (above === null || defn.interval > above) {
        above = defn.interval;
        child = defn._id;
      }
    }
  }
  const parent = parentId ? definitions.find((d) => d._id === parentId) : undefined;
  const below = parent && typeof parent.interval === "number" ? parent.interval : null;
  return { above, child, below, parent: parent ? parent._id : null };
}

// Why `interval` breaks the tree's rule within `bounds` (null when it does not).
export function boundsProblem(interval, bounds) {
  if (bounds.above !== null && interval <= bounds.above) {
    return (
      `must be greater than the interval of its child ${bounds.child} (${bounds.above} s): ` +
      "a parent hears of its children through them"
    );
  }
  if (bounds.below !== null && interval >= bounds.below) {
    return (
      `must be less than the interval of its parent ${bounds.parent} (${bounds.below} s): ` +
      "a parent hears of its children through them"
    );
  }
  return null;
}

// The ids `id` may take as parent: all but itself and those below it (no cycle).
export function possibleParents(definitions, id) {
  if (id === null) return definitions.map((d) => d._id);
  const below = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const defn of definitions) {
      if (defn.parent !== undefined && below.has(defn.parent) && !below.has(defn._id)) {
        below.add(defn._id);
        grew = true;
      }
    }
  }
  return definitions.map((d) => d._id).filter((other) => !below.has(other));
}
