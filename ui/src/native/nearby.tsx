// "Nearby meetings" (desktop app): what Parlor servers and hosted meetings on the local
// network advertise over mDNS, each a click away.

import { useCallback, useEffect, useState } from "react";
import { useNavigate } from "react-router-dom";
import { setServerOrigin } from "../server";
import { commands, type NearbyMeeting } from "./bindings";
import { rememberAdvertised } from "./trust";

export function NearbyCard({ onServer }: { onServer?: (server: string) => void }) {
  const navigate = useNavigate();
  const [found, setFound] = useState<NearbyMeeting[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [searching, setSearching] = useState(false);
  const search = useCallback(async () => {
    setSearching(true);
    const r = await commands.nearbyMeetings();
    setSearching(false);
    if (r.status === "ok") {
      setFound(r.data);
      setError(null);
    } else setError("message" in r.error ? r.error.message : r.error.code);
  }, []);
  useEffect(() => {
    void search();
  }, [search]);
  const open = (m: NearbyMeeting) => {
    rememberAdvertised(m.server, m.fingerprint);
    setServerOrigin(m.server);
    onServer?.(m.server);
    navigate(m.code ? `/m/${m.code}` : "/");
  };
  return (
    <section className="card nearby">
      <h2>Nearby meetings</h2>
      {error && <p role="alert" className="error">{error}</p>}
      {found && found.length === 0 && <p>No meetings found on this network.</p>}
      {found && found.length > 0 && (
        <ul>
          {found.map((m) => (
            <li key={m.name + m.server}>
              <strong>{m.title ?? m.name}</strong>
              {m.host && <> hosted by {m.host}</>} <small>{m.server}</small>{" "}
              <button onClick={() => open(m)}>{m.code ? "Join" : "Open"}</button>
            </li>
          ))}
        </ul>
      )}
      <button className="secondary" disabled={searching} onClick={() => void search()}>
        {searching ? "Searching…" : "Search again"}
      </button>
    </section>
  );
}
