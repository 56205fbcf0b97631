import { useCallback, useEffect, useReducer, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useAction } from "../action";
import { TopBar } from "../components/TopBar";
import { Chat } from "../components/Chat";
import { Controls } from "../components/Controls";
import { ParticipantList } from "../components/ParticipantList";
import { VideoGrid } from "../components/VideoGrid";
import { describe } from "../errors";
import type { Device, DeviceKind, MediaBackend, RemoteTrack, View } from "../media/backend";
import { BrowserBackend } from "../media/browser";
import { NativeBackend } from "../media/native";
import { reportMeeting, tiles } from "../native/report";
import { commands, events } from "../native/bindings";
import { HostingBanner } from "../native/host";
import { autoJoinName, isNativeApp, usedAutoJoinName } from "../server";
import type { ClientMessage, ServerMessage } from "../protocol";
import type { LocalProblem } from "../errors";
import { useSession, type Session } from "../session";
import { Signaling } from "../signaling";
import { initialState, isOver, reduce } from "../state/meeting";

const ENDED_WORDS: Record<string, string> = {
  host_ended: "The host ended the meeting.",
  all_left: "Everyone left, so the meeting ended.",
  removed: "The host removed you from the meeting.",
};

declare global {
  interface Window {
    /** For automated checks of a running call (the browser end-to-end test reads it). */
    parlor?: {
      stats: MediaBackend["stats"];
      sending: MediaBackend["sending"];
      /** The desktop app: pictures received and drawn per track. */
      drawn?: () => Record<string, { received: number; drawn: number; painter?: string }>;
    };
  }
}

function Call({ session, code }: { session: Session; code: string }) {
  const navigate = useNavigate();
  const [state, dispatch] = useReducer(reduce, session.displayName, initialState);
  const [remote, setRemote] = useState<RemoteTrack[]>([]);
  const [local, setLocal] = useState<View | null>(null);
  const [devices, setDevices] = useState<Device[]>([]);
  const [speakerId, setSpeakerId] = useState<string | undefined>();
  const [level, setLevel] = useState(0);
  const [askingToQuit, setAskingToQuit] = useState(false);
  const signaling = useRef<Signaling | null>(null);
  const backend = useRef<MediaBackend | null>(null);
  const self = state.participants.find((p) => p.isSelf);

  useEffect(() => {
    const startMedia = () => {
      backend.current?.close();
      setRemote([]);
      const events = {
        signal: (m: ClientMessage) => signaling.current?.send(m),
        remoteTrack: (t: RemoteTrack) => setRemote((r) => [...r.filter((x) => x.trackId !== t.trackId), t]),
        remoteTrackEnded: (id: string) => setRemote((r) => r.filter((x) => x.trackId !== id)),
        localView: setLocal,
        problem: (problem: LocalProblem) => dispatch({ type: "problem", problem }),
      };
      // The desktop app captures, codes and draws natively; a browser uses its own WebRTC.
      const native = isNativeApp() ? new NativeBackend(events) : null;
      const b: MediaBackend = native ?? new BrowserBackend(events);
      backend.current = b;
      window.parlor = { stats: () => b.stats(), sending: () => b.sending(), drawn: native ? () => native.drawn() : undefined };
      b.start({ mic: true, camera: true })
        .then(() => b.devices())
        .then(setDevices)
        .catch(() => dispatch({ type: "problem", problem: "media_failed" }));
    };
    let selfId = "";
    const s = new Signaling(session.token, code, {
      message: (m: ServerMessage) => {
        dispatch({ type: "server", message: m });
        if (m.type === "joined") {
          selfId = m.participantId;
          startMedia();
        }
        // The SFU's offers and answers; peer-to-peer negotiation is not used by this page.
        if ((m.type === "offer" || m.type === "answer") && m.target === "sfu") void backend.current?.onSignal(m);
        if (m.type === "muted" && m.peerId === selfId) void backend.current?.setMic(false);
        if (m.type === "removed" || m.type === "meeting_ended") backend.current?.close();
      },
      lost: () => dispatch({ type: "connection_lost" }),
      closed: (c) => {
        if (c !== 1000 && c !== 4001) dispatch({ type: "problem", problem: "network" });
        backend.current?.close();
      },
    });
    signaling.current = s;
    s.start();
    if (isNativeApp()) {
      reportMeeting({
        code,
        call: async () => {
          const [stats, cpu] = await Promise.all([commands.mediaStats(), commands.mediaCpu()]);
          return {
            tiles: tiles(),
            drawn: window.parlor?.drawn?.() ?? {},
            stats: stats.status === "ok" ? stats.data : [],
            cpu: cpu.status === "ok" ? cpu.data : { captureMs: 0, encodeMs: 0, decodeMs: 0 },
            drawMs: backend.current instanceof NativeBackend ? backend.current.drawMs() : 0,
          };
        },
      });
    }
    return () => {
      reportMeeting(null);
      s.stop();
      backend.current?.close();
      backend.current = null;
      window.parlor = undefined;
    };
  }, [session.token, code]);

  // The microphone's level meter, five times a second.
  useEffect(() => {
    const timer = setInterval(() => {
      void backend.current?.inputLevel().then(setLevel, () => setLevel(0));
    }, 200);
    return () => clearInterval(timer);
  }, []);

  const toggle = useCallback(
    async (what: "mic" | "camera") => {
      if (!self || !backend.current) return;
      const mic = what === "mic" ? !self.mic : self.mic;
      const camera = what === "camera" ? !self.camera : self.camera;
      dispatch({ type: "local_media", mic, camera });
      signaling.current?.send({ type: "media_state", mic, camera });
      if (what === "mic") await backend.current.setMic(mic);
      else await backend.current.setCamera(camera);
    },
    [self],
  );

  const leave = () => {
    signaling.current?.leave();
    backend.current?.close();
    dispatch({ type: "left" });
  };

  // The desktop app: closing the window or the tray's "Leave the call" during a call.
  const leaveRef = useRef(leave);
  leaveRef.current = leave;
  useEffect(() => {
    if (!isNativeApp()) return;
    const unlisten = [
      events.closeRequested.listen(() => setAskingToQuit(true)),
      events.leaveRequested.listen(() => leaveRef.current()),
    ];
    return () => unlisten.forEach((u) => void u.then((off) => off()));
  }, []);

  const useDevice = (kind: DeviceKind, id: string) => {
    if (kind === "speaker") setSpeakerId(id);
    void backend.current?.useDevice(kind, id);
  };

  const isHost = state.self?.role === "host";

  if (isOver(state)) {
    const words =
      state.phase === "left"
        ? "You left the meeting."
        : state.phase === "failed"
          ? state.notices.at(-1)?.text ?? "Could not join the meeting."
          : ENDED_WORDS[state.ended?.reason ?? ""] ?? describe("meeting_ended");
    return (
      <main className="page narrow">
        <section className="card" role="status">
          <h2>{state.meeting?.title ?? "Meeting"}</h2>
          <p className="ended">{words}</p>
          {state.phase === "left" && <button onClick={() => location.reload()}>Rejoin</button>}
          <button onClick={() => navigate("/")}>Back to start</button>
        </section>
      </main>
    );
  }

  return (
    <main className="meeting">
      {askingToQuit && (
        <QuitDialog
          onStay={() => setAskingToQuit(false)}
          onQuit={() => {
            leave();
            void commands.quit();
          }}
        />
      )}
      <TopBar>
        <div>
          <strong>{state.meeting?.title ?? "Joining…"}</strong> <code>{code}</code>
          {state.phase === "reconnecting" && <span className="badge">Reconnecting…</span>}
        </div>
      </TopBar>
      <div className="notices" aria-live="polite">
        {isNativeApp() && <HostingBanner code={code} onStop={() => dispatch({ type: "left" })} />}
        {state.notices.map((n) => (
          <p key={n.id} className={n.level} role={n.level === "error" ? "alert" : undefined}>
            {n.text} <button className="link" onClick={() => dispatch({ type: "dismiss", id: n.id })} aria-label="Dismiss">×</button>
          </p>
        ))}
      </div>
      <div className="stage">
        <VideoGrid participants={state.participants} remote={remote} local={local} speakers={state.speakers} speakerId={speakerId} />
        <aside>
          <ParticipantList
            participants={state.participants}
            isHost={isHost}
            onMute={(peerId) => signaling.current?.send({ type: "mute_participant", peerId })}
            onRemove={(peerId) => signaling.current?.send({ type: "remove_participant", peerId })}
          />
          <Chat messages={state.chat} selfId={state.self?.participantId ?? ""} onSend={(text) => signaling.current?.send({ type: "chat", text })} />
        </aside>
      </div>
      <Controls
        mic={self?.mic ?? false}
        camera={self?.camera ?? false}
        level={level}
        isHost={isHost}
        devices={devices}
        onMic={() => void toggle("mic")}
        onCamera={() => void toggle("camera")}
        onDevice={useDevice}
        onLeave={leave}
        onEnd={() => signaling.current?.send({ type: "end_meeting" })}
      />
    </main>
  );
}

/** Closing the desktop app's window during a call asks first. */
export function QuitDialog({ onStay, onQuit }: { onStay: () => void; onQuit: () => void }) {
  return (
    <div className="modal">
      <section className="card" role="alertdialog" aria-labelledby="quit-title" aria-describedby="quit-text">
        <h2 id="quit-title">Leave the call?</h2>
        <p id="quit-text">You are in a call. Quitting Parlor takes you out of it.</p>
        <button onClick={onQuit}>Leave and quit</button>{" "}
        <button className="secondary" onClick={onStay} autoFocus>
          Stay in the call
        </button>
      </section>
    </div>
  );
}

export function MeetingPage() {
  const { code = "" } = useParams();
  const { session, ensureGuest } = useSession();
  const [name, setName] = useState(session?.displayName ?? "");
  const { error, run } = useAction();
  const [ready, setReady] = useState<Session | null>(null);
  const [autoName] = useState(autoJoinName);

  useEffect(() => {
    if (session && !session.guest) setReady(session);
  }, [session]);

  // Started with a name (the desktop app's `--name`): join under it without asking.
  useEffect(() => {
    if (!autoName) return;
    usedAutoJoinName();
    void run(async () => setReady(await ensureGuest(autoName)));
  }, [autoName, ensureGuest, run]);

  if (ready) return <Call session={ready} code={code} />;

  const join = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => setReady(await ensureGuest(name.trim())));
  };
  return (
    <main className="page narrow">
      <TopBar />
      <form onSubmit={join} className="card">
        <h2>Join meeting <code>{code}</code></h2>
        {error && <p role="alert" className="error">{error}</p>}
        <label>
          Your name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} autoFocus />
        </label>
        <button type="submit">Join now</button>
        <p>
          Have an account? <Link to={`/login?next=/m/${code}`}>Sign in</Link> first.
        </p>
      </form>
    </main>
  );
}
