// `parlor-app --report FILE`: once a second, what the window shows (each tile and where it
// is on the screen, pictures drawn per track) and what the call measured, written to FILE by
// the app.

import { getCurrentWindow } from "@tauri-apps/api/window";
import { serverOrigin } from "../server";
import { commands, type DrawnReport, type TileReport } from "./bindings";

function tiles(): TileReport[] {
  return [...document.querySelectorAll<HTMLElement>("figure.tile[data-peer]")].map((el) => {
    const r = el.getBoundingClientRect();
    return {
      peerId: el.dataset.peer ?? "",
      name: el.querySelector(".name")?.textContent ?? "",
      isSelf: el.dataset.self !== undefined,
      x: r.x,
      y: r.y,
      width: r.width,
      height: r.height,
    };
  });
}

/** Starts reporting when the app asked for it; returns how to stop. */
export async function startReporting(
  meeting: string,
  drawn: () => Record<string, DrawnReport>,
  drawMs: () => number,
): Promise<() => void> {
  if (!(await commands.reportWanted())) return () => undefined;
  const win = getCurrentWindow();
  const timer = setInterval(async () => {
    const [at, scale] = await Promise.all([win.innerPosition(), win.scaleFactor()]);
    const [stats, cpu] = await Promise.all([commands.mediaStats(), commands.mediaCpu()]);
    await commands.report({
      pageX: at.x,
      pageY: at.y,
      scale,
      meeting,
      server: serverOrigin(),
      tiles: tiles(),
      drawn: drawn(),
      stats: stats.status === "ok" ? stats.data : [],
      cpu: cpu.status === "ok" ? cpu.data : { captureMs: 0, encodeMs: 0, decodeMs: 0 },
      drawMs: drawMs(),
    });
  }, 1000);
  return () => clearInterval(timer);
}
