// `parlor-app --report FILE`: once a second, what the window shows (the question a dialog is
// asking, with its buttons; in a meeting each tile and where it is on the screen, pictures
// drawn per track) and what the call measured, written to FILE by the app.

import { getCurrentWindow } from "@tauri-apps/api/window";
import { serverOrigin } from "../server";
import { commands, type ButtonReport, type CallReport, type DialogReport, type TileReport } from "./bindings";

type Box = { x: number; y: number; width: number; height: number };

function box(el: Element): Box {
  const r = el.getBoundingClientRect();
  return { x: r.x, y: r.y, width: r.width, height: r.height };
}

/** The tiles of a meeting page, where they are within the page. */
export function tiles(): TileReport[] {
  return [...document.querySelectorAll<HTMLElement>("figure.tile[data-peer]")].map((el) => ({
    peerId: el.dataset.peer ?? "",
    name: el.querySelector(".name")?.textContent ?? "",
    isSelf: el.dataset.self !== undefined,
    ...box(el),
  }));
}

/** The question the page is asking, if any: the first dialog shown, its title and buttons. */
export function dialog(root: ParentNode = document): DialogReport | null {
  const el = root.querySelector<HTMLElement>('[role="dialog"], [role="alertdialog"]');
  if (!el) return null;
  const titled = el.getAttribute("aria-labelledby");
  const title = (titled ? document.getElementById(titled) : el.querySelector("h1, h2, h3"))?.textContent ?? "";
  const buttons: ButtonReport[] = [...el.querySelectorAll("button")].map((b) => ({
    label: b.textContent?.trim() ?? "",
    enabled: !b.disabled,
    ...box(b),
  }));
  return { title: title.trim(), text: (el.innerText || el.textContent || "").trim(), buttons };
}

let meeting: { code: string; call: () => Promise<CallReport> } | null = null;

/** While a meeting page is open it adds its part of the report; `null` when it closes. */
export function reportMeeting(part: typeof meeting): void {
  meeting = part;
}

/** Starts reporting, for the life of the page, when the app was asked to. */
export async function startReporting(): Promise<void> {
  if (!(await commands.reportWanted())) return;
  const win = getCurrentWindow();
  setInterval(async () => {
    const [at, scale] = await Promise.all([win.innerPosition(), win.scaleFactor()]);
    const part = meeting;
    await commands.report({
      pageX: at.x,
      pageY: at.y,
      scale,
      path: location.pathname,
      meeting: part?.code ?? null,
      server: serverOrigin(),
      dialog: dialog(),
      call: part ? await part.call() : null,
    });
  }, 1000);
}
