// A whole meeting in real Chromium: a newcomer registers and creates a meeting, a guest joins
// by its link, and a native `parlor-client` (started by the caller once the code is known)
// joins too. Everyone's video is decoded by everyone, chat goes round, the host mutes and
// then removes the guest, mutes the native client, and ends the meeting.
//
// Run by the browser end-to-end test (media/tests/browser.rs), which reads this script's
// stdout: one JSON object per line, {"event": ...}. Environment:
//   PARLOR_URL        the server, e.g. http://127.0.0.1:8080
//   PARLOR_ARTIFACTS  directory for the screenshots
//   PARLOR_NATIVE     display name the native client joins with
//   PARLOR_CHROMIUM   browser executable (default /usr/bin/chromium)
// Exit status 0 when every check passed; otherwise the failure is on stderr.

import { launchChromium } from "./chromium.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = process.env.PARLOR_URL ?? "http://127.0.0.1:8080";
const artifacts = process.env.PARLOR_ARTIFACTS ?? tmpdir();
const nativeName = process.env.PARLOR_NATIVE ?? "Native";
// Frames each remote video must have decoded, and grown by between two readings.
const MIN_FRAMES = 30;

const emit = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));
const step = (what) => emit("step", { what });

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

/** Polls `read` until `done(value)`, or fails naming `what` with the last value seen. */
async function until(what, read, done, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Display name of every participant the page lists, by participant id. */
const people = (page) =>
  page.$$eval("ul.people li[data-peer]", (items) =>
    Object.fromEntries(items.map((li) => [li.dataset.peer, li.dataset.name ?? ""])),
  );

/** `field` of each remote track of `kind`, keyed by the sender's display name. */
async function remoteStats(page, kind, field) {
  const names = await people(page);
  const stats = await page.evaluate(() => window.parlor?.stats() ?? []);
  const out = {};
  for (const s of stats) {
    if (s.kind !== kind) continue;
    const name = names[s.peerId] ?? s.peerId;
    out[name] = Math.max(out[name] ?? 0, s[field]);
  }
  return out;
}
const videoFrames = (page) => remoteStats(page, "video", "framesDecoded");
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Checks that audio from `name` has stopped reaching `page`: muting stops sending. */
async function audioStopped(page, name) {
  await pause(1000); // what was already on its way
  const before = (await remoteStats(page, "audio", "packetsReceived"))[name];
  await pause(1500);
  const after = (await remoteStats(page, "audio", "packetsReceived"))[name];
  check(before !== undefined && after === before, `no audio from ${name} after muting (${before} → ${after})`);
}

const browser = await launchChromium();

const pages = [];
try {
  const context = async (viewport) => {
    const ctx = await browser.newContext({ viewport });
    await ctx.grantPermissions(["camera", "microphone"], { origin: base });
    const page = await ctx.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") process.stderr.write(`[${pages.indexOf(page)}] console: ${m.text()}\n`);
    });
    page.on("pageerror", (e) => process.stderr.write(`[${pages.indexOf(page)}] page error: ${e.stack}\n`));
    pages.push(page);
    return page;
  };

  // The host: a newcomer who creates an account, then a meeting.
  step("host registers and creates a meeting");
  const host = await context({ width: 1280, height: 800 });
  await host.goto(`${base}/`);
  await host.getByRole("link", { name: "Create account" }).click();
  await host.getByLabel("Your name").fill("Hana");
  await host.getByLabel("Email").fill("hana@example.test");
  await host.getByLabel("Password").fill("a long enough password");
  await host.getByRole("button", { name: "Create account" }).click();
  await host.getByLabel("Title").fill("Browser check");
  await host.getByRole("button", { name: "New meeting" }).click();
  await host.waitForURL(/\/m\/[a-z]{3}-[a-z]{4}-[a-z]{3}$/);
  const code = new URL(host.url()).pathname.split("/").pop();
  emit("code", { code });

  // The guest follows the link on a phone-width screen and gives a name.
  step("guest joins by link");
  const guest = await context({ width: 390, height: 844 });
  await guest.goto(`${base}/m/${code}`);
  await guest.getByLabel("Your name").fill("Gus");
  await guest.getByRole("button", { name: "Join now" }).click();

  step("everyone is in");
  for (const page of [host, guest]) {
    await until("three participants", () => people(page), (p) => Object.keys(p).length === 3, 60_000);
  }
  emit("people", { people: await people(host) });

  step("the microphone meter moves");
  await until("a level on the host's meter", () => host.locator("meter.level").evaluate((m) => m.value), (v) => v > 0);

  step("every browser decodes both other videos");
  const others = { Hana: ["Gus", nativeName], Gus: ["Hana", nativeName] };
  const first = {};
  for (const [who, page] of [["Hana", host], ["Gus", guest]]) {
    first[who] = await until(
      `${who} decoding ${others[who].join(" and ")}`,
      () => videoFrames(page),
      (f) => others[who].every((o) => (f[o] ?? 0) >= MIN_FRAMES),
      60_000,
    );
  }
  await pause(2000);
  const frames = {};
  for (const [who, page] of [["Hana", host], ["Gus", guest]]) {
    const later = await videoFrames(page);
    for (const o of others[who]) {
      check(later[o] > first[who][o], `${who}'s decoded frames from ${o} keep growing (${first[who][o]} → ${later[o]})`);
      frames[`${o}->${who}`] = later[o];
    }
  }
  emit("frames", { frames });
  await host.screenshot({ path: join(artifacts, "meeting-host.png") });
  await guest.screenshot({ path: join(artifacts, "meeting-phone.png"), fullPage: true });
  emit("screenshot", { path: join(artifacts, "meeting-host.png") });

  step("chat goes round");
  const say = async (page, text) => {
    await page.getByLabel("Message").fill(text);
    await page.getByRole("button", { name: "Send" }).click();
  };
  const sees = (page, text) =>
    until(`chat "${text}"`, () => page.locator("section.chat li p").allTextContents(), (t) => t.includes(text));
  await say(host, "Hello from Hana");
  await sees(guest, "Hello from Hana");
  await say(guest, "Hi Hana, Gus here");
  await sees(host, "Hi Hana, Gus here");
  // The native client says hello when it joins; both browsers have it.
  await sees(host, `Hello from ${nativeName}`);
  await sees(guest, `Hello from ${nativeName}`);

  step("host mutes the guest");
  await host.getByRole("button", { name: "Mute Gus" }).click();
  await guest.getByRole("button", { name: "Unmute" }).waitFor();
  await guest.getByText("Hana muted you").waitFor();
  const guestSending = await guest.evaluate(() => window.parlor?.sending?.() ?? null);
  check(guestSending && guestSending.audio === false, `the guest stopped sending audio: ${JSON.stringify(guestSending)}`);
  await audioStopped(host, "Gus");

  step("host mutes the native client");
  await host.getByRole("button", { name: `Mute ${nativeName}` }).click();
  await until(`${nativeName} shown muted`, () => host.getByRole("button", { name: `Mute ${nativeName}` }).isDisabled(), Boolean);
  await audioStopped(host, nativeName);
  emit("native_muted");

  step("host removes the guest");
  await host.getByRole("button", { name: "Remove Gus" }).click();
  await guest.getByText("The host removed you from the meeting.").waitFor();
  await until("two participants left", () => people(host), (p) => Object.keys(p).length === 2);

  step("host ends the meeting");
  await host.getByRole("button", { name: "End for all" }).click();
  await host.getByText("The host ended the meeting.").waitFor();
  await host.screenshot({ path: join(artifacts, "meeting-ended.png") });
  emit("done");
} catch (e) {
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: join(artifacts, `failure-${i}.png`) }).catch(() => {});
  }
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
