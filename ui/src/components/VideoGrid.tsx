import { useEffect, useState } from "react";
import type { RemoteTrack, View } from "../media/backend";
import { gridColumns, type Participant } from "../state/meeting";
import { VideoTile } from "./VideoTile";

function useNarrow(): boolean {
  const query = "(max-width: 600px)";
  const [narrow, setNarrow] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const m = window.matchMedia(query);
    const on = () => setNarrow(m.matches);
    m.addEventListener("change", on);
    return () => m.removeEventListener("change", on);
  }, []);
  return narrow;
}

export function VideoGrid(props: {
  participants: Participant[];
  remote: RemoteTrack[];
  local: View | null;
  speakers: string[];
  speakerId?: string;
}) {
  const narrow = useNarrow();
  const cols = gridColumns(props.participants.length, narrow);
  return (
    <section className="grid" style={{ gridTemplateColumns: `repeat(${cols}, minmax(0, 1fr))` }} aria-label="Participants' video">
      {props.participants.map((p) => {
        const video = p.isSelf ? props.local : props.remote.find((t) => t.peerId === p.peerId && t.kind === "video")?.view ?? null;
        const audioTrack = props.remote.find((t) => t.peerId === p.peerId && t.kind === "audio");
        const audio = audioTrack?.view.kind === "stream" ? audioTrack.view.stream : null;
        return (
          <VideoTile
            key={p.peerId}
            participant={p}
            view={video}
            audio={audio}
            speaking={props.speakers[0] === p.peerId}
            speakerId={props.speakerId}
          />
        );
      })}
    </section>
  );
}
