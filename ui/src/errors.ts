import type { ErrorCode } from "./protocol";

/** Problems that happen in the browser rather than on the server. */
export type LocalProblem =
  | "network"
  | "connection_lost"
  | "permission_denied"
  | "no_device"
  | "device_busy"
  | "media_failed"
  | "device_failed"
  | "synthetic_devices";

/**
 * Every server error code, in words a person can act on. `Record<ErrorCode, …>` makes this a
 * compile error when the protocol gains a code that has no words here.
 */
const SERVER: Record<ErrorCode, string> = {
  bad_json: "The app sent something the server could not read. Reload the page and try again.",
  invalid_message: "The app sent a request the server did not accept. Reload the page and try again.",
  unknown_type: "The app and the server disagree about the protocol. Reload the page to update it.",
  message_too_large: "That message is too long to send.",
  validation_failed: "Some of what you entered is not valid. Check the fields and try again.",
  bad_sdp: "The call could not be set up with this browser's media settings.",
  unauthorized: "Please sign in or enter a name to continue.",
  invalid_token: "Your session is not valid any more. Please sign in again.",
  token_expired: "Your session has expired. Please sign in again.",
  invalid_credentials: "That email and password do not match an account.",
  forbidden: "Only the meeting's host can do that.",
  guest_not_allowed: "Guests cannot do that. Sign in or create an account first.",
  not_found: "That was not found.",
  room_not_found: "There is no meeting with that code. Check the code or link.",
  peer_not_found: "That participant is no longer in the meeting.",
  not_joined: "You are not in the meeting any more. Rejoin to continue.",
  already_joined: "You are already in this meeting.",
  room_full: "This meeting is full.",
  meeting_ended: "This meeting has ended.",
  email_taken: "An account with that email already exists. Sign in instead.",
  rate_limited: "You are doing that too quickly. Wait a moment and try again.",
  slow_consumer: "Your connection could not keep up with the meeting and was closed.",
  payload_too_large: "That is too large to send.",
  unavailable: "The server is having trouble right now. Try again in a moment.",
  internal: "Something went wrong on the server. Try again.",
};

const LOCAL: Record<LocalProblem, string> = {
  network: "Could not reach the server. Check your connection and try again.",
  connection_lost: "The connection to the meeting was lost. Reconnecting…",
  permission_denied:
    "Camera or microphone access was refused. Allow it in your browser's site settings, then turn it on again.",
  no_device: "No camera or microphone was found.",
  device_busy: "The camera or microphone is in use by another application.",
  media_failed: "Audio and video could not be connected to the meeting.",
  device_failed: "That device could not be opened, so the call goes on with the one before.",
  synthetic_devices: "No camera or microphone was found, so a test pattern and a tone are sent instead.",
};

export function describe(code: ErrorCode | LocalProblem): string {
  return (SERVER as Record<string, string>)[code] ?? LOCAL[code as LocalProblem] ?? code;
}

export function isServerCode(code: string): code is ErrorCode {
  return code in SERVER;
}

/** Maps a getUserMedia failure to what to tell the person. */
export function mediaProblem(error: unknown): LocalProblem {
  const name = error instanceof Error ? error.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return "permission_denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "no_device";
    case "NotReadableError":
    case "AbortError":
      return "device_busy";
    default:
      return "media_failed";
  }
}
