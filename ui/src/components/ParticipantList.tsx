import type { Participant } from "../state/meeting";

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
          <li key={p.peerId} data-peer={p.peerId}>
            <span>
              {p.displayName}
              {p.isSelf ? " (you)" : ""}
              {p.role === "host" ? " · host" : ""}
              {p.reconnecting ? " · reconnecting" : ""}
            </span>
            <span>{p.mic ? "🎙" : "🔇"}</span>
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
