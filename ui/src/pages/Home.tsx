import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api } from "../api";
import { isNativeApp, parseMeetingLink, serverOrigin, setServerOrigin } from "../server";
import { HostCard } from "../native/host";
import { NearbyCard } from "../native/nearby";
import { useAction } from "../action";
import { useSession } from "../session";

export function Home() {
  const { session, signOut, reload } = useSession();
  const native = isNativeApp();
  const [server, setServer] = useState(serverOrigin);
  const navigate = useNavigate();
  const [code, setCode] = useState("");
  const [title, setTitle] = useState("");
  const { busy, error, setError, run } = useAction();
  const signedIn = session && !session.guest;

  const join = (e: FormEvent) => {
    e.preventDefault();
    const link = parseMeetingLink(code);
    if (!link) {
      setError("Enter a meeting code like abc-defg-hij, or paste a meeting link.");
      return;
    }
    // In the app, a link names the server too.
    if (native && link.server && link.server !== serverOrigin()) {
      setServerOrigin(link.server);
      setServer(link.server);
      reload();
    }
    navigate(`/m/${link.code}`);
  };

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (!session || session.guest) return;
    await run(async () => {
      const m = await api.createMeeting(session.token, { title: title.trim() || "Meeting" });
      navigate(`/m/${m.code}`);
    });
  };

  return (
    <main className="page narrow">
      <header className="top">
        <h1>Parlor</h1>
        <nav>
          {signedIn ? (
            <>
              <Link to="/dashboard">My meetings</Link>
              <button className="link" onClick={signOut}>Sign out</button>
            </>
          ) : (
            <>
              <Link to="/login">Sign in</Link>
              <Link to="/register">Create account</Link>
            </>
          )}
        </nav>
      </header>
      <p className="lead">{native ? "Video meetings: join one on any Parlor server with its code or link." : "Video meetings in your browser. Join with a code or a link; no install needed."}</p>
      {error && <p role="alert" className="error">{error}</p>}
      {native && <HostCard />}
      {native && <NearbyCard onServer={(s) => { setServer(s); reload(); }} />}
      {native && (
        <form
          className="card"
          onSubmit={(e) => {
            e.preventDefault();
            if (!setServerOrigin(server)) setError("Enter a server address like 192.168.1.20:8080 or https://meet.example.com.");
            else {
              setError(null);
              setServer(serverOrigin());
              reload();
            }
          }}
        >
          <h2>Server</h2>
          <label>
            Parlor server
            <input name="server" value={server} onChange={(e) => setServer(e.target.value)} placeholder="http://127.0.0.1:8080" />
          </label>
          <button type="submit">Use this server</button>
        </form>
      )}
      <form onSubmit={join} className="card">
        <h2>Join a meeting</h2>
        <label>
          Meeting code or link
          <input name="code" value={code} onChange={(e) => setCode(e.target.value)} placeholder="abc-defg-hij" autoFocus />
        </label>
        <button type="submit">Join</button>
      </form>
      {signedIn ? (
        <form onSubmit={create} className="card">
          <h2>Start a new meeting</h2>
          <label>
            Title
            <input name="title" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Weekly sync" />
          </label>
          <button type="submit" disabled={busy}>Create meeting</button>
        </form>
      ) : (
        <p className="card">
          To start your own meeting, <Link to="/register">create an account</Link> or <Link to="/login">sign in</Link>.
        </p>
      )}
    </main>
  );
}
