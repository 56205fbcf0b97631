// The meeting as the UI sees it, built only from server messages and a few local events, so
// every screen shows the same truth and the logic is testable without a browser.

import type {
  ChatMessage,
  EndReason,
  ErrorCode,
  Meeting,
  ParticipantId,
  PeerInfo,
  Role,
  ServerMessage,
  TrackInfo,
} from "../protocol";
import { describe, type LocalProblem } from "../errors";

export type Phase =
  | "connecting"
  | "joined"
  | "reconnecting"
  | "ended"
  | "removed"
  | "left"
  | "failed";

export type Notice = { id: number; level: "info" | "error"; text: string };

export type Participant = PeerInfo & { isSelf: boolean };

export type MeetingState = {
  phase: Phase;
  self: { participantId: ParticipantId; role: Role; displayName: string } | null;
  meeting: Meeting | null;
  /** Everyone in the room, self included, in the order they arrived. */
  participants: Participant[];
  tracks: TrackInfo[];
  chat: ChatMessage[];
  speakers: ParticipantId[];
  resumeToken: string | null;
  ended: { reason: EndReason | "removed"; at: number } | null;
  notices: Notice[];
  nextNotice: number;
};

export type Action =
  | { type: "server"; message: ServerMessage }
  | { type: "connection_lost" }
  | { type: "problem"; problem: LocalProblem }
  | { type: "local_media"; mic: boolean; camera: boolean }
  | { type: "dismiss"; id: number }
  | { type: "left" };

export function initialState(displayName: string): MeetingState {
  return {
    phase: "connecting",
    self: { participantId: "", role: "participant", displayName },
    meeting: null,
    participants: [],
    tracks: [],
    chat: [],
    speakers: [],
    resumeToken: null,
    ended: null,
    notices: [],
    nextNotice: 1,
  };
}

function notify(state: MeetingState, level: Notice["level"], text: string): MeetingState {
  const notice = { id: state.nextNotice, level, text };
  // Keep the last few; older ones have been seen or no longer matter.
  return { ...state, notices: [...state.notices, notice].slice(-5), nextNotice: state.nextNotice + 1 };
}

function nameOf(state: MeetingState, id: ParticipantId): string {
  return state.participants.find((p) => p.peerId === id)?.displayName ?? "Someone";
}

function updatePeer(
  state: MeetingState,
  id: ParticipantId,
  change: Partial<Participant>,
): MeetingState {
  return {
    ...state,
    participants: state.participants.map((p) => (p.peerId === id ? { ...p, ...change } : p)),
  };
}

function onServer(state: MeetingState, m: ServerMessage): MeetingState {
  switch (m.type) {
    case "joined": {
      const self: Participant = {
        peerId: m.participantId,
        displayName: state.self?.displayName ?? "",
        role: m.role,
        // What the person last chose survives a resume; a new join starts with both on.
        mic: state.participants.find((p) => p.isSelf)?.mic ?? true,
        camera: state.participants.find((p) => p.isSelf)?.camera ?? true,
        reconnecting: false,
        isSelf: true,
      };
      return {
        ...state,
        phase: "joined",
        self: { participantId: m.participantId, role: m.role, displayName: self.displayName },
        meeting: m.meeting,
        participants: [self, ...m.peers.map((p) => ({ ...p, isSelf: false }))],
        tracks: m.tracks,
        chat: m.chat,
        resumeToken: m.resumeToken,
      };
    }
    case "peer_joined": {
      const others = state.participants.filter((p) => p.peerId !== m.peerId);
      const peer: Participant = {
        peerId: m.peerId,
        displayName: m.displayName,
        role: m.role,
        mic: m.mic,
        camera: m.camera,
        reconnecting: false,
        isSelf: false,
      };
      return notify({ ...state, participants: [...others, peer] }, "info", `${m.displayName} joined`);
    }
    case "peer_left": {
      const name = nameOf(state, m.peerId);
      const next = {
        ...state,
        participants: state.participants.filter((p) => p.peerId !== m.peerId),
        tracks: state.tracks.filter((t) => t.peerId !== m.peerId),
        speakers: state.speakers.filter((s) => s !== m.peerId),
      };
      const why =
        m.reason === "removed"
          ? "was removed"
          : m.reason === "timed_out"
            ? "lost their connection"
            : "left";
      return notify(next, "info", `${name} ${why}`);
    }
    case "peer_reconnecting":
      return updatePeer(state, m.peerId, { reconnecting: true });
    case "track_published": {
      const { type: _t, ...info } = m;
      const tracks = state.tracks.filter((t) => t.trackId !== info.trackId);
      const next = { ...state, tracks: [...tracks, info] };
      // A peer that publishes again is back from reconnecting.
      return updatePeer(next, info.peerId, { reconnecting: false });
    }
    case "track_unpublished":
      return { ...state, tracks: state.tracks.filter((t) => t.trackId !== m.trackId) };
    case "active_speakers":
      return { ...state, speakers: m.peerIds };
    case "chat": {
      const { type: _t, ...message } = m;
      if (state.chat.some((c) => c.id === message.id)) return state;
      return { ...state, chat: [...state.chat, message] };
    }
    case "media_state":
      return updatePeer(state, m.peerId, { mic: m.mic, camera: m.camera, reconnecting: false });
    case "muted": {
      const next = updatePeer(state, m.peerId, { mic: false });
      const mine = m.peerId === state.self?.participantId;
      return notify(
        next,
        "info",
        mine
          ? `${nameOf(state, m.by)} muted you`
          : `${nameOf(state, m.by)} muted ${nameOf(state, m.peerId)}`,
      );
    }
    case "removed":
      return notify(
        { ...state, phase: "removed", ended: { reason: "removed", at: Date.now() } },
        "error",
        `${nameOf(state, m.by)} removed you from the meeting`,
      );
    case "meeting_ended":
      return {
        ...state,
        phase: state.phase === "removed" ? "removed" : "ended",
        ended: state.ended ?? { reason: m.reason, at: m.endedAt },
      };
    case "left":
      return { ...state, phase: "left" };
    case "server_shutdown":
      return notify(
        { ...state, phase: "reconnecting" },
        "info",
        "The server is restarting; reconnecting…",
      );
    case "error":
      return onError(state, m.code, m.message);
    case "offer":
    case "answer":
    case "ice-candidate":
    case "pong":
      return state;
  }
}

/** Errors that end the session, against errors that only refuse one request. */
const FATAL: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "room_not_found",
  "room_full",
  "meeting_ended",
  "invalid_token",
  "token_expired",
  "unauthorized",
  "slow_consumer",
]);

function onError(state: MeetingState, code: ErrorCode, _message: string): MeetingState {
  const next = notify(state, "error", describe(code));
  if (!FATAL.has(code)) return next;
  if (code === "meeting_ended") return { ...next, phase: "ended" };
  return { ...next, phase: "failed" };
}

export function reduce(state: MeetingState, action: Action): MeetingState {
  switch (action.type) {
    case "server":
      return onServer(state, action.message);
    case "connection_lost":
      if (state.phase !== "joined" && state.phase !== "connecting") return state;
      return notify({ ...state, phase: "reconnecting" }, "error", describe("connection_lost"));
    case "problem":
      // A stand-in source is worth knowing about, not an error.
      return notify(state, action.problem === "synthetic_devices" ? "info" : "error", describe(action.problem));
    case "local_media":
      return {
        ...state,
        participants: state.participants.map((p) =>
          p.isSelf ? { ...p, mic: action.mic, camera: action.camera } : p,
        ),
      };
    case "dismiss":
      return { ...state, notices: state.notices.filter((n) => n.id !== action.id) };
    case "left":
      return { ...state, phase: "left" };
  }
}

/** Whether the meeting is over for this person (nothing more will arrive). */
export function isOver(state: MeetingState): boolean {
  return ["ended", "removed", "left", "failed"].includes(state.phase);
}

/** The grid's columns for `n` tiles: a near-square layout that grows by count. */
export function gridColumns(n: number, narrow: boolean): number {
  // On a phone-width screen, one column for a pair (stacked), two beyond.
  if (narrow) return n <= 2 ? 1 : 2;
  if (n <= 1) return 1;
  if (n <= 4) return 2;
  if (n <= 9) return 3;
  return 4;
}
