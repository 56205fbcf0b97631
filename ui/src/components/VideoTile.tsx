import { useEffect, useRef } from "react";
import type { View } from "../media/backend";
import type { Participant } from "../state/meeting";
import { CameraIcon, MicIcon } from "./Icon";

export function VideoTile(props: {
  participant: Participant;
  view: View | null;
  audio: MediaStream | null;
  speaking: boolean;
  speakerId?: string;
}) {
  const { participant: p, view, audio, speaking } = props;
  const video = useRef<HTMLVideoElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const sound = useRef<HTMLAudioElement>(null);

  useEffect(() => {
    if (view?.kind === "stream" && video.current) video.current.srcObject = view.stream;
    if (view?.kind === "canvas" && canvas.current) return view.draw(canvas.current);
  }, [view]);

  useEffect(() => {
    if (!sound.current) return;
    sound.current.srcObject = audio;
    const sink = sound.current as HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };
    if (props.speakerId && sink.setSinkId) sink.setSinkId(props.speakerId).catch(() => undefined);
  }, [audio, props.speakerId]);

  const showVideo = view && p.camera;
  return (
    <figure
      className={`tile${speaking ? " speaking" : ""}${p.reconnecting ? " reconnecting" : ""}`}
      data-peer={p.peerId}
      data-self={p.isSelf || undefined}
    >
      {view?.kind === "stream" && (
        <video ref={video} autoPlay playsInline muted={p.isSelf} hidden={!showVideo} className={p.isSelf ? "mirror" : ""} />
      )}
      {view?.kind === "canvas" && <canvas ref={canvas} hidden={!showVideo} />}
      {!showVideo && <div className="avatar" aria-hidden>{p.displayName.slice(0, 1).toUpperCase()}</div>}
      {!p.isSelf && <audio ref={sound} autoPlay />}
      <figcaption>
        <span className="name">{p.displayName}{p.isSelf ? " (you)" : ""}{p.role === "host" ? " · host" : ""}</span>
        <span className="state">
          <MicIcon on={p.mic} />
          <CameraIcon on={p.camera} />
        </span>
        {p.reconnecting && <span className="badge">Reconnecting…</span>}
      </figcaption>
    </figure>
  );
}
