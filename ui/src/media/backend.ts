// What the meeting page needs from a media engine, whoever provides it: the browser's own
// WebRTC (BrowserBackend) or the desktop app's native capture and codecs (NativeBackend).
// The page only ever talks to this interface.

import type { ClientMessage, ServerMessage, TrackId, TrackKind, ParticipantId } from "../protocol";
import type { LocalProblem } from "../errors";

export type DeviceKind = "camera" | "microphone" | "speaker";

export type Device = { id: string; label: string; kind: DeviceKind };

/** Something that can be shown: a browser MediaStream, or a native renderer drawing into a canvas. */
export type View =
  | { kind: "stream"; stream: MediaStream }
  | { kind: "canvas"; draw: (canvas: HTMLCanvasElement) => () => void };

export type RemoteTrack = { trackId: TrackId; peerId: ParticipantId; kind: TrackKind; view: View };

export type TrackStats = {
  trackId: TrackId;
  peerId: ParticipantId;
  kind: TrackKind;
  framesDecoded: number;
  packetsReceived: number;
  packetsLost: number;
};

export interface MediaBackendEvents {
  /** A message for the server (offers, answers, ICE candidates for the SFU). */
  signal(m: ClientMessage): void;
  remoteTrack(t: RemoteTrack): void;
  remoteTrackEnded(trackId: TrackId): void;
  localView(v: View | null): void;
  problem(p: LocalProblem): void;
}

export interface MediaBackend {
  /** Opens camera and microphone as asked and starts publishing. */
  start(opts: { mic: boolean; camera: boolean }): Promise<void>;
  /** SFU offers, answers and candidates from the server. */
  onSignal(m: ServerMessage): Promise<void>;
  setMic(on: boolean): Promise<void>;
  setCamera(on: boolean): Promise<void>;
  devices(): Promise<Device[]>;
  useDevice(kind: DeviceKind, id: string): Promise<void>;
  stats(): Promise<TrackStats[]>;
  /** The microphone's loudness now (RMS, 0 to 1), for a level meter. */
  inputLevel(): Promise<number>;
  /** Whether this side is sending audio and video now (muting stops sending). */
  sending(): { audio: boolean; video: boolean };
  close(): void;
}
