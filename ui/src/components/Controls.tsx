import { useEffect, useState } from "react";
import type { Device, DeviceKind } from "../media/backend";

export function Controls(props: {
  mic: boolean;
  camera: boolean;
  /** The microphone's loudness, 0 to 1. */
  level: number;
  isHost: boolean;
  devices: Device[];
  onMic: () => void;
  onCamera: () => void;
  onDevice: (kind: DeviceKind, id: string) => void;
  onLeave: () => void;
  onEnd: () => void;
}) {
  const [showDevices, setShowDevices] = useState(false);
  // Keyboard: M toggles the microphone, V the camera (not while typing).
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "m" || e.key === "M") props.onMic();
      if (e.key === "v" || e.key === "V") props.onCamera();
    };
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [props]);
  const group = (kind: DeviceKind, label: string) => {
    const list = props.devices.filter((d) => d.kind === kind);
    if (list.length === 0) return null;
    return (
      <label>
        {label}
        <select onChange={(e) => props.onDevice(kind, e.target.value)}>
          {list.map((d) => (
            <option key={d.id} value={d.id}>{d.label}</option>
          ))}
        </select>
      </label>
    );
  };
  return (
    <nav className="controls" aria-label="Call controls">
      <button onClick={props.onMic} aria-pressed={!props.mic} title="Microphone (M)">
        {props.mic ? "Mute" : "Unmute"}
      </button>
      {/* Loudness on a rising scale: speech sits around 0.05 to 0.3 RMS. */}
      <meter className="level" min={0} max={1} value={Math.min(1, Math.sqrt(props.level * 4))} title="Microphone level" aria-label="Microphone level" />
      <button onClick={props.onCamera} aria-pressed={!props.camera} title="Camera (V)">
        {props.camera ? "Stop video" : "Start video"}
      </button>
      <button onClick={() => setShowDevices(!showDevices)} aria-expanded={showDevices}>Devices</button>
      <button className="danger" onClick={props.onLeave}>Leave</button>
      {props.isHost && (
        <button className="danger" onClick={props.onEnd}>End for all</button>
      )}
      {showDevices && (
        <div className="devices">
          {group("camera", "Camera")}
          {group("microphone", "Microphone")}
          {group("speaker", "Speaker")}
          {props.devices.length === 0 && <p>No devices are visible to this page.</p>}
        </div>
      )}
    </nav>
  );
}
