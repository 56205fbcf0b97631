// The browser's own WebRTC behind the MediaBackend interface, speaking Parlor's SFU protocol:
// a publish connection this side offers, and a subscribe connection the server offers and
// renegotiates as tracks come and go. H.264 (42e01f, packetization-mode 1) is preferred so the
// SFU forwards the same stream to browsers and native clients alike.

import type { ClientMessage, IceCandidate, ServerMessage, TransportKind } from "../protocol";
import { mediaProblem } from "../errors";
import type { Device, DeviceKind, MediaBackend, MediaBackendEvents, TrackStats } from "./backend";

/** `a=mid` → the publisher (msid stream) and track (msid id) of each m-section the SFU offers. */
export function sendersByMid(sdp: string): Map<string, { peerId: string; trackId: string; active: boolean }> {
  const out = new Map<string, { peerId: string; trackId: string; active: boolean }>();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = section.match(/^a=mid:(\S+)/m)?.[1];
    const msid = section.match(/^a=msid:(\S+) (\S+)/m);
    if (!mid || !msid) continue;
    const port = Number(section.split(" ")[1]);
    const active = port !== 0 && /^a=(sendonly|sendrecv)/m.test(section);
    out.set(mid, { peerId: msid[1], trackId: msid[2], active });
  }
  return out;
}

/** The room's codecs first: H.264 constrained baseline with packetization-mode 1, and RTX. */
export function preferH264(codecs: RTCRtpCodec[]): RTCRtpCodec[] {
  const wanted = (c: RTCRtpCodec) =>
    c.mimeType.toLowerCase() === "video/h264" &&
    /profile-level-id=42e01f/i.test(c.sdpFmtpLine ?? "") &&
    /packetization-mode=1/.test(c.sdpFmtpLine ?? "");
  const h264 = codecs.filter(wanted);
  const rtx = codecs.filter((c) => c.mimeType.toLowerCase() === "video/rtx");
  return h264.length ? [...h264, ...rtx] : codecs;
}

function toWire(c: RTCIceCandidate): IceCandidate {
  const out: IceCandidate = { candidate: c.candidate };
  if (c.sdpMid != null) out.sdpMid = c.sdpMid;
  if (c.sdpMLineIndex != null) out.sdpMLineIndex = c.sdpMLineIndex;
  if (c.usernameFragment != null) out.usernameFragment = c.usernameFragment;
  return out;
}

export class BrowserBackend implements MediaBackend {
  private publish: RTCPeerConnection | null = null;
  private subscribe: RTCPeerConnection | null = null;
  private local: MediaStream = new MediaStream();
  private senders: { audio?: RTCRtpSender; video?: RTCRtpSender } = {};
  private tracks: { audio?: MediaStreamTrack; video?: MediaStreamTrack } = {};
  private byMid = new Map<string, { peerId: string; trackId: string; active: boolean }>();
  private shown = new Set<string>();
  // Negotiation steps on one connection must not interleave.
  private chain: Promise<void> = Promise.resolve();
  private deviceIds: Partial<Record<DeviceKind, string>> = {};

  constructor(private readonly on: MediaBackendEvents) {}

  private send(m: ClientMessage) {
    this.on.signal(m);
  }

  private connection(transport: TransportKind): RTCPeerConnection {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) {
        this.send({ type: "ice-candidate", target: "sfu", transport, candidate: toWire(e.candidate) });
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.on.problem("media_failed");
    };
    return pc;
  }

  private async capture(kind: "audio" | "video"): Promise<MediaStreamTrack | null> {
    const id = this.deviceIds[kind === "audio" ? "microphone" : "camera"];
    const constraints: MediaStreamConstraints =
      kind === "audio"
        ? { audio: id ? { deviceId: { exact: id } } : true }
        : { video: { width: 640, height: 360, frameRate: 30, ...(id ? { deviceId: { exact: id } } : {}) } };
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      return stream.getTracks()[0] ?? null;
    } catch (e) {
      this.on.problem(mediaProblem(e));
      return null;
    }
  }

  async start(opts: { mic: boolean; camera: boolean }): Promise<void> {
    const pc = this.connection("publish");
    this.publish = pc;
    for (const kind of ["audio", "video"] as const) {
      const want = kind === "audio" ? opts.mic : opts.camera;
      const track = want ? await this.capture(kind) : null;
      if (track) {
        this.tracks[kind] = track;
        this.local.addTrack(track);
      }
      const t = pc.addTransceiver(track ?? kind, { direction: "sendonly", streams: [this.local] });
      if (kind === "video") {
        try {
          const caps = RTCRtpSender.getCapabilities("video");
          if (caps) t.setCodecPreferences(preferH264(caps.codecs));
        } catch {
          // Older browsers: the SFU's answer still settles on H.264.
        }
      }
      this.senders[kind] = t.sender;
    }
    this.on.localView(this.tracks.video ? { kind: "stream", stream: this.local } : null);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send({ type: "offer", target: "sfu", transport: "publish", sdp: offer.sdp ?? "" });
  }

  onSignal(m: ServerMessage): Promise<void> {
    this.chain = this.chain.then(() => this.handle(m)).catch(() => this.on.problem("media_failed"));
    return this.chain;
  }

  private async handle(m: ServerMessage): Promise<void> {
    if (m.type === "answer" && m.transport === "publish" && this.publish) {
      await this.publish.setRemoteDescription({ type: "answer", sdp: m.sdp });
    } else if (m.type === "offer" && m.transport === "subscribe") {
      // Tracks are announced once the answer is set (below), from the transceivers and the
      // offer's msid lines, rather than from `ontrack`, which fires before the mids settle.
      this.subscribe ??= this.connection("subscribe");
      this.byMid = sendersByMid(m.sdp);
      await this.subscribe.setRemoteDescription({ type: "offer", sdp: m.sdp });
      const answer = await this.subscribe.createAnswer();
      await this.subscribe.setLocalDescription(answer);
      this.send({ type: "answer", target: "sfu", transport: "subscribe", sdp: answer.sdp ?? "" });
      for (const t of this.subscribe.getTransceivers()) this.announce(t);
      for (const trackId of [...this.shown]) {
        const still = [...this.byMid.values()].some((s) => s.trackId === trackId && s.active);
        if (!still) {
          this.shown.delete(trackId);
          this.on.remoteTrackEnded(trackId);
        }
      }
    }
  }

  private announce(t: RTCRtpTransceiver) {
    const sender = t.mid ? this.byMid.get(t.mid) : undefined;
    if (!sender || !sender.active || this.shown.has(sender.trackId)) return;
    const track = t.receiver.track;
    this.shown.add(sender.trackId);
    this.on.remoteTrack({
      trackId: sender.trackId,
      peerId: sender.peerId,
      kind: track.kind === "audio" ? "audio" : "video",
      view: { kind: "stream", stream: new MediaStream([track]) },
    });
  }

  private async toggle(kind: "audio" | "video", on: boolean): Promise<void> {
    const sender = this.senders[kind];
    if (!sender) return;
    if (!on) {
      // Stop sending (and release the device) rather than send silence or black.
      await sender.replaceTrack(null);
      this.tracks[kind]?.stop();
      if (this.tracks[kind]) this.local.removeTrack(this.tracks[kind]!);
      this.tracks[kind] = undefined;
    } else if (!this.tracks[kind]) {
      const track = await this.capture(kind);
      if (!track) return;
      this.tracks[kind] = track;
      this.local.addTrack(track);
      await sender.replaceTrack(track);
    }
    if (kind === "video") {
      this.on.localView(this.tracks.video ? { kind: "stream", stream: new MediaStream([this.tracks.video]) } : null);
    }
  }

  setMic(on: boolean) {
    return this.toggle("audio", on);
  }

  setCamera(on: boolean) {
    return this.toggle("video", on);
  }

  async devices(): Promise<Device[]> {
    const all = await navigator.mediaDevices.enumerateDevices();
    const kinds: Record<string, DeviceKind> = { videoinput: "camera", audioinput: "microphone", audiooutput: "speaker" };
    return all
      .filter((d) => kinds[d.kind])
      .map((d, i) => ({ id: d.deviceId, kind: kinds[d.kind], label: d.label || `${kinds[d.kind]} ${i + 1}` }));
  }

  async useDevice(kind: DeviceKind, id: string): Promise<void> {
    this.deviceIds[kind] = id;
    if (kind === "speaker") return; // Applied by the page to its <audio> elements (setSinkId).
    const media = kind === "camera" ? "video" : "audio";
    if (!this.tracks[media]) return;
    await this.toggle(media, false);
    await this.toggle(media, true);
  }

  async stats(): Promise<TrackStats[]> {
    if (!this.subscribe) return [];
    const report = await this.subscribe.getStats();
    const out: TrackStats[] = [];
    report.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      const sender = s.mid ? this.byMid.get(String(s.mid)) : undefined;
      if (!sender) return;
      out.push({
        trackId: sender.trackId,
        peerId: sender.peerId,
        kind: s.kind === "audio" ? "audio" : "video",
        framesDecoded: Number(s.framesDecoded ?? 0),
        packetsReceived: Number(s.packetsReceived ?? 0),
        packetsLost: Number(s.packetsLost ?? 0),
      });
    });
    return out;
  }

  private meter: { ctx: AudioContext; analyser: AnalyserNode; track: MediaStreamTrack } | null = null;

  async inputLevel(): Promise<number> {
    const track = this.tracks.audio;
    if (!track || typeof AudioContext === "undefined") return 0;
    if (this.meter?.track !== track) {
      void this.meter?.ctx.close();
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
      this.meter = { ctx, analyser, track };
    }
    const samples = new Float32Array(this.meter.analyser.fftSize);
    this.meter.analyser.getFloatTimeDomainData(samples);
    return Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
  }

  sending() {
    return { audio: Boolean(this.senders.audio?.track), video: Boolean(this.senders.video?.track) };
  }

  close(): void {
    void this.meter?.ctx.close();
    this.meter = null;
    for (const t of Object.values(this.tracks)) t?.stop();
    this.publish?.close();
    this.subscribe?.close();
    this.publish = this.subscribe = null;
  }
}
