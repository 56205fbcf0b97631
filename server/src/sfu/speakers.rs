//! Active speakers from the audio-level header extension (RFC 6464): a smoothed level per
//! audio track, and per room the list of participants currently speaking, loudest first,
//! reported when it changes.

use super::RoomKey;
use parlor_protocol::{ParticipantId, TrackId};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the speaker lists are recomputed.
const TICK: Duration = Duration::from_millis(300);
/// Louder than this (in dBov, 0 is loudest) counts as speaking.
const SPEAKING_DBOV: f32 = -50.0;
/// A track not heard from for this long is silent (DTX, muted, gone).
const STALE: Duration = Duration::from_millis(600);
/// Weight of the newest sample in the running level.
const SMOOTHING: f32 = 0.3;

struct Level {
    room: RoomKey,
    peer: ParticipantId,
    dbov: f32,
    heard: Instant,
}

pub struct Speakers {
    levels: HashMap<TrackId, Level>,
    reported: HashMap<RoomKey, Vec<ParticipantId>>,
    next: Instant,
}

impl Speakers {
    pub fn new(now: Instant) -> Self {
        Self {
            levels: HashMap::new(),
            reported: HashMap::new(),
            next: now + TICK,
        }
    }

    /// `level` is the extension's value in -dBov (0 loudest, -127 silence).
    pub fn observe(
        &mut self,
        room: &RoomKey,
        peer: &ParticipantId,
        track: &TrackId,
        level: i8,
        now: Instant,
    ) {
        let sample = f32::from(level);
        let entry = self.levels.entry(track.clone()).or_insert_with(|| Level {
            room: room.clone(),
            peer: peer.clone(),
            dbov: -127.0,
            heard: now,
        });
        entry.dbov = entry.dbov * (1.0 - SMOOTHING) + sample * SMOOTHING;
        entry.heard = now;
    }

    pub fn forget(&mut self, track: &TrackId) {
        self.levels.remove(track);
    }

    /// When the next [`tick`](Self::tick) is due; far away while there is nothing to watch.
    pub fn next_tick(&self) -> Instant {
        if self.levels.is_empty() && self.reported.values().all(Vec::is_empty) {
            self.next + Duration::from_secs(3600)
        } else {
            self.next
        }
    }

    /// The rooms whose speakers changed since the last report, with who speaks now.
    pub fn tick(&mut self, now: Instant) -> Option<Vec<(RoomKey, Vec<ParticipantId>)>> {
        if now < self.next {
            return None;
        }
        self.next = now + TICK;
        let mut current: HashMap<RoomKey, Vec<(f32, ParticipantId)>> = HashMap::new();
        for l in self.levels.values() {
            let list = current.entry(l.room.clone()).or_default();
            if l.dbov > SPEAKING_DBOV && now.saturating_duration_since(l.heard) < STALE {
                list.push((l.dbov, l.peer.clone()));
            }
        }
        for room in self.reported.keys() {
            current.entry(room.clone()).or_default();
        }
        let mut changed = Vec::new();
        for (room, mut list) in current {
            list.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut peers: Vec<ParticipantId> = Vec::new();
            for (_, p) in list {
                if !peers.contains(&p) {
                    peers.push(p);
                }
            }
            if self.reported.get(&room).unwrap_or(&Vec::new()) != &peers {
                changed.push((room.clone(), peers.clone()));
            }
            if peers.is_empty() {
                self.reported.remove(&room);
            } else {
                self.reported.insert(room, peers);
            }
        }
        (!changed.is_empty()).then_some(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_changes_loudest_first() {
        let t0 = Instant::now();
        let mut s = Speakers::new(t0);
        let room = RoomKey("r".into());
        let (a, b) = (ParticipantId::from("a"), ParticipantId::from("b"));
        let (ta, tb) = (TrackId::from("ta"), TrackId::from("tb"));
        assert!(s.tick(t0).is_none(), "not due yet");
        for i in 0..20 {
            let t = t0 + Duration::from_millis(20 * i);
            s.observe(&room, &a, &ta, -30, t);
            s.observe(&room, &b, &tb, -20, t);
        }
        let now = t0 + Duration::from_millis(400);
        let report = s.tick(now).expect("first report");
        assert_eq!(report, vec![(room.clone(), vec![b.clone(), a.clone()])]);
        // Nothing changed: nothing reported.
        s.observe(&room, &a, &ta, -30, now);
        s.observe(&room, &b, &tb, -20, now);
        assert!(s.tick(now + Duration::from_millis(300)).is_none());
        // Both go quiet: the room is reported empty once.
        let later = now + Duration::from_secs(2);
        assert_eq!(s.tick(later), Some(vec![(room.clone(), vec![])]));
        assert!(s.tick(later + Duration::from_secs(1)).is_none());
    }
}
