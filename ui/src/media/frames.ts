// Pictures from the desktop app's native decoder: raw I420 over a loopback WebSocket (see
// src-tauri/src/frames.rs for the format), drawn with WebGL, or on a 2D canvas where WebGL is
// unavailable. Only the newest picture of a track is ever drawn.

export type I420 = { width: number; height: number; y: Uint8Array; u: Uint8Array; v: Uint8Array };

/** One message from the frame server, or null when it is not one. */
export function parseFrame(buf: ArrayBuffer): { trackId: string; frame: I420 } | null {
  const bytes = new Uint8Array(buf);
  if (bytes.length < 6 || bytes[0] !== 1) return null;
  const n = bytes[1];
  const at = 2 + n;
  if (bytes.length < at + 4) return null;
  const trackId = new TextDecoder().decode(bytes.subarray(2, at));
  const view = new DataView(buf, at, 4);
  const width = view.getUint16(0, true);
  const height = view.getUint16(2, true);
  const luma = width * height;
  const chroma = (width / 2) * (height / 2);
  const start = at + 4;
  if (width % 2 || height % 2 || bytes.length !== start + luma + 2 * chroma) return null;
  return {
    trackId,
    frame: {
      width,
      height,
      y: bytes.subarray(start, start + luma),
      u: bytes.subarray(start + luma, start + luma + chroma),
      v: bytes.subarray(start + luma + chroma, start + luma + 2 * chroma),
    },
  };
}

/** BT.601 limited range, the colours the encoder and the test pattern use. */
export function yuvToRgb(y: number, u: number, v: number): [number, number, number] {
  const c = 1.164 * (y - 16);
  const d = u - 128;
  const e = v - 128;
  const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));
  return [clamp(c + 1.596 * e), clamp(c - 0.392 * d - 0.813 * e), clamp(c + 2.017 * d)];
}

interface Painter {
  paint(f: I420): void;
  readonly kind: "webgl" | "2d";
}

const VERTEX = `attribute vec2 p; varying vec2 t;
void main() { t = vec2((p.x + 1.0) / 2.0, (1.0 - p.y) / 2.0); gl_Position = vec4(p, 0.0, 1.0); }`;
const FRAGMENT = `precision mediump float; varying vec2 t; uniform sampler2D ty, tu, tv;
void main() {
  float y = 1.164 * (texture2D(ty, t).r - 0.0627);
  float u = texture2D(tu, t).r - 0.5, v = texture2D(tv, t).r - 0.5;
  gl_FragColor = vec4(y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u, 1.0);
}`;

function webglPainter(canvas: HTMLCanvasElement): Painter | null {
  // No preserved buffer, no antialiasing, no alpha: each picture replaces the last whole.
  const gl = canvas.getContext("webgl", { preserveDrawingBuffer: false, antialias: false, alpha: false, depth: false });
  if (!gl) return null;
  const shader = (type: number, src: string) => {
    const s = gl.createShader(type)!;
    gl.shaderSource(s, src);
    gl.compileShader(s);
    return s;
  };
  const prog = gl.createProgram()!;
  gl.attachShader(prog, shader(gl.VERTEX_SHADER, VERTEX));
  gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, FRAGMENT));
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) return null;
  gl.useProgram(prog);
  const buf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, buf);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const p = gl.getAttribLocation(prog, "p");
  gl.enableVertexAttribArray(p);
  gl.vertexAttribPointer(p, 2, gl.FLOAT, false, 0, 0);
  const textures = ["ty", "tu", "tv"].map((name, i) => {
    const t = gl.createTexture();
    gl.activeTexture(gl.TEXTURE0 + i);
    gl.bindTexture(gl.TEXTURE_2D, t);
    for (const [k, v] of [
      [gl.TEXTURE_MIN_FILTER, gl.LINEAR],
      [gl.TEXTURE_MAG_FILTER, gl.LINEAR],
      [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE],
      [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE],
    ]) gl.texParameteri(gl.TEXTURE_2D, k, v);
    gl.uniform1i(gl.getUniformLocation(prog, name), i);
    return t;
  });
  gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
  let size = "";
  return {
    kind: "webgl",
    paint(f) {
      if (canvas.width !== f.width || canvas.height !== f.height) {
        canvas.width = f.width;
        canvas.height = f.height;
      }
      gl.viewport(0, 0, f.width, f.height);
      const planes: [Uint8Array, number, number][] = [
        [f.y, f.width, f.height],
        [f.u, f.width / 2, f.height / 2],
        [f.v, f.width / 2, f.height / 2],
      ];
      // Textures are allocated once per picture size and then only refilled.
      const fresh = size !== `${f.width}x${f.height}`;
      size = `${f.width}x${f.height}`;
      planes.forEach(([data, w, h], i) => {
        gl.activeTexture(gl.TEXTURE0 + i);
        gl.bindTexture(gl.TEXTURE_2D, textures[i]);
        if (fresh) gl.texImage2D(gl.TEXTURE_2D, 0, gl.LUMINANCE, w, h, 0, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
        else gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, w, h, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
      });
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    },
  };
}

function canvasPainter(canvas: HTMLCanvasElement): Painter | null {
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  let image: ImageData | null = null;
  return {
    kind: "2d",
    paint(f) {
      if (!image || image.width !== f.width || image.height !== f.height) {
        canvas.width = f.width;
        canvas.height = f.height;
        image = ctx.createImageData(f.width, f.height);
      }
      const out = image.data;
      const cw = f.width / 2;
      for (let row = 0; row < f.height; row++) {
        for (let col = 0; col < f.width; col++) {
          const ci = (row >> 1) * cw + (col >> 1);
          const [r, g, b] = yuvToRgb(f.y[row * f.width + col], f.u[ci], f.v[ci]);
          const o = (row * f.width + col) * 4;
          out[o] = r;
          out[o + 1] = g;
          out[o + 2] = b;
          out[o + 3] = 255;
        }
      }
      ctx.putImageData(image, 0, 0);
    },
  };
}

/** The frame server's pictures, handed to whichever canvases show each track. */
export class FrameFeed {
  private ws: WebSocket | null = null;
  private latest = new Map<string, I420>();
  private canvases = new Map<string, Set<{ painter: Painter; drawn: I420 | null }>>();
  private raf = 0;
  private closed = false;
  /** The size each track is shown at (device pixels), told to the server. */
  private shown = new Map<string, { width: number; height: number }>();
  /** Pictures received and drawn per track, for checks of a running call. */
  readonly counts = new Map<string, { received: number; drawn: number; painter?: string }>();
  /** Milliseconds spent drawing, all tracks together. */
  drawMs = 0;

  constructor(private readonly url: string) {
    this.connect();
  }

  private connect() {
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      for (const [track, size] of this.shown) ws.send(JSON.stringify({ track, ...size }));
    };
    ws.onmessage = (e) => {
      const parsed = e.data instanceof ArrayBuffer ? parseFrame(e.data) : null;
      if (!parsed) return;
      this.latest.set(parsed.trackId, parsed.frame);
      const c = this.counts.get(parsed.trackId) ?? { received: 0, drawn: 0 };
      c.received++;
      this.counts.set(parsed.trackId, c);
      this.schedule();
    };
    // The server lives as long as the app; a drop is a restart of the page's side only.
    ws.onclose = () => {
      if (!this.closed) setTimeout(() => this.connect(), 500);
    };
    this.ws = ws;
  }

  private schedule() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.paint());
  }

  private paint() {
    this.raf = 0;
    for (const [trackId, targets] of this.canvases) {
      const frame = this.latest.get(trackId);
      if (!frame) continue;
      for (const t of targets) {
        if (t.drawn === frame) continue;
        const began = performance.now();
        t.painter.paint(frame);
        this.drawMs += performance.now() - began;
        t.drawn = frame;
        const c = this.counts.get(trackId);
        if (c) {
          c.drawn++;
          c.painter = t.painter.kind;
        }
      }
    }
  }

  /** Draws `trackId` into `canvas` until the returned function is called. */
  attach(trackId: string, canvas: HTMLCanvasElement): () => void {
    const painter = webglPainter(canvas) ?? canvasPainter(canvas);
    if (!painter) return () => undefined;
    const target = { painter, drawn: null };
    const set = this.canvases.get(trackId) ?? new Set();
    set.add(target);
    this.canvases.set(trackId, set);
    this.schedule();
    // Pictures come no larger than shown: the server scales them down to fit.
    const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => this.tellSize(trackId, canvas));
    observer?.observe(canvas);
    this.tellSize(trackId, canvas);
    return () => {
      observer?.disconnect();
      set.delete(target);
    };
  }

  private tellSize(trackId: string, canvas: HTMLCanvasElement) {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * ratio);
    const height = Math.round(canvas.clientHeight * ratio);
    if (!width || !height) return;
    const last = this.shown.get(trackId);
    if (last && last.width === width && last.height === height) return;
    this.shown.set(trackId, { width, height });
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ track: trackId, width, height }));
  }

  close() {
    this.closed = true;
    if (this.raf) cancelAnimationFrame(this.raf);
    this.ws?.close();
  }
}
