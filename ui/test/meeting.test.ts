import { describe as suite, expect, it } from "vitest";
import { gridColumns, initialState, isOver, reduce, type MeetingState } from "../src/state/meeting";
import type { Meeting, ServerMessage } from "../src/protocol";
import { describe, isServerCode } from "../src/errors";

const meeting: Meeting = {
  code: "abc-defg-hij",
  title: "Standup",
  hostId: "u_host",
  hostName: "Hana",
  mediaMode: "sfu",
  status: "active",
  createdAt: 1,
};

function apply(state: MeetingState, ...messages: ServerMessage[]): MeetingState {
  return messages.reduce((s, message) => reduce(s, { type: "server", message }), state);
}

const joined: ServerMessage = {
  type: "joined",
  participantId: "p_me",
  role: "host",
  peers: [
    { peerId: "p_bo", displayName: "Bo", role: "participant", mic: true, camera: false, reconnecting: false },
  ],
  chat: [{ id: "c1", peerId: "p_bo", displayName: "Bo", text: "hi", sentAt: 5 }],
  tracks: [{ peerId: "p_bo", trackId: "t1", kind: "audio" }],
  meeting,
  resumeToken: "r1",
  resumed: false,
};

suite("meeting state", () => {
  it("takes everything from joined, self first", () => {
    const s = apply(initialState("Me"), joined);
    expect(s.phase).toBe("joined");
    expect(s.self).toEqual({ participantId: "p_me", role: "host", displayName: "Me" });
    expect(s.participants.map((p) => [p.peerId, p.isSelf])).toEqual([
      ["p_me", true],
      ["p_bo", false],
    ]);
    expect(s.chat).toHaveLength(1);
    expect(s.tracks).toHaveLength(1);
    expect(s.resumeToken).toBe("r1");
  });

  it("follows peers, their tracks and their media state", () => {
    let s = apply(
      initialState("Me"),
      joined,
      { type: "peer_joined", peerId: "p_cy", displayName: "Cy", role: "participant", mic: true, camera: true },
      { type: "track_published", peerId: "p_cy", trackId: "t2", kind: "video" },
      { type: "media_state", peerId: "p_cy", mic: false, camera: true },
      { type: "active_speakers", peerIds: ["p_bo"] },
    );
    expect(s.participants.map((p) => p.peerId)).toEqual(["p_me", "p_bo", "p_cy"]);
    expect(s.participants[2].mic).toBe(false);
    expect(s.tracks.map((t) => t.trackId)).toEqual(["t1", "t2"]);
    expect(s.speakers).toEqual(["p_bo"]);
    expect(s.notices.at(-1)?.text).toBe("Cy joined");

    s = apply(s, { type: "peer_reconnecting", peerId: "p_cy" });
    expect(s.participants[2].reconnecting).toBe(true);
    s = apply(s, { type: "peer_left", peerId: "p_cy", reason: "timed_out" });
    expect(s.participants.map((p) => p.peerId)).toEqual(["p_me", "p_bo"]);
    expect(s.tracks.map((t) => t.trackId)).toEqual(["t1"]);
    expect(s.notices.at(-1)?.text).toBe("Cy lost their connection");

    s = apply(s, { type: "track_unpublished", peerId: "p_bo", trackId: "t1", kind: "audio" });
    expect(s.tracks).toEqual([]);
  });

  it("keeps chat once per message, in order", () => {
    const line = { type: "chat", id: "c2", peerId: "p_me", displayName: "Me", text: "hello", sentAt: 9 } as const;
    const s = apply(initialState("Me"), joined, line, line);
    expect(s.chat.map((c) => c.text)).toEqual(["hi", "hello"]);
  });

  it("says who muted whom", () => {
    const s = apply(initialState("Me"), joined, { type: "muted", peerId: "p_me", by: "p_bo" });
    expect(s.participants[0].mic).toBe(false);
    expect(s.notices.at(-1)?.text).toBe("Bo muted you");
  });

  it("ends on removal and on the meeting's end, and stays removed", () => {
    const removed = apply(initialState("Me"), joined, { type: "removed", by: "p_bo" }, {
      type: "meeting_ended",
      roomId: "abc-defg-hij",
      reason: "host_ended",
      endedAt: 10,
    });
    expect(removed.phase).toBe("removed");
    expect(isOver(removed)).toBe(true);
    const ended = apply(initialState("Me"), joined, {
      type: "meeting_ended",
      roomId: "abc-defg-hij",
      reason: "host_ended",
      endedAt: 10,
    });
    expect(ended.phase).toBe("ended");
    expect(ended.ended).toEqual({ reason: "host_ended", at: 10 });
  });

  it("shows every error in words; only some end the session", () => {
    const refused = apply(initialState("Me"), joined, { type: "error", code: "forbidden", message: "host only" });
    expect(refused.phase).toBe("joined");
    expect(refused.notices.at(-1)).toMatchObject({ level: "error", text: describe("forbidden") });
    const full = apply(initialState("Me"), { type: "error", code: "room_full", message: "full" });
    expect(full.phase).toBe("failed");
    const gone = apply(initialState("Me"), { type: "error", code: "meeting_ended", message: "over" });
    expect(gone.phase).toBe("ended");
  });

  it("marks a lost connection and recovers on the resumed joined", () => {
    let s = apply(initialState("Me"), joined);
    s = reduce(s, { type: "local_media", mic: false, camera: true });
    s = reduce(s, { type: "connection_lost" });
    expect(s.phase).toBe("reconnecting");
    s = apply(s, { ...joined, resumed: true } as ServerMessage);
    expect(s.phase).toBe("joined");
    expect(s.participants[0].mic).toBe(false);
  });

  it("keeps only the last few notices and can dismiss them", () => {
    let s = initialState("Me");
    for (let i = 0; i < 8; i++) s = reduce(s, { type: "problem", problem: "network" });
    expect(s.notices).toHaveLength(5);
    s = reduce(s, { type: "dismiss", id: s.notices[0].id });
    expect(s.notices).toHaveLength(4);
  });
});

suite("words for errors", () => {
  it("has words for server codes and local problems", () => {
    expect(isServerCode("room_full")).toBe(true);
    expect(isServerCode("permission_denied")).toBe(false);
    expect(describe("room_full")).toMatch(/full/);
    expect(describe("permission_denied")).toMatch(/refused/);
  });
});

suite("grid", () => {
  it("grows columns with the count and stacks on narrow screens", () => {
    expect([1, 2, 4, 5, 9, 10].map((n) => gridColumns(n, false))).toEqual([1, 2, 2, 3, 3, 4]);
    expect([1, 2, 3, 8].map((n) => gridColumns(n, true))).toEqual([1, 1, 2, 2]);
  });
});
