// Servers whose certificate nobody vouches for (a meeting hosted on someone's computer). Before
// the app's page talks to such a server, the person is shown the fingerprint it presents, to
// compare with the one on the host's screen; once trusted, the app remembers it and accepts
// exactly that certificate there. A server presenting a different one later is asked about
// again, with a warning.

import { useCallback, useEffect, useState, type ReactNode } from "react";
import { useNavigate } from "react-router-dom";
import { isNativeApp, onServerChange, serverOrigin, setServerOrigin, DEFAULT_SERVER } from "../server";
import { commands, type ServerCertificate } from "./bindings";

const ADVERTISED = "parlor.advertised.";

/** Remembers the fingerprint an mDNS advert gave for `server`, to show beside the presented one. */
export function rememberAdvertised(server: string, fingerprint: string | null | undefined) {
  if (fingerprint) sessionStorage.setItem(ADVERTISED + server, fingerprint);
}

export type TrustState =
  | { kind: "checking" }
  | { kind: "ready" }
  | { kind: "ask"; fingerprint: string; known: string | null; advertised: string | null }
  | { kind: "unreachable"; message: string };

/**
 * What to do about a server: nothing (the web view already trusts it, or it is plain HTTP),
 * trust it silently (the person trusted this very certificate before), or ask.
 */
export function decideTrust(
  reachable: boolean,
  presented: ServerCertificate | null,
  advertised: string | null,
): "ready" | "trust-known" | TrustState {
  if (reachable) return "ready";
  if (!presented) return { kind: "unreachable", message: "The server does not answer." };
  if (presented.known && presented.known === presented.fingerprint) return "trust-known";
  return { kind: "ask", fingerprint: presented.fingerprint, known: presented.known ?? null, advertised };
}

async function check(origin: string): Promise<TrustState> {
  if (!origin.startsWith("https:")) return { kind: "ready" };
  // Any answer at all means the web view accepted the connection (its certificate included).
  const reachable = await fetch(`${origin}/health/live`, { cache: "no-store" }).then(
    () => true,
    () => false,
  );
  if (reachable) return { kind: "ready" };
  const r = await commands.serverCertificate(origin);
  const advertised = sessionStorage.getItem(ADVERTISED + origin);
  if (r.status === "error") return { kind: "unreachable", message: "message" in r.error ? r.error.message : r.error.code };
  const decision = decideTrust(false, r.data, advertised);
  if (decision === "trust-known") {
    const t = await commands.trustServer(origin, r.data.fingerprint);
    return t.status === "ok" ? { kind: "ready" } : { kind: "unreachable", message: "message" in t.error ? t.error.message : t.error.code };
  }
  return decision === "ready" ? { kind: "ready" } : decision;
}

/** Shows its children once the chosen server can be talked to, asking about its certificate first if need be. */
export function TrustGate({ children }: { children: ReactNode }) {
  const native = isNativeApp();
  const navigate = useNavigate();
  const [origin, setOrigin] = useState(serverOrigin);
  const [state, setState] = useState<TrustState>({ kind: native ? "checking" : "ready" });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => onServerChange(() => setOrigin(serverOrigin())), []);
  useEffect(() => {
    if (!native) return;
    let live = true;
    setState({ kind: "checking" });
    setError(null);
    check(origin)
      .catch((e: unknown) => ({ kind: "unreachable", message: String(e) }) as TrustState)
      .then((s) => live && setState(s));
    return () => {
      live = false;
    };
  }, [native, origin, attempt]);
  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  const cancel = useCallback(() => {
    setServerOrigin(DEFAULT_SERVER);
    setOrigin(serverOrigin());
    navigate("/", { replace: true });
  }, [navigate]);

  if (state.kind === "ready") return <>{children}</>;
  if (state.kind === "unreachable") {
    // The app stays usable (another server can be chosen); the problem is said at the top.
    return (
      <>
        <p role="alert" className="error server-unreachable">
          Cannot reach <code>{origin}</code>: {state.message}{" "}
          <button className="link" onClick={retry}>Try again</button>
        </p>
        {children}
      </>
    );
  }
  if (state.kind === "checking") {
    return (
      <main className="page narrow">
        <p role="status">Connecting to {origin}…</p>
      </main>
    );
  }
  const asked = origin;
  const trust = async () => {
    setBusy(true);
    const r = await commands.trustServer(asked, state.fingerprint).catch((e: unknown) => ({
      status: "error" as const,
      error: { code: "unreachable" as const, message: String(e) },
    }));
    setBusy(false);
    // The person may have chosen another server meanwhile; that one is checked on its own.
    if (serverOrigin() !== asked) return;
    if (r.status === "ok") setState({ kind: "ready" });
    else setError("message" in r.error ? r.error.message : r.error.code);
  };
  const changed = state.known !== null && state.known !== state.fingerprint;
  return (
    <main className="page narrow">
      <section className="card trust" role="dialog" aria-labelledby="trust-title">
        <h2 id="trust-title">{changed ? "This server's certificate has changed" : "Check this server before joining"}</h2>
        <p>
          <code>{origin}</code>{" "}
          {changed
            ? "presents a different certificate from the one you trusted before. That happens when the host set their computer up again — or when someone else is pretending to be them."
            : "has a certificate of its own that no authority vouches for, as meetings hosted on someone's computer do."}
        </p>
        <p>Its fingerprint (SHA-256) is:</p>
        <p>
          <code className="fingerprint" data-testid="fingerprint">{state.fingerprint}</code>
        </p>
        {state.advertised && (
          <p>
            {state.advertised === state.fingerprint
              ? "It matches the one the meeting announced on the network."
              : "It does NOT match the one the meeting announced on the network."}
          </p>
        )}
        <p>Ask the host for the fingerprint they see, and continue only if the two are the same.</p>
        {error && <p role="alert" className="error">{error}</p>}
        <button disabled={busy} onClick={() => void trust()}>They match: trust and continue</button>{" "}
        <button className="secondary" onClick={cancel}>Cancel</button>
      </section>
    </main>
  );
}
