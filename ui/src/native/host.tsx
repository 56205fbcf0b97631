// "Host on this computer" (desktop app): starts the app's own server with a meeting on it and
// opens the meeting, signed in as its host. While hosting, the meeting page shows the link
// others join by, and "Stop hosting" ends the meeting for everyone.

import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { setServerOrigin } from "../server";
import { useSession } from "../session";
import { commands, type HostInfo } from "./bindings";

const HOST_AT_LAUNCH = "parlor.host";

/** `parlor-app --host TITLE [--host-address IP] [--name NAME]`: host as soon as the app opens. */
export function hostAtLaunch(): { title: string; name: string; address?: string } | null {
  const launch = window.__PARLOR_LAUNCH__;
  if (!launch?.host || sessionStorage.getItem(HOST_AT_LAUNCH)) return null;
  sessionStorage.setItem(HOST_AT_LAUNCH, "1");
  return { title: launch.host, name: launch.name ?? "Host", address: launch.hostAddress ?? undefined };
}

export function useHosting() {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const host = useCallback(
    async (title: string, name: string, address?: string) => {
      setBusy(true);
      setError(null);
      const r = await commands.hostStart({ title: title || "Meeting", name: name || "Host", address: address ?? null });
      setBusy(false);
      if (r.status === "error") {
        setError(`Could not host the meeting: ${"message" in r.error ? r.error.message : r.error.code}`);
        return;
      }
      setServerOrigin(r.data.server);
      // Seconds-precise expiry from the server; a missing one is taken as the server's default.
      signIn({ ...r.data.session, expiresAt: r.data.session.expiresAt ?? Date.now() + 12 * 3_600_000 });
      navigate(`/m/${r.data.code}`);
    },
    [navigate, signIn],
  );
  return { host, error, busy };
}

export function HostCard() {
  const [title, setTitle] = useState("");
  const [name, setName] = useState("");
  const { host, error, busy } = useHosting();
  useEffect(() => {
    const launch = hostAtLaunch();
    if (launch) void host(launch.title, launch.name, launch.address);
  }, [host]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void host(title.trim(), name.trim());
  };
  return (
    <form onSubmit={submit} className="card">
      <h2>Host on this computer</h2>
      <p>Start a meeting here; others on your network join with the link you get.</p>
      {error && <p role="alert" className="error">{error}</p>}
      <label>
        Title
        <input name="hostTitle" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Team call" />
      </label>
      <label>
        Your name
        <input name="hostName" value={name} onChange={(e) => setName(e.target.value)} placeholder="Ada" />
      </label>
      <button type="submit" disabled={busy}>{busy ? "Starting…" : "Host a meeting"}</button>
    </form>
  );
}

/** The link to share, while this app hosts the meeting on screen. */
export function HostingBanner({ code, onStop }: { code: string; onStop: () => void }) {
  const [info, setInfo] = useState<HostInfo | null>(null);
  useEffect(() => {
    void commands.hostInfo().then((r) => setInfo(r.status === "ok" && r.data?.code === code ? r.data : null));
  }, [code]);
  if (!info) return null;
  return (
    <p className="hosting" role="status">
      You are hosting this meeting. Others join at <a href={info.link} target="_blank" rel="noreferrer"><code>{info.link}</code></a>{" "}
      <button className="link" onClick={() => void navigator.clipboard?.writeText(info.link)}>Copy</button>
      <span className="fingerprint-note">
        Certificate fingerprint (SHA-256), for those joining to check: <code data-testid="host-fingerprint">{info.fingerprint}</code>
      </span>{" "}
      {info.localLink !== info.link && (
        <>
          {" "}(a browser on this computer: <code>{info.localLink}</code>)
        </>
      )}{" "}
      <button className="link" onClick={() => void commands.hostStop().then(onStop)}>Stop hosting</button>
    </p>
  );
}
