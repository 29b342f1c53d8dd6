// The chain of engines in its order (GET /engines `chain`), cut into the programs that
// run its engines fused (each program's `runs`): one box per program, the engines in it,
// arrows between. Several programs running the same engines (workers) share a box.
import { StateOf } from "./pipelinestate.jsx";

// [{engines: [...], programs: [items]}]: consecutive engines of `chain` run by the same
// programs, in the chain's order; engines no program runs have `programs` empty.
export function groupsOf(chain, items) {
  const groups = [];
  for (const engine of chain) {
    const programs = items.filter((item) => (item.runs || []).includes(engine));
    const key = programs.map((p) => `${p.group}:${p.name}`).join(" ");
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.engines.push(engine);
    else groups.push({ key, engines: [engine], programs });
  }
  return groups;
}

export function Chain({ chain, items }) {
  if (!chain.length) {
    return <p class="muted">The API does not say the chain (etc/engines.conf unread).</p>;
  }
  const groups = groupsOf(chain, items);
  return (
    <ol class="chain" aria-label="chain">
      {groups.map((group, index) => (
        <li
          key={group.key || `none-${index}`}
          class={group.programs.length ? "fused" : "fused unrun"}
          data-programs={group.key}
        >
          <div class="fused-head">
            {group.programs.length === 0 && <span class="muted">no program runs these</span>}
            {group.programs.map((p) => (
              <span key={p.name} class="fused-program">
                {p.name} <StateOf state={p.state} />
              </span>
            ))}
          </div>
          <ol class="fused-engines">
            {group.engines.map((engine) => (
              <li key={engine} class="engine-box" data-engine={engine}>
                {engine}
              </li>
            ))}
          </ol>
        </li>
      ))}
    </ol>
  );
}
