// Generated from the parlor-protocol crate; do not edit. Regenerate with
// `PARLOR_WRITE_TS=1 cargo test -p parlor-protocol --test typescript`.

export type UserId = string;

export type ParticipantId = string;

export type TrackId = string;

export type MeetingCode = string;

export type ErrorCode = "bad_json" | "invalid_message" | "unknown_type" | "message_too_large" | "validation_failed" | "bad_sdp" | "unauthorized" | "invalid_token" | "token_expired" | "invalid_credentials" | "forbidden" | "guest_not_allowed" | "not_found" | "room_not_found" | "peer_not_found" | "not_joined" | "already_joined" | "room_full" | "meeting_ended" | "email_taken" | "rate_limited" | "slow_consumer" | "payload_too_large" | "unavailable" | "internal";

export type ErrorBody = { code: ErrorCode, message: string, 
/**
 * Echoes the `requestId` of the client message that caused the error, when it had one.
 */
requestId?: string | null, };

export type GuestTokenRequest = { displayName: string, userId?: string, };

export type TokenResponse = { token: string, 
/**
 * Milliseconds since the Unix epoch.
 */
expiresAt: number, userId: UserId, displayName: string, guest: boolean, };

export type RegisterRequest = { email: string, password: string, name: string, };

export type LoginRequest = { email: string, password: string, };

export type User = { id: UserId, email: string, name: string, createdAt: number, };

export type Me = { userId: UserId, displayName: string, guest: boolean, email?: string | null, };

export type MediaMode = "sfu" | "p2p" | "auto";

export type MeetingStatus = "created" | "active" | "ended";

export type EndReason = "host_ended" | "all_left";

export type CreateMeetingRequest = { title: string, mediaMode?: MediaMode, };

export type Meeting = { code: MeetingCode, title: string, hostId: UserId, hostName: string, mediaMode: MediaMode, status: MeetingStatus, endReason?: EndReason | null, createdAt: number, startedAt?: number | null, endedAt?: number | null, 
/**
 * How many are in the meeting now, connected or about to resume; given when the meeting
 * has not ended and it can be told (from the room, wherever in the cluster it runs).
 */
present?: number | null, };

export type ParticipantRecord = { participantId: ParticipantId, userId: UserId, displayName: string, guest: boolean, joinedAt: number, leftAt?: number | null, };

export type Readiness = { status: string, checks: Array<DependencyCheck>, };

export type DependencyCheck = { name: string, ok: boolean, error?: string | null, };

export type Role = "host" | "participant";

export type TransportKind = "publish" | "subscribe";

export type TrackKind = "audio" | "video";

export type Target = "sfu";

export type TrackInfo = { peerId: ParticipantId, trackId: TrackId, kind: TrackKind, };

export type IceCandidate = { candidate: string, sdpMid?: string | null, sdpMLineIndex?: number | null, usernameFragment?: string | null, };

export type PeerInfo = { peerId: ParticipantId, displayName: string, role: Role, mic: boolean, camera: boolean, 
/**
 * True while the peer's connection is lost and it may still resume.
 */
reconnecting: boolean, };

export type ChatMessage = { id: string, peerId: ParticipantId, displayName: string, text: string, 
/**
 * Server time, milliseconds since the Unix epoch.
 */
sentAt: number, };

export type LeaveReason = "left" | "timed_out" | "removed" | "meeting_ended" | "server_shutdown";

export type ClientMessage = { "type": "join", roomId: MeetingCode, resumeToken?: string, requestId?: string, } | { "type": "leave", requestId?: string, } | { "type": "offer", peerId?: ParticipantId, target?: Target, transport?: TransportKind, sdp: string, requestId?: string, } | { "type": "answer", peerId?: ParticipantId, target?: Target, transport?: TransportKind, sdp: string, requestId?: string, } | { "type": "ice-candidate", peerId?: ParticipantId, target?: Target, transport?: TransportKind, candidate: IceCandidate, requestId?: string, } | { "type": "subscribe", trackId: TrackId, requestId?: string, } | { "type": "unsubscribe", trackId: TrackId, requestId?: string, } | { "type": "chat", text: string, requestId?: string, } | { "type": "media_state", mic: boolean, camera: boolean, requestId?: string, } | { "type": "mute_participant", peerId: ParticipantId, requestId?: string, } | { "type": "remove_participant", peerId: ParticipantId, requestId?: string, } | { "type": "end_meeting", requestId?: string, } | { "type": "ping", requestId?: string, };

export type ServerMessage = { "type": "joined", participantId: ParticipantId, role: Role, peers: Array<PeerInfo>, chat: Array<ChatMessage>, 
/**
 * Tracks already published in the room (SFU meetings).
 */
tracks: Array<TrackInfo>, meeting: Meeting, 
/**
 * Present this in a later `join` to take this participant back after a drop.
 */
resumeToken: string, 
/**
 * True when this `joined` resumed an earlier participant.
 */
resumed: boolean, } | { "type": "peer_joined", peerId: ParticipantId, displayName: string, role: Role, mic: boolean, camera: boolean, } | { "type": "peer_left", peerId: ParticipantId, reason: LeaveReason, } | { "type": "peer_reconnecting", peerId: ParticipantId, } | { "type": "offer", peerId?: ParticipantId | null, target?: Target | null, transport?: TransportKind | null, sdp: string, } | { "type": "answer", peerId?: ParticipantId | null, target?: Target | null, transport?: TransportKind | null, sdp: string, } | { "type": "ice-candidate", peerId: ParticipantId, candidate: IceCandidate, } | { "type": "track_published" } & TrackInfo | { "type": "track_unpublished" } & TrackInfo | { "type": "active_speakers", peerIds: Array<ParticipantId>, } | { "type": "chat" } & ChatMessage | { "type": "media_state", peerId: ParticipantId, mic: boolean, camera: boolean, } | { "type": "muted", peerId: ParticipantId, by: ParticipantId, } | { "type": "removed", by: ParticipantId, } | { "type": "meeting_ended", roomId: MeetingCode, reason: EndReason, endedAt: number, } | { "type": "left", roomId: MeetingCode, } | { "type": "pong" } | { "type": "server_shutdown", reconnectAfterMs: number, } | { "type": "error" } & ErrorBody;
