// Who this browser is: a signed-in account or a guest, with its token, kept in localStorage so
// a reload or a deep link keeps the identity.

import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import type { TokenResponse } from "./protocol";
import { api } from "./api";

export type Session = TokenResponse;

const KEY = "parlor.session";

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
    // A token about to expire is as good as none.
    return s && s.expiresAt > Date.now() + 60_000 ? s : null;
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
};

const Ctx = createContext<SessionApi | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(load);
  const signIn = useCallback((s: Session) => {
    localStorage.setItem(KEY, JSON.stringify(s));
    setSession(s);
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
  const value = useMemo(() => ({ session, signIn, signOut, ensureGuest }), [session, signIn, signOut, ensureGuest]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): SessionApi {
  const v = useContext(Ctx);
  if (!v) throw new Error("useSession outside SessionProvider");
  return v;
}
