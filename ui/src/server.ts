// Which Parlor server the page talks to. In a browser that is always the page's own origin
// (the server served it). In the desktop app the page is the app's own, so the person picks a
// server, or a meeting link names one; the choice is kept between runs.

const KEY = "parlor.server";
/** Where `parlor-server` listens when started with no options. */
export const DEFAULT_SERVER = "http://127.0.0.1:8080";

export function isNativeApp(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

/** `http(s)://host[:port]` out of what was typed or pasted, or null when it is not one. */
export function normalizeServer(input: string): string | null {
  const raw = input.trim();
  if (!raw) return null;
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (!url.hostname) return null;
    return url.origin;
  } catch {
    return null;
  }
}

export function serverOrigin(): string {
  if (!isNativeApp()) return location.origin;
  return normalizeServer(localStorage.getItem(KEY) ?? "") ?? DEFAULT_SERVER;
}

/** Chooses the server (desktop app only); false when `input` is not a server address. */
export function setServerOrigin(input: string): boolean {
  const origin = normalizeServer(input);
  if (!origin) return false;
  localStorage.setItem(KEY, origin);
  return true;
}

export function websocketOrigin(): string {
  return serverOrigin().replace(/^http/, "ws");
}

/** A meeting link's server and code; the server is absent for a bare code. */
export function parseMeetingLink(input: string): { server?: string; code: string } | null {
  const text = input.trim();
  const m = text.toLowerCase().match(/([a-z]{3}-[a-z]{4}-[a-z]{3})\/?$/);
  if (!m) return null;
  const server = /^https?:\/\//i.test(text) ? normalizeServer(text) ?? undefined : undefined;
  return server ? { server, code: m[1] } : { code: m[1] };
}
