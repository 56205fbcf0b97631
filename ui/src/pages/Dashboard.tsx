import { useEffect, useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate } from "react-router-dom";
import { api } from "../api";
import { errorText, useAction } from "../action";
import { TopBar } from "../components/TopBar";
import type { Meeting, ParticipantRecord } from "../protocol";
import { useSession } from "../session";

function when(ms: number | null | undefined): string {
  return ms ? new Date(ms).toLocaleString() : "";
}

function PastParticipants({ token, code }: { token: string; code: string }) {
  const [people, setPeople] = useState<ParticipantRecord[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.participants(token, code).then(setPeople, (e) => setError(errorText(e)));
  }, [token, code]);
  if (error) return <p className="error">{error}</p>;
  if (!people) return <p>Loading…</p>;
  return (
    <ul className="history">
      {people.map((p) => (
        <li key={p.participantId}>
          {p.displayName}
          {p.guest ? " (guest)" : ""}: {when(p.joinedAt)} – {p.leftAt ? when(p.leftAt) : "still there"}
        </li>
      ))}
    </ul>
  );
}

export function Dashboard() {
  const { session, signOut } = useSession();
  const navigate = useNavigate();
  const [meetings, setMeetings] = useState<Meeting[] | null>(null);
  const [title, setTitle] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const { error, setError, run } = useAction();

  useEffect(() => {
    if (!session || session.guest) return;
    api.meetings(session.token).then(setMeetings, (e) => setError(errorText(e)));
  }, [session, setError]);

  if (!session || session.guest) return <Navigate to="/login?next=/dashboard" replace />;

  const create = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const m = await api.createMeeting(session.token, { title: title.trim() || "Meeting" });
      navigate(`/m/${m.code}`);
    });
  };

  const live = meetings?.filter((m) => m.status !== "ended") ?? [];
  const past = meetings?.filter((m) => m.status === "ended") ?? [];

  return (
    <main className="page">
      <TopBar>
        <nav>
          <span>{session.displayName}</span>
          <button className="link" onClick={signOut}>Sign out</button>
        </nav>
      </TopBar>
      {error && <p role="alert" className="error">{error}</p>}
      <form onSubmit={create} className="card row">
        <input aria-label="Title" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Meeting title" />
        <button type="submit">New meeting</button>
      </form>
      <section>
        <h2>My meetings</h2>
        {!meetings && <p>Loading…</p>}
        {meetings && live.length === 0 && <p>No upcoming or running meetings.</p>}
        <ul className="meetings">
          {live.map((m) => (
            <li key={m.code}>
              <span className={`status ${m.status}`}>{m.status === "active" ? "Live" : "Not started"}</span>
              <strong>{m.title}</strong> <code>{m.code}</code>
              {!!m.present && <span className="present">{m.present === 1 ? "1 person" : `${m.present} people`} in the call</span>}
              <Link to={`/m/${m.code}`}>Join</Link>
              <button className="link" onClick={() => navigator.clipboard?.writeText(`${location.origin}/m/${m.code}`)}>
                Copy link
              </button>
            </li>
          ))}
        </ul>
      </section>
      <section>
        <h2>Past meetings</h2>
        {meetings && past.length === 0 && <p>None yet.</p>}
        <ul className="meetings">
          {past.map((m) => (
            <li key={m.code}>
              <span className="status ended">Ended</span>
              <strong>{m.title}</strong> <code>{m.code}</code> {when(m.endedAt)}
              <button className="link" onClick={() => setOpen(open === m.code ? null : m.code)}>
                {open === m.code ? "Hide participants" : "Participants"}
              </button>
              {open === m.code && <PastParticipants token={session.token} code={m.code} />}
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
