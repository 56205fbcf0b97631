//! Playing what others say: each remote audio track gets a jitter buffer, a mixer adds them
//! up 20 ms at a time, and an output plays the mix — a speaker through cpal, or, when there
//! is none (or ALSA's clockless `null` device is chosen), a null sink that keeps real time and
//! discards the mix.

use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames buffered before a track starts playing (and again after it ran dry): 60 ms.
const TARGET_FRAMES: usize = 3;
/// More than this (200 ms) and the oldest frames are dropped to catch up.
const MAX_FRAMES: usize = 10;

/// One track's frames, waiting to be played.
#[derive(Debug, Default)]
pub struct JitterBuffer {
    frames: VecDeque<Vec<i16>>,
    playing: bool,
    pub underruns: u64,
    pub dropped: u64,
}

impl JitterBuffer {
    pub fn push(&mut self, samples: Vec<i16>) {
        if self.frames.len() >= MAX_FRAMES {
            self.frames.pop_front();
            self.dropped += 1;
        }
        self.frames.push_back(samples);
    }

    /// The next frame to play, or `None` while (re)filling.
    pub fn pop(&mut self) -> Option<Vec<i16>> {
        if !self.playing {
            if self.frames.len() < TARGET_FRAMES {
                return None;
            }
            self.playing = true;
        }
        let next = self.frames.pop_front();
        if next.is_none() {
            self.playing = false;
            self.underruns += 1;
        }
        next
    }
}

/// What playback has done so far.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackStats {
    /// Where the mix goes: a device id, or `null` for the null sink.
    pub output: String,
    pub frames_played: u64,
    pub underruns: u64,
    pub dropped: u64,
    pub tracks: usize,
}

/// Every remote track's buffer, mixed 20 ms at a time.
#[derive(Debug, Default)]
pub struct Mixer {
    tracks: HashMap<String, JitterBuffer>,
    frames_played: u64,
    gone_underruns: u64,
    gone_dropped: u64,
}

impl Mixer {
    pub fn push(&mut self, track: &str, frame: AudioFrame) {
        self.tracks
            .entry(track.to_owned())
            .or_default()
            .push(frame.samples);
    }

    pub fn remove(&mut self, track: &str) {
        if let Some(t) = self.tracks.remove(track) {
            self.gone_underruns += t.underruns;
            self.gone_dropped += t.dropped;
        }
    }

    /// The next 20 ms of the mix: every playing track added up, clipped to 16 bits.
    pub fn mix(&mut self) -> Vec<i16> {
        let mut sum = vec![0i32; FRAME_SAMPLES];
        for track in self.tracks.values_mut() {
            if let Some(frame) = track.pop() {
                for (s, v) in sum.iter_mut().zip(frame) {
                    *s += i32::from(v);
                }
            }
        }
        self.frames_played += 1;
        sum.into_iter()
            .map(|s| s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16)
            .collect()
    }

    fn stats(&self, output: &str) -> PlaybackStats {
        PlaybackStats {
            output: output.to_owned(),
            frames_played: self.frames_played,
            underruns: self.gone_underruns + self.tracks.values().map(|t| t.underruns).sum::<u64>(),
            dropped: self.gone_dropped + self.tracks.values().map(|t| t.dropped).sum::<u64>(),
            tracks: self.tracks.len(),
        }
    }
}

/// Playback of a call's remote audio. Stops when dropped.
pub struct Playback {
    mixer: Arc<Mutex<Mixer>>,
    output: String,
    /// Dropping this ends the output's thread.
    _stop: mpsc::Sender<()>,
}

/// Whether `id` names ALSA's `null` device, which has no clock to play by.
fn is_null(id: &str) -> bool {
    id == "null" || id == "alsa:null"
}

impl Playback {
    /// Plays through the speaker with this id (from [`crate::capture::devices`]), or the
    /// default one; falls back to the null sink when that cannot be opened, so a call never
    /// fails for want of a speaker. [`Playback::stats`] says which output is in use.
    pub fn start(speaker: Option<&str>) -> Self {
        #[cfg(feature = "microphone")]
        if !speaker.is_some_and(is_null) {
            let mixer = Arc::new(Mutex::new(Mixer::default()));
            match device::open(speaker, mixer.clone()) {
                Ok((output, stop)) => {
                    return Self {
                        mixer,
                        output,
                        _stop: stop,
                    }
                }
                Err(e) => tracing::info!(error = %e, "no speaker; audio goes to the null sink"),
            }
        }
        #[cfg(not(feature = "microphone"))]
        let _ = speaker;
        Self::null(None)
    }

    /// The null sink: mixes in real time and discards the mix, or hands it to `tap`.
    pub fn null(tap: Option<mpsc::Sender<Vec<i16>>>) -> Self {
        let mixer = Arc::new(Mutex::new(Mixer::default()));
        let (stop, stopped) = mpsc::channel::<()>();
        let m = mixer.clone();
        let _ = std::thread::Builder::new()
            .name("parlor-playback".into())
            .spawn(move || {
                let frame = Duration::from_secs(FRAME_SAMPLES as u64) / SAMPLE_RATE;
                let mut due = Instant::now();
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(due.saturating_duration_since(Instant::now()))
                {
                    due += frame;
                    let mix = match m.lock() {
                        Ok(mut m) => m.mix(),
                        Err(_) => return,
                    };
                    if let Some(tap) = &tap {
                        if tap.send(mix).is_err() {
                            return;
                        }
                    }
                }
            });
        Self {
            mixer,
            output: "null".into(),
            _stop: stop,
        }
    }

    /// 20 ms decoded from `track`.
    pub fn push(&self, track: &str, frame: AudioFrame) {
        if let Ok(mut m) = self.mixer.lock() {
            m.push(track, frame);
        }
    }

    /// A track that ended.
    pub fn remove(&self, track: &str) {
        if let Ok(mut m) = self.mixer.lock() {
            m.remove(track);
        }
    }

    pub fn stats(&self) -> PlaybackStats {
        self.mixer
            .lock()
            .map(|m| m.stats(&self.output))
            .unwrap_or_default()
    }
}

#[cfg(feature = "microphone")]
mod device {
    use super::{Mixer, FRAME_SAMPLES, SAMPLE_RATE};
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use std::sync::{mpsc, Arc, Mutex};

    /// Opens the output on a thread of its own (cpal streams stay on the thread that built
    /// them); returns the device's id and the handle that stops it.
    pub fn open(
        id: Option<&str>,
        mixer: Arc<Mutex<Mixer>>,
    ) -> Result<(String, mpsc::Sender<()>), String> {
        let wanted = id.map(str::to_owned);
        let (stop, stopped) = mpsc::channel::<()>();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::Builder::new()
            .name("parlor-speaker".into())
            .spawn(move || match build(wanted.as_deref(), mixer) {
                Ok((name, stream)) => {
                    let _ = ready_tx.send(Ok(name));
                    let _ = stopped.recv();
                    drop(stream);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| e.to_string())?;
        let name = ready
            .recv()
            .map_err(|_| "the speaker thread ended".to_owned())??;
        Ok((name, stop))
    }

    fn build(id: Option<&str>, mixer: Arc<Mutex<Mixer>>) -> Result<(String, cpal::Stream), String> {
        let host = cpal::default_host();
        let device = match id {
            None => host.default_output_device(),
            Some(id) => host
                .output_devices()
                .ok()
                .and_then(|mut ds| ds.find(|d| d.id().is_ok_and(|d| d.to_string() == id))),
        }
        .ok_or_else(|| format!("no speaker {}", id.unwrap_or("(default)")))?;
        let name = device.id().map(|d| d.to_string()).unwrap_or_default();
        if super::is_null(&name) {
            return Err("ALSA's null device keeps no time".into());
        }
        let supported = device
            .supported_output_configs()
            .map_err(|e| e.to_string())?
            .find(|c| c.min_sample_rate() <= SAMPLE_RATE && SAMPLE_RATE <= c.max_sample_rate())
            .ok_or_else(|| format!("{name} cannot play at {SAMPLE_RATE} Hz"))?;
        let channels = usize::from(supported.channels()).max(1);
        let config = cpal::StreamConfig {
            channels: supported.channels(),
            sample_rate: SAMPLE_RATE,
            buffer_size: cpal::BufferSize::Default,
        };
        let mut pending: Vec<i16> = Vec::with_capacity(FRAME_SAMPLES);
        let stream = device
            .build_output_stream::<f32, _, _>(
                config,
                move |out: &mut [f32], _| {
                    for frame in out.chunks_mut(channels) {
                        if pending.is_empty() {
                            pending = mixer.lock().map(|mut m| m.mix()).unwrap_or_default();
                            pending.reverse();
                        }
                        let s = f32::from(pending.pop().unwrap_or(0)) / f32::from(i16::MAX);
                        frame.fill(s);
                    }
                },
                |e| tracing::warn!(error = %e, "speaker"),
                None,
            )
            .map_err(|e| e.to_string())?;
        stream.play().map_err(|e| e.to_string())?;
        Ok((name, stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::synthetic::{tone_strength, Tone};
    use crate::capture::AudioSource;

    fn frame(v: i16) -> AudioFrame {
        AudioFrame {
            samples: vec![v; FRAME_SAMPLES],
        }
    }

    #[test]
    fn a_track_waits_for_its_buffer_then_plays_in_order() {
        let mut b = JitterBuffer::default();
        b.push(vec![1]);
        b.push(vec![2]);
        assert_eq!(b.pop(), None, "still filling");
        b.push(vec![3]);
        assert_eq!(b.pop(), Some(vec![1]));
        assert_eq!(b.pop(), Some(vec![2]));
        assert_eq!(b.pop(), Some(vec![3]));
        assert_eq!(b.pop(), None);
        assert_eq!(b.underruns, 1);
        for i in 0..MAX_FRAMES + 2 {
            b.push(vec![i as i16]);
        }
        assert_eq!(b.dropped, 2, "the oldest go when it is too far behind");
        assert_eq!(b.pop(), Some(vec![2]));
    }

    #[test]
    fn tracks_are_added_up_and_clipped() {
        let mut m = Mixer::default();
        for _ in 0..TARGET_FRAMES {
            m.push("a", frame(1000));
            m.push("b", frame(-300));
            m.push("loud", frame(i16::MAX));
        }
        m.remove("loud");
        assert_eq!(m.mix(), vec![700; FRAME_SAMPLES]);
        m.push("c", frame(i16::MAX));
        m.push("d", frame(i16::MAX));
        let mut m2 = Mixer::default();
        for _ in 0..TARGET_FRAMES {
            m2.push("c", frame(i16::MAX));
            m2.push("d", frame(i16::MAX));
        }
        assert_eq!(m2.mix(), vec![i16::MAX; FRAME_SAMPLES]);
        let s = m.stats("null");
        assert_eq!((s.frames_played, s.tracks), (1, 4));
    }

    #[test]
    fn the_null_sink_plays_the_mix_in_real_time() {
        let (tap, mixed) = mpsc::channel();
        let playback = Playback::null(Some(tap));
        let started = Instant::now();
        // A tone arriving as a call delivers it: 20 ms every 20 ms.
        let mut tone = Tone::new(true);
        for _ in 0..25 {
            playback.push("t", tone.next_frame().unwrap_or_else(|_| frame(0)));
        }
        let heard: Vec<Vec<i16>> = (0..30)
            .map(|_| {
                mixed
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default()
            })
            .collect();
        // 30 frames of 20 ms cannot come out faster than about half a second.
        assert!(
            started.elapsed() >= Duration::from_millis(450),
            "{:?}",
            started.elapsed()
        );
        let toned = heard
            .iter()
            .filter(|f| tone_strength(f, 440.0) > 0.5)
            .count();
        assert!(toned >= 18, "the tone comes through the mix: {toned} of 30");
        let stats = playback.stats();
        assert_eq!(stats.output, "null");
        assert!(stats.frames_played >= 30);
    }
}
