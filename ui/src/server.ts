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

const CHANGED = "parlor:server";

/** Chooses the server (desktop app only); false when `input` is not a server address. */
export function setServerOrigin(input: string): boolean {
  const origin = normalizeServer(input);
  if (!origin) return false;
  const before = localStorage.getItem(KEY);
  localStorage.setItem(KEY, origin);
  if (before !== origin) window.dispatchEvent(new Event(CHANGED));
  return true;
}

/** Calls `changed` whenever the chosen server changes; returns the unsubscribe. */
export function onServerChange(changed: () => void): () => void {
  window.addEventListener(CHANGED, changed);
  return () => window.removeEventListener(CHANGED, changed);
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

/** What the desktop app was started with (`parlor-app --join LINK --name NAME --server URL`). */
export type Launch = {
  server?: string | null;
  join?: string | null;
  name?: string | null;
  host?: string | null;
  hostAddress?: string | null;
};

declare global {
  interface Window {
    __PARLOR_LAUNCH__?: Launch;
  }
}

const AUTO_JOIN = "parlor.autojoin";

/**
 * Applies the app's launch options once per window: chooses the server, and returns the path
 * to open (a meeting given with `--join`). With `--name` too, the meeting page joins under
 * that name without asking.
 */
export function applyLaunch(): string | null {
  const launch = window.__PARLOR_LAUNCH__;
  if (!launch || sessionStorage.getItem("parlor.launched")) return null;
  sessionStorage.setItem("parlor.launched", "1");
  if (launch.server) setServerOrigin(launch.server);
  const link = launch.join ? parseMeetingLink(launch.join) : null;
  if (!link) return null;
  if (link.server) setServerOrigin(link.server);
  if (launch.name) sessionStorage.setItem(AUTO_JOIN, launch.name);
  return `/m/${link.code}`;
}

/** The name to join under without asking, until `usedAutoJoinName`. */
export function autoJoinName(): string | null {
  return sessionStorage.getItem(AUTO_JOIN);
}

export function usedAutoJoinName(): void {
  sessionStorage.removeItem(AUTO_JOIN);
}
