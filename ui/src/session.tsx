// Who this browser is: a signed-in account or a guest, with its token, kept in localStorage so
// a reload or a deep link keeps the identity.

import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import type { TokenResponse } from "./protocol";
import { api } from "./api";
import { serverOrigin } from "./server";

/** A token, and the server that issued it. */
export type Session = TokenResponse & { server?: string };

const KEY = "parlor.session";

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
    // A token about to expire is as good as none, and one from another server is no good here.
    return s && s.expiresAt > Date.now() + 60_000 && (s.server ?? serverOrigin()) === serverOrigin() ? s : null;
  } catch {
    return null;
  }
}

type SessionApi = {
  session: Session | null;
  signIn: (s: Session) => void;
  signOut: () => void;
  /** The current session, or a new guest one under `name`. */
  ensureGuest: (name: string) => Promise<Session>;
  reload: () => void;
};

const Ctx = createContext<SessionApi | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(load);
  const signIn = useCallback((s: Session) => {
    const kept = { ...s, server: serverOrigin() };
    localStorage.setItem(KEY, JSON.stringify(kept));
    setSession(kept);
  }, []);
  const signOut = useCallback(() => {
    localStorage.removeItem(KEY);
    setSession(null);
  }, []);
  const ensureGuest = useCallback(
    async (name: string) => {
      const current = load();
      if (current && (!current.guest || current.displayName === name)) return current;
      const s = await api.guestToken(name);
      signIn(s);
      return s;
    },
    [signIn],
  );
  /** After the desktop app switched servers: whatever identity fits the new one. */
  const reload = useCallback(() => setSession(load()), []);
  const value = useMemo(
    () => ({ session, signIn, signOut, ensureGuest, reload }),
    [session, signIn, signOut, ensureGuest, reload],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): SessionApi {
  const v = useContext(Ctx);
  if (!v) throw new Error("useSession outside SessionProvider");
  return v;
}
