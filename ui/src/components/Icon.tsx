// Small line icons drawn here, so they look the same whatever fonts a machine has.

const PATHS = {
  mic: "M12 3a3 3 0 0 1 3 3v5a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zM6 11a6 6 0 0 0 12 0M12 17v4M9 21h6",
  camera: "M3 7h12v10H3zM15 10l6-3v10l-6-3",
} as const;

export function Icon({ name, off, label }: { name: keyof typeof PATHS; off?: boolean; label: string }) {
  return (
    <svg className={`icon${off ? " off" : ""}`} viewBox="0 0 24 24" width="16" height="16" role="img" aria-label={label}>
      <title>{label}</title>
      <path d={PATHS[name]} fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
      {off && <path d="M4 4l16 16" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />}
    </svg>
  );
}

export const MicIcon = ({ on }: { on: boolean }) => <Icon name="mic" off={!on} label={on ? "Microphone on" : "Microphone off"} />;
export const CameraIcon = ({ on }: { on: boolean }) => <Icon name="camera" off={!on} label={on ? "Camera on" : "Camera off"} />;
