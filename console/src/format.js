// Names and formats shared by the pages.

export const STATES = ["OK", "minor", "major", "critical"];
export const STATUSES = ["off", "ongoing", "stealthy", "flapping", "cancelled"];
export const ROLES = ["viewer", "operator", "admin"];

export const stateName = (value) => STATES[value] ?? String(value);
export const statusName = (value) => STATUSES[value] ?? String(value);

// Whether a user of `role` has the rights of `needed` (viewer < operator < admin).
export const allows = (role, needed) => ROLES.indexOf(role) >= ROLES.indexOf(needed);

const pad = (n) => String(n).padStart(2, "0");

// An epoch in seconds as the viewer's local date and time.
export function formatTime(epoch) {
  if (epoch === null || epoch === undefined) return "";
  const d = new Date(epoch * 1000);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

// How long ago `epoch` was, at `now` (ms), in the two largest units: "3 min 12 s", "2 h 5 min".
export function age(epoch, now = Date.now()) {
  if (epoch === null || epoch === undefined) return "";
  let s = Math.max(0, Math.floor(now / 1000 - epoch));
  const units = [
    ["d", 86400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ];
  const parts = [];
  for (const [name, size] of units) {
    if (s >= size || (name === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)} ${name}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

// A duration in seconds written for people: "90 s", "15 min", "4 h", "2 d".
export function duration(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
