//! The room's side of the SFU: participants enter and leave the media room with the meeting,
//! negotiation messages addressed to `"sfu"` go to it, and what it reports (answers, offers,
//! tracks, speakers, failures) goes out to the participants concerned.

use super::Room;
use crate::sfu::{RoomKey, Sfu, SfuCommand, SfuEvent, SfuRoom, TrackInfo};
use parlor_protocol::signal::{ServerMessage, Target, TransportKind};
use parlor_protocol::{ErrorBody, ErrorCode, MeetingCode, ParticipantId};
use tokio::sync::mpsc;

pub(in crate::room) struct Media {
    sfu: SfuRoom,
    events: mpsc::UnboundedReceiver<SfuEvent>,
    /// Tracks published in the room, for late joiners' `joined`.
    tracks: Vec<TrackInfo>,
}

impl Media {
    pub(in crate::room) fn attach(sfu: &Sfu, code: &MeetingCode) -> Self {
        let (sfu, events) = sfu.attach(RoomKey(code.0.clone()));
        Self {
            sfu,
            events,
            tracks: Vec::new(),
        }
    }
}

/// The room's next SFU event; never completes for a room without media.
pub(super) async fn next_event(media: &mut Option<Media>) -> Option<SfuEvent> {
    match media {
        Some(m) => m.events.recv().await,
        None => std::future::pending().await,
    }
}

impl Room {
    pub(super) fn to_sfu(&self, cmd: SfuCommand) -> Result<(), ErrorBody> {
        match &self.media {
            Some(m) => {
                m.sfu.send(cmd);
                Ok(())
            }
            None => Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "this meeting is peer-to-peer; address offers to a peer",
            )),
        }
    }

    pub(super) fn media_join(&self, peer: &ParticipantId) {
        if let Some(m) = &self.media {
            m.sfu.send(SfuCommand::Join {
                room: RoomKey(self.meeting.code.0.clone()),
                peer: peer.clone(),
            });
        }
    }

    pub(super) fn media_leave(&self, peer: &ParticipantId) {
        if let Some(m) = &self.media {
            m.sfu.send(SfuCommand::Leave { peer: peer.clone() });
        }
    }

    /// Every participant leaves the media room, which is then detached.
    pub(super) fn media_close(&mut self) {
        for p in &self.participants {
            self.media_leave(&p.id);
        }
        self.media = None;
    }

    pub(super) fn media_tracks(&self) -> Vec<TrackInfo> {
        self.media
            .as_ref()
            .map(|m| m.tracks.clone())
            .unwrap_or_default()
    }

    fn send_to_peer(&self, peer: &ParticipantId, msg: &ServerMessage) {
        if let Some(idx) = self.index_of(peer) {
            self.send_to(idx, msg);
        }
    }

    pub(super) fn on_media_event(&mut self, event: SfuEvent) {
        match event {
            SfuEvent::Answer { peer, sdp, .. } => self.send_to_peer(
                &peer,
                &ServerMessage::Answer {
                    peer_id: None,
                    target: Some(Target::Sfu),
                    transport: Some(TransportKind::Publish),
                    sdp,
                },
            ),
            SfuEvent::Offer { peer, sdp, .. } => self.send_to_peer(
                &peer,
                &ServerMessage::Offer {
                    peer_id: None,
                    target: Some(Target::Sfu),
                    transport: Some(TransportKind::Subscribe),
                    sdp,
                },
            ),
            SfuEvent::TrackPublished { track, .. } => {
                if let Some(m) = &mut self.media {
                    m.tracks.push(track.clone());
                }
                self.broadcast(&ServerMessage::TrackPublished(track), None);
            }
            SfuEvent::TrackUnpublished { track, .. } => {
                if let Some(m) = &mut self.media {
                    m.tracks.retain(|t| t.track_id != track.track_id);
                }
                self.broadcast(&ServerMessage::TrackUnpublished(track), None);
            }
            SfuEvent::ActiveSpeakers { peers, .. } => {
                self.broadcast(&ServerMessage::ActiveSpeakers { peer_ids: peers }, None);
            }
            SfuEvent::TransportClosed {
                peer,
                transport,
                reason,
                ..
            } => self.send_to_peer(
                &peer,
                &ServerMessage::error(
                    ErrorCode::Unavailable,
                    format!(
                        "your {} media connection closed ({reason}); negotiate it again",
                        transport.as_str()
                    ),
                ),
            ),
            SfuEvent::Error { peer, error, .. } => {
                self.send_to_peer(&peer, &ServerMessage::Error(error));
            }
            SfuEvent::KeyframeRequested { .. } => {}
        }
    }
}
