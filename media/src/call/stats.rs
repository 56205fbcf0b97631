//! What a call measures, per remote and local track, and the report it ends with.

use serde::Serialize;
use std::time::{Duration, Instant};

/// One remote video or audio track as received.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteTrackStats {
    pub peer_id: String,
    pub track_id: String,
    pub kind: String,
    /// Access units (video) or packets (audio) received.
    pub frames_received: u64,
    pub frames_decoded: u64,
    /// Access units the decoder refused, and (from a sender that stamps its pictures, as
    /// synthetic sources do) decoded pictures whose stamp was unreadable.
    pub frames_corrupt: u64,
    /// Decoded pictures from a sender that does not stamp them (a browser's camera): their
    /// order and latency cannot be read, only that they decoded.
    pub frames_unstamped: u64,
    /// Gaps in the stamped frame numbers.
    pub frames_missing: u64,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub nacks_sent: u64,
    pub keyframe_requests: u64,
    /// From `join` to the first decoded frame.
    pub first_frame_ms: Option<f64>,
    /// Capture to decode, on this host's clock (synthetic sources only).
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    /// Last stamped frame number seen, for checking order.
    pub last_frame_number: Option<u32>,
    /// Frame numbers that went backwards (should stay 0).
    pub out_of_order: u64,
}

/// A track this client sends.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalTrackStats {
    pub kind: String,
    pub frames_sent: u64,
    pub bytes_sent: u64,
    pub keyframes_sent: u64,
    pub keyframe_requests_received: u64,
    pub target_bitrate_kbps: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallReport {
    pub participant_id: String,
    pub duration_s: f64,
    pub remote: Vec<RemoteTrackStats>,
    pub local: Vec<LocalTrackStats>,
    /// How the call ended, once it has: `left`, `removed` or `meeting_ended:<reason>`.
    pub ended: Option<String>,
    /// CPU time spent in each media stage so far.
    pub cpu: StageCpuReport,
    /// Times the call lost its server and got back into the meeting; the figures above are
    /// since the last of them.
    pub reconnects: u32,
    /// For each of those, milliseconds from losing the server to the first picture decoded
    /// again, and when that was (Unix time in milliseconds).
    pub recovery_ms: Vec<u64>,
    pub recovered_at_ms: Vec<u64>,
}

/// CPU time (of the threads doing the work, not wall time) per media stage, in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageCpuReport {
    /// Producing pictures and audio: the camera or test pattern, the microphone or tone.
    pub capture_ms: f64,
    /// H.264 and Opus encoding.
    pub encode_ms: f64,
    /// H.264 and Opus decoding.
    pub decode_ms: f64,
}

/// Running totals behind [`StageCpuReport`], in nanoseconds.
#[derive(Debug, Default)]
pub struct StageCpu {
    pub capture: std::sync::atomic::AtomicU64,
    pub encode: std::sync::atomic::AtomicU64,
    pub decode: std::sync::atomic::AtomicU64,
}

impl StageCpu {
    /// Runs `f`, adding the calling thread's CPU time for it to `stage`.
    pub fn time<T>(stage: &std::sync::atomic::AtomicU64, f: impl FnOnce() -> T) -> T {
        let start = cpu_time::ThreadTime::try_now().ok();
        let out = f();
        if let Some(spent) = start.map(|s| s.elapsed()) {
            stage.fetch_add(
                u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        out
    }

    pub fn report(&self) -> StageCpuReport {
        let ms = |a: &std::sync::atomic::AtomicU64| {
            a.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6
        };
        StageCpuReport {
            capture_ms: ms(&self.capture),
            encode_ms: ms(&self.encode),
            decode_ms: ms(&self.decode),
        }
    }
}

/// Running measurements for one remote track.
#[derive(Debug)]
pub struct RemoteTrack {
    pub stats: RemoteTrackStats,
    /// The stream's SSRC, to find the NACKs sent for it.
    pub ssrc: u32,
    latencies_ms: Vec<f64>,
    started: Instant,
    bytes: u64,
}

impl RemoteTrack {
    pub fn new(peer_id: String, track_id: String, kind: &str) -> Self {
        Self {
            stats: RemoteTrackStats {
                peer_id,
                track_id,
                kind: kind.into(),
                ..Default::default()
            },
            ssrc: 0,
            latencies_ms: Vec::new(),
            started: Instant::now(),
            bytes: 0,
        }
    }

    pub fn received(&mut self, bytes: usize) {
        self.stats.frames_received += 1;
        self.bytes += bytes as u64;
    }

    /// A decoded frame; `stamp` is its frame number and age when it carried a readable stamp.
    pub fn decoded(&mut self, joined: Instant, stamp: Option<(u32, Duration)>) {
        self.stats.frames_decoded += 1;
        if self.stats.first_frame_ms.is_none() {
            self.stats.first_frame_ms = Some(joined.elapsed().as_secs_f64() * 1000.0);
        }
        match stamp {
            Some((n, age)) => {
                if let Some(last) = self.stats.last_frame_number {
                    if n > last {
                        self.stats.frames_missing += u64::from(n - last - 1);
                    } else {
                        self.stats.out_of_order += 1;
                    }
                }
                self.stats.last_frame_number = Some(n);
                self.latencies_ms.push(age.as_secs_f64() * 1000.0);
            }
            None if self.stats.kind == "video" => self.stats.frames_unstamped += 1,
            None => {}
        }
    }

    pub fn corrupt(&mut self) {
        self.stats.frames_corrupt += 1;
    }

    /// The stats with rates and percentiles filled in as of now.
    pub fn snapshot(&self) -> RemoteTrackStats {
        let mut s = self.stats.clone();
        // A sender that stamps its pictures stamps every one: from it, an unreadable stamp
        // means a damaged picture.
        if s.last_frame_number.is_some() {
            s.frames_corrupt += s.frames_unstamped;
            s.frames_unstamped = 0;
        }
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        s.fps = s.frames_decoded as f64 / secs;
        s.bitrate_kbps = self.bytes as f64 * 8.0 / secs / 1000.0;
        s.latency_p50_ms = percentile(&self.latencies_ms, 0.50);
        s.latency_p95_ms = percentile(&self.latencies_ms, 0.95);
        s
    }
}

pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() - 1) as f64 * p).round() as usize;
    v.get(idx).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_missing_and_corrupt() {
        let t0 = Instant::now();
        let mut t = RemoteTrack::new("p".into(), "t".into(), "video");
        for n in [1u32, 2, 5, 6] {
            t.decoded(t0, Some((n, Duration::from_millis(u64::from(n) * 10))));
        }
        t.decoded(t0, None);
        let s = t.snapshot();
        assert_eq!(
            s.frames_unstamped, 0,
            "a stamping sender's unreadable stamp is damage"
        );
        assert_eq!(s.frames_decoded, 5);
        assert_eq!(s.frames_missing, 2);
        assert_eq!(s.frames_corrupt, 1);
        assert_eq!(s.out_of_order, 0);
        assert_eq!(s.latency_p50_ms, Some(50.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn a_sender_that_never_stamps_is_not_corrupt() {
        let t0 = Instant::now();
        let mut t = RemoteTrack::new("p".into(), "t".into(), "video");
        for _ in 0..3 {
            t.decoded(t0, None);
        }
        t.corrupt();
        let s = t.snapshot();
        assert_eq!((s.frames_decoded, s.frames_unstamped), (3, 3));
        assert_eq!(s.frames_corrupt, 1, "only the refused access unit");
        assert_eq!((s.frames_missing, s.latency_p50_ms), (0, None));
    }
}
