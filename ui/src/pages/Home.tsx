import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api, parseMeetingCode } from "../api";
import { useAction } from "../action";
import { useSession } from "../session";

export function Home() {
  const { session, signOut } = useSession();
  const navigate = useNavigate();
  const [code, setCode] = useState("");
  const [title, setTitle] = useState("");
  const { busy, error, setError, run } = useAction();
  const signedIn = session && !session.guest;

  const join = (e: FormEvent) => {
    e.preventDefault();
    const c = parseMeetingCode(code);
    if (!c) {
      setError("Enter a meeting code like abc-defg-hij, or paste a meeting link.");
      return;
    }
    navigate(`/m/${c}`);
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
      <p className="lead">Video meetings in your browser. Join with a code or a link; no install needed.</p>
      {error && <p role="alert" className="error">{error}</p>}
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
