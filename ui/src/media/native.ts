// The desktop app's media engine behind the MediaBackend interface: camera, microphone,
// H.264 and Opus are native (parlor-media, through the app's commands), and pictures arrive
// over the app's loopback frame server. The page still does the signaling; this side only
// answers for the SFU's publish and subscribe transports.

import type { ServerMessage } from "../protocol";
import { commands, type AppError, type Device as NativeDevice } from "../native/bindings";
import { serverOrigin } from "../server";
import { sendersByMid } from "./browser";
import type { Device, DeviceKind, MediaBackend, MediaBackendEvents, TrackStats } from "./backend";
import { FrameFeed } from "./frames";

const CHOICES = "parlor.devices";
/** The self view's track in the frame feed. */
export const LOCAL_TRACK = "local";

type Choices = Partial<Record<DeviceKind, string>>;

function loadChoices(): Choices {
  try {
    return JSON.parse(localStorage.getItem(CHOICES) ?? "{}") as Choices;
  } catch {
    return {};
  }
}

/** The device to use for `kind`: the one chosen before if it is still there, else the first
 *  real one, else a synthetic source. */
export function pickDevice(list: NativeDevice[], kind: DeviceKind, chosen?: string): NativeDevice | undefined {
  const of = list.filter((d) => d.kind === kind);
  return of.find((d) => d.id === chosen) ?? of.find((d) => !d.synthetic) ?? of[0];
}

export class NativeBackend implements MediaBackend {
  private feed: FrameFeed | null = null;
  private byMid = new Map<string, { peerId: string; trackId: string; active: boolean }>();
  private shown = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private on_ = { mic: false, camera: false };
  private closed = false;

  constructor(private readonly on: MediaBackendEvents) {}

  private fail(e: AppError) {
    this.on.problem(e.code === "devices" ? "no_device" : "media_failed");
  }

  start(opts: { mic: boolean; camera: boolean }): Promise<void> {
    // The SFU may offer the room's tracks as soon as the page joins: answers wait for this.
    const started = this.begin(opts);
    this.chain = this.chain.then(() => started).catch(() => this.on.problem("media_failed"));
    return started;
  }

  private async begin(opts: { mic: boolean; camera: boolean }): Promise<void> {
    const endpoint = await commands.frameEndpoint();
    this.feed = new FrameFeed(endpoint.url);
    const feed = this.feed;
    const listed = await commands.devices();
    const list = listed.status === "ok" ? listed.data : [];
    const choices = loadChoices();
    const camera = opts.camera ? pickDevice(list, "camera", choices.camera) : undefined;
    const mic = opts.mic ? pickDevice(list, "microphone", choices.microphone) : undefined;
    if (camera?.synthetic || mic?.synthetic) this.on.problem("synthetic_devices");
    const started = await commands.mediaStart({
      server: serverOrigin(),
      camera: camera?.id ?? null,
      microphone: mic?.id ?? null,
      speaker: pickDevice(list, "speaker", choices.speaker)?.id ?? null,
      width: 640,
      height: 360,
      fps: 30,
    });
    if (started.status === "error") return this.fail(started.error);
    if (this.closed) {
      await commands.mediaStop();
      return;
    }
    this.on_ = { mic: Boolean(mic), camera: Boolean(camera) };
    if (camera) this.on.localView({ kind: "canvas", draw: (canvas) => feed.attach(LOCAL_TRACK, canvas) });
    if (started.data) this.on.signal({ type: "offer", target: "sfu", transport: "publish", sdp: started.data });
  }

  onSignal(m: ServerMessage): Promise<void> {
    this.chain = this.chain.then(() => this.handle(m)).catch(() => this.on.problem("media_failed"));
    return this.chain;
  }

  private async handle(m: ServerMessage): Promise<void> {
    if (m.type === "answer" && m.transport === "publish") {
      const r = await commands.mediaPublishAnswer(m.sdp);
      if (r.status === "error") this.fail(r.error);
    } else if (m.type === "offer" && m.transport === "subscribe") {
      this.byMid = sendersByMid(m.sdp);
      const r = await commands.mediaSubscribeOffer(m.sdp);
      if (r.status === "error") return this.fail(r.error);
      this.on.signal({ type: "answer", target: "sfu", transport: "subscribe", sdp: r.data });
      const feed = this.feed;
      const video = new Set([...m.sdp.split(/\r?\nm=/).slice(1)].filter((s) => s.startsWith("video")).map((s) => s.match(/^a=mid:(\S+)/m)?.[1]));
      for (const [mid, sender] of this.byMid) {
        if (!sender.active || !video.has(mid) || this.shown.has(sender.trackId) || !feed) continue;
        this.shown.add(sender.trackId);
        this.on.remoteTrack({
          trackId: sender.trackId,
          peerId: sender.peerId,
          kind: "video",
          view: { kind: "canvas", draw: (canvas) => feed.attach(sender.trackId, canvas) },
        });
      }
      for (const trackId of [...this.shown]) {
        if (![...this.byMid.values()].some((s) => s.trackId === trackId && s.active)) {
          this.shown.delete(trackId);
          this.on.remoteTrackEnded(trackId);
        }
      }
    }
  }

  async setMic(on: boolean): Promise<void> {
    this.on_.mic = on;
    await commands.mediaSet(on, null);
  }

  async setCamera(on: boolean): Promise<void> {
    this.on_.camera = on;
    await commands.mediaSet(null, on);
  }

  async devices(): Promise<Device[]> {
    const r = await commands.devices();
    if (r.status === "error") return [];
    return r.data.map((d) => ({ id: d.id, kind: d.kind, label: d.label }));
  }

  /** Used from now on in the running call (when it sends that kind), and remembered for the
   * next. A device that cannot be opened is reported; the call goes on with the old one. */
  async useDevice(kind: DeviceKind, id: string): Promise<void> {
    localStorage.setItem(CHOICES, JSON.stringify({ ...loadChoices(), [kind]: id }));
    const r = await commands.mediaUseDevice(kind, id);
    // Before the call's media starts the choice simply applies when it does.
    if (r.status === "error" && r.error.code !== "no_call") {
      this.on.problem(r.error.code === "devices" ? "device_failed" : "media_failed");
    }
  }

  async stats(): Promise<TrackStats[]> {
    const r = await commands.mediaStats();
    if (r.status === "error") return [];
    return r.data.map((t) => ({
      trackId: t.trackId,
      peerId: t.peerId,
      kind: t.kind === "audio" ? "audio" : "video",
      framesDecoded: t.framesDecoded,
      packetsReceived: t.packetsReceived,
      packetsLost: t.packetsLost,
    }));
  }

  async inputLevel(): Promise<number> {
    const r = await commands.mediaLevels();
    return r.status === "ok" ? r.data.input ?? 0 : 0;
  }

  sending() {
    return { audio: this.on_.mic, video: this.on_.camera };
  }

  /** Pictures received and drawn per track, and whether WebGL draws them. */
  drawn() {
    return Object.fromEntries(this.feed?.counts ?? []);
  }

  /** Milliseconds spent drawing pictures so far. */
  drawMs(): number {
    return this.feed?.drawMs ?? 0;
  }

  close(): void {
    this.closed = true;
    this.feed?.close();
    void commands.mediaStop();
  }
}
