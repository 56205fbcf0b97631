// The REST API, typed with the generated protocol. Every failure is an ApiError carrying the
// server's code (or "network"), so pages can say what went wrong in words.

import type {
  CreateMeetingRequest,
  ErrorBody,
  ErrorCode,
  Meeting,
  Me,
  ParticipantRecord,
  TokenResponse,
  User,
} from "./protocol";
import type { LocalProblem } from "./errors";
import { parseMeetingLink, serverOrigin } from "./server";

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | LocalProblem,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(serverOrigin() + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError("network", "could not reach the server", 0);
  }
  const text = await res.text();
  if (!res.ok) {
    let err: Partial<ErrorBody> = {};
    try {
      err = JSON.parse(text) as ErrorBody;
    } catch {
      // Not one of ours (a proxy's page, say): report it by status.
    }
    throw new ApiError(err.code ?? (res.status >= 500 ? "unavailable" : "invalid_message"), err.message ?? res.statusText, res.status);
  }
  return JSON.parse(text) as T;
}

export const api = {
  guestToken: (displayName: string) => request<TokenResponse>("POST", "/auth/token", undefined, { displayName }),
  register: (email: string, password: string, name: string) =>
    request<User>("POST", "/api/users", undefined, { email, password, name }),
  login: (email: string, password: string) =>
    request<TokenResponse>("POST", "/api/auth/login", undefined, { email, password }),
  me: (token: string) => request<Me>("GET", "/api/me", token),
  createMeeting: (token: string, body: CreateMeetingRequest) => request<Meeting>("POST", "/api/meetings", token, body),
  meetings: (token: string) => request<Meeting[]>("GET", "/api/meetings", token),
  meeting: (token: string, code: string) => request<Meeting>("GET", `/api/meetings/${encodeURIComponent(code)}`, token),
  endMeeting: (token: string, code: string) =>
    request<Meeting>("POST", `/api/meetings/${encodeURIComponent(code)}/end`, token),
  participants: (token: string, code: string) =>
    request<ParticipantRecord[]>("GET", `/api/meetings/${encodeURIComponent(code)}/participants`, token),
};

/** A meeting code out of whatever was pasted: a code, or a link ending in one. */
export function parseMeetingCode(input: string): string | null {
  return parseMeetingLink(input)?.code ?? null;
}
