// One signaling WebSocket: typed messages out and in, and a resume after a dropped connection
// using the `resumeToken` from `joined`, so a network blip keeps the same participant.

import type { ClientMessage, ServerMessage } from "./protocol";
import { websocketOrigin } from "./server";

/** Close codes after which reconnecting would be wrong (see the server's signal/session). */
const FINAL_CLOSES = new Set([1000, 1008, 1009, 4000, 4001, 4002]);

export type SignalEvents = {
  message: (m: ServerMessage) => void;
  /** The connection dropped; a resume is being attempted. */
  lost: () => void;
  /** The connection is gone for good (`code` is the WebSocket close code). */
  closed: (code: number) => void;
};

export class Signaling {
  private ws: WebSocket | null = null;
  private resumeToken: string | null = null;
  private stopped = false;
  private attempts = 0;
  private queue: ClientMessage[] = [];

  constructor(
    private readonly token: string,
    private readonly roomId: string,
    private readonly on: SignalEvents,
    private readonly base: string = websocketOrigin(),
  ) {}

  start(): void {
    this.open();
  }

  send(m: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
    else this.queue.push(m);
  }

  /** Leave the meeting and close. */
  leave(): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "leave" }));
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close(1000);
  }

  private open(): void {
    const ws = new WebSocket(`${this.base}/ws/signal?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      const join: ClientMessage = { type: "join", roomId: this.roomId };
      if (this.resumeToken) join.resumeToken = this.resumeToken;
      ws.send(JSON.stringify(join));
    };
    ws.onmessage = (e) => {
      let m: ServerMessage;
      try {
        m = JSON.parse(String(e.data)) as ServerMessage;
      } catch {
        return;
      }
      if (m.type === "joined") {
        this.resumeToken = m.resumeToken;
        // Anything sent while disconnected goes after the (re)join.
        for (const q of this.queue.splice(0)) ws.send(JSON.stringify(q));
      }
      this.on.message(m);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      if (this.stopped || FINAL_CLOSES.has(e.code) || this.attempts >= 10) {
        this.on.closed(e.code);
        return;
      }
      this.on.lost();
      this.attempts += 1;
      setTimeout(() => this.open(), Math.min(500 * 2 ** (this.attempts - 1), 4000));
    };
  }
}
