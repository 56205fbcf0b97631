import type { Participant } from "../state/meeting";
import { CameraIcon, MicIcon } from "./Icon";

export function ParticipantList(props: {
  participants: Participant[];
  isHost: boolean;
  onMute: (id: string) => void;
  onRemove: (id: string) => void;
}) {
  return (
    <section className="panel" aria-label="Participants">
      <h2>People ({props.participants.length})</h2>
      <ul className="people">
        {props.participants.map((p) => (
          <li key={p.peerId} data-peer={p.peerId} data-name={p.displayName}>
            <span>
              {p.displayName}
              {p.isSelf ? " (you)" : ""}
              {p.role === "host" ? " · host" : ""}
              {p.reconnecting ? " · reconnecting" : ""}
            </span>
            <span className="state">
              <MicIcon on={p.mic} />
              <CameraIcon on={p.camera} />
            </span>
            {props.isHost && !p.isSelf && (
              <span className="actions">
                <button onClick={() => props.onMute(p.peerId)} disabled={!p.mic} aria-label={`Mute ${p.displayName}`}>
                  Mute
                </button>
                <button onClick={() => props.onRemove(p.peerId)} aria-label={`Remove ${p.displayName}`}>
                  Remove
                </button>
              </span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
