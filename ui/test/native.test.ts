import { describe as suite, expect, it } from "vitest";
import { parseFrame, yuvToRgb } from "../src/media/frames";
import { pickDevice } from "../src/media/native";
import { normalizeServer, parseMeetingLink } from "../src/server";
import type { Device } from "../src/native/bindings";

/** A frame-server message as src-tauri/src/frames.rs writes it. */
function message(trackId: string, width: number, height: number, fill: [number, number, number]): ArrayBuffer {
  const id = new TextEncoder().encode(trackId);
  const luma = width * height;
  const chroma = luma / 4;
  const out = new Uint8Array(2 + id.length + 4 + luma + 2 * chroma);
  out[0] = 1;
  out[1] = id.length;
  out.set(id, 2);
  const at = 2 + id.length;
  new DataView(out.buffer).setUint16(at, width, true);
  new DataView(out.buffer).setUint16(at + 2, height, true);
  out.fill(fill[0], at + 4, at + 4 + luma);
  out.fill(fill[1], at + 4 + luma, at + 4 + luma + chroma);
  out.fill(fill[2], at + 4 + luma + chroma);
  return out.buffer;
}

suite("frame messages", () => {
  it("parse into a track id and three planes", () => {
    const parsed = parseFrame(message("t1_abc", 4, 2, [100, 110, 120]));
    expect(parsed?.trackId).toBe("t1_abc");
    expect(parsed?.frame.width).toBe(4);
    expect(parsed?.frame.y).toEqual(new Uint8Array(8).fill(100));
    expect(parsed?.frame.u).toEqual(new Uint8Array(2).fill(110));
    expect(parsed?.frame.v).toEqual(new Uint8Array(2).fill(120));
  });

  it("refuse what is not one", () => {
    const good = message("t", 4, 2, [0, 0, 0]);
    expect(parseFrame(good.slice(0, good.byteLength - 1))).toBeNull();
    const wrongVersion = new Uint8Array(good.slice(0));
    wrongVersion[0] = 2;
    expect(parseFrame(wrongVersion.buffer)).toBeNull();
    expect(parseFrame(new ArrayBuffer(3))).toBeNull();
  });

  it("convert limited-range BT.601 to RGB", () => {
    expect(yuvToRgb(16, 128, 128)).toEqual([0, 0, 0]);
    expect(yuvToRgb(235, 128, 128)).toEqual([255, 255, 255]);
    const [r, g, b] = yuvToRgb(81, 90, 240); // pure red, as encoders write it
    expect(r).toBeGreaterThan(240);
    expect(g).toBeLessThan(15);
    expect(b).toBeLessThan(15);
  });
});

suite("device choice", () => {
  const list: Device[] = [
    { id: "/dev/video0", label: "Webcam", kind: "camera", synthetic: false },
    { id: "/dev/video2", label: "Other webcam", kind: "camera", synthetic: false },
    { id: "synthetic", label: "Test pattern", kind: "camera", synthetic: true },
    { id: "synthetic", label: "Test tone", kind: "microphone", synthetic: true },
  ];
  it("keeps an earlier choice that is still there", () => {
    expect(pickDevice(list, "camera", "/dev/video2")?.id).toBe("/dev/video2");
  });
  it("prefers hardware, else the synthetic source", () => {
    expect(pickDevice(list, "camera", "/dev/gone")?.id).toBe("/dev/video0");
    expect(pickDevice(list, "microphone")?.synthetic).toBe(true);
    expect(pickDevice(list, "speaker")).toBeUndefined();
  });
});

suite("servers and links", () => {
  it("normalizes what people type", () => {
    expect(normalizeServer("192.168.1.20:8080")).toBe("http://192.168.1.20:8080");
    expect(normalizeServer("https://meet.example.com/m/abc-defg-hij")).toBe("https://meet.example.com");
    expect(normalizeServer("ftp://x")).toBeNull();
    expect(normalizeServer("  ")).toBeNull();
  });
  it("reads a meeting link's server and code", () => {
    expect(parseMeetingLink("https://10.0.0.5:8443/m/abc-defg-hij")).toEqual({ server: "https://10.0.0.5:8443", code: "abc-defg-hij" });
    expect(parseMeetingLink("ABC-DEFG-HIJ")).toEqual({ code: "abc-defg-hij" });
    expect(parseMeetingLink("not a code")).toBeNull();
  });
});

suite("trusting a server's own certificate", () => {
  const cert = (fingerprint: string, known: string | null) => ({ fingerprint, known });
  it("leaves alone a server the web view already reaches", async () => {
    const { decideTrust } = await import("../src/native/trust");
    expect(decideTrust(true, null, null)).toBe("ready");
  });
  it("trusts silently only the very certificate trusted before", async () => {
    const { decideTrust } = await import("../src/native/trust");
    expect(decideTrust(false, cert("AA", "AA"), null)).toBe("trust-known");
    expect(decideTrust(false, cert("BB", "AA"), null)).toEqual({ kind: "ask", fingerprint: "BB", known: "AA", advertised: null });
    expect(decideTrust(false, cert("AA", null), "AA")).toEqual({ kind: "ask", fingerprint: "AA", known: null, advertised: "AA" });
  });
  it("reports a server that cannot be reached", async () => {
    const { decideTrust } = await import("../src/native/trust");
    expect(decideTrust(false, null, null)).toMatchObject({ kind: "unreachable" });
  });
});
