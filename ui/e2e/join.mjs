// One person joins a meeting by its link in Debian's Chromium (fake camera and microphone),
// gives a name, and stays until every other participant's video is decoding.
//
// Environment:
//   PARLOR_LINK       the meeting link, e.g. http://127.0.0.1:8080/m/abc-defg-hij
//   PARLOR_NAME       the name to join under
//   PARLOR_VIDEOS     how many other people's video must decode
//   PARLOR_ARTIFACTS  directory for the screenshot
//   PARLOR_CHROMIUM   browser executable (default /usr/bin/chromium)
//   PARLOR_IGNORE_CERTIFICATE=1  go past a self-signed certificate's warning, as a person
//                     joining a meeting hosted on someone's computer does
//   PARLOR_AGAIN=1    after that, stay until as many videos decode again on new tracks
//                     (the call came back after its server was lost), then print
//                     {"event":"again","frames":…,"reconnecting":bool}
// Prints {"event":"frames","frames":{name:framesDecoded}} and exits 0 when it all worked.

import { launchChromium } from "./chromium.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const link = process.env.PARLOR_LINK;
const name = process.env.PARLOR_NAME ?? "Tab";
const videos = Number(process.env.PARLOR_VIDEOS ?? 1);
const artifacts = process.env.PARLOR_ARTIFACTS ?? tmpdir();

const browser = await launchChromium();
try {
  const ctx = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    ignoreHTTPSErrors: process.env.PARLOR_IGNORE_CERTIFICATE === "1",
  });
  const page = await ctx.newPage();
  await page.goto(link);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Join now" }).click();
  // Video frames decoded per sender (by name), and the tracks decoding well.
  const decoding = () =>
    page.evaluate(async () => {
      const names = Object.fromEntries(
        [...document.querySelectorAll("ul.people li[data-peer]")].map((li) => [li.dataset.peer, li.dataset.name]),
      );
      const frames = {};
      const tracks = [];
      for (const s of (await window.parlor?.stats()) ?? []) {
        if (s.kind !== "video") continue;
        frames[names[s.peerId] ?? s.peerId] = s.framesDecoded;
        if (s.framesDecoded >= 30) tracks.push(s.trackId);
      }
      return { frames, tracks };
    });
  // Waits until `videos` tracks not in `seen` decode 30 frames or more.
  const until = async (seen) => {
    const end = Date.now() + 60_000;
    let now = { frames: {}, tracks: [] };
    let reconnecting = false;
    for (;;) {
      now = await decoding();
      reconnecting ||= (await page.getByText("Reconnecting…").count()) > 0;
      if (now.tracks.filter((t) => !seen.includes(t)).length >= videos) return { ...now, reconnecting };
      if (Date.now() > end) throw new Error(`timed out; decoded: ${JSON.stringify(now.frames)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const first = await until([]);
  await page.screenshot({ path: join(artifacts, "browser-tab.png") });
  console.log(JSON.stringify({ event: "frames", frames: first.frames }));
  if (process.env.PARLOR_AGAIN === "1") {
    const again = await until(first.tracks);
    await page.screenshot({ path: join(artifacts, "browser-tab-again.png") });
    console.log(JSON.stringify({ event: "again", frames: again.frames, reconnecting: again.reconnecting }));
  }
} catch (e) {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
