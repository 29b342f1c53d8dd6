// Who is logged in: {name, role, via}, shared by the pages through a context.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { allows } from "./format.js";

export const Session = createContext(null);

// The logged-in user, and whether they have the rights of `role`.
export function useSession() {
  const user = useContext(Session);
  return { user, can: (role) => Boolean(user) && allows(user.role, role) };
}
