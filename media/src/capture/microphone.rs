//! Microphones (and the list of speakers) through cpal: ALSA on Linux, the native APIs
//! elsewhere. Captured audio is mixed to mono at 48 kHz and cut into 20 ms frames.

use super::{AudioSource, CaptureError, DeviceInfo, DeviceKind};
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use std::sync::mpsc;
use std::time::Duration;

fn info(device: &cpal::Device, kind: DeviceKind) -> Option<DeviceInfo> {
    let id = device.id().ok()?.to_string();
    let name = device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| id.clone());
    Some(DeviceInfo { id, name, kind })
}

/// ALSA's `null` PCM captures endless zeros with no clock (as fast as they are read): not a
/// microphone anyone means, and one that would flood a call. As an output it is a fine
/// "nowhere" to play to, so it stays among the speakers.
fn is_silent_source(id: &str) -> bool {
    id == "alsa:null" || id == "null"
}

/// Input and output devices. With no sound card this is empty (or ALSA's virtual devices).
pub fn list() -> Result<Vec<DeviceInfo>, CaptureError> {
    let host = cpal::default_host();
    let err = |e: cpal::Error| CaptureError::Device {
        device: "audio".into(),
        message: e.to_string(),
    };
    let mut all: Vec<DeviceInfo> = host
        .input_devices()
        .map_err(err)?
        .filter_map(|d| info(&d, DeviceKind::Microphone))
        .filter(|d| !is_silent_source(&d.id))
        .collect();
    all.extend(
        host.output_devices()
            .map_err(err)?
            .filter_map(|d| info(&d, DeviceKind::Speaker)),
    );
    Ok(all)
}

/// A microphone being captured. cpal streams may not leave the thread that built them, so a
/// thread of its own holds the stream and hands samples over a channel; frames are cut here.
pub struct Microphone {
    samples: mpsc::Receiver<Vec<i16>>,
    pending: Vec<i16>,
    device: String,
    /// Dropping this ends the capture thread and its stream.
    _stop: mpsc::Sender<()>,
}

impl Microphone {
    /// Opens the input device with this id (from [`list`]), or the default one for `None`.
    pub fn open(id: Option<&str>) -> Result<Self, CaptureError> {
        let name = id.unwrap_or("default").to_owned();
        let wanted = id.map(str::to_owned);
        let (samples_tx, samples) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        let (ready_tx, ready) = mpsc::channel();
        let thread_name = name.clone();
        std::thread::Builder::new()
            .name("parlor-microphone".into())
            .spawn(
                move || match start(wanted.as_deref(), &thread_name, samples_tx) {
                    Ok(stream) => {
                        let _ = ready_tx.send(Ok(()));
                        // Capture until the Microphone is dropped.
                        let _ = stopped.recv();
                        drop(stream);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                },
            )
            .map_err(|e| CaptureError::Device {
                device: name.clone(),
                message: e.to_string(),
            })?;
        ready.recv().map_err(|_| CaptureError::Device {
            device: name.clone(),
            message: "capture thread ended".into(),
        })??;
        Ok(Self {
            samples,
            pending: Vec::new(),
            device: name,
            _stop: stop,
        })
    }
}

fn start(
    id: Option<&str>,
    name: &str,
    tx: mpsc::Sender<Vec<i16>>,
) -> Result<cpal::Stream, CaptureError> {
    let host = cpal::default_host();
    let device = match id {
        None => host.default_input_device(),
        Some(id) => host
            .input_devices()
            .ok()
            .and_then(|mut ds| ds.find(|d| d.id().is_ok_and(|d| d.to_string() == id))),
    }
    .ok_or_else(|| CaptureError::NoDevice(name.to_owned()))?;
    let fail = |e: cpal::Error| CaptureError::Device {
        device: name.to_owned(),
        message: e.to_string(),
    };
    let default = device.default_input_config().map_err(fail)?;
    let channels = usize::from(default.channels()).max(1);
    let rate = default.sample_rate();
    if rate != SAMPLE_RATE {
        return Err(CaptureError::Device {
            device: name.to_owned(),
            message: format!("captures at {rate} Hz; Parlor needs {SAMPLE_RATE} Hz"),
        });
    }
    let config = cpal::StreamConfig {
        channels: default.channels(),
        sample_rate: SAMPLE_RATE,
        buffer_size: cpal::BufferSize::Default,
    };
    let stream = device
        .build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _| {
                let mono = data
                    .chunks(channels)
                    .map(|c| {
                        let s = c.iter().sum::<f32>() / channels as f32;
                        (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16
                    })
                    .collect();
                let _ = tx.send(mono);
            },
            |e| eprintln!("microphone error: {e}"),
            None,
        )
        .map_err(fail)?;
    stream.play().map_err(fail)?;
    Ok(stream)
}

impl AudioSource for Microphone {
    fn next_frame(&mut self) -> Result<AudioFrame, CaptureError> {
        while self.pending.len() < FRAME_SAMPLES {
            let chunk = self
                .samples
                .recv_timeout(Duration::from_secs(2))
                .map_err(|_| CaptureError::Device {
                    device: self.device.clone(),
                    message: "the microphone stopped delivering audio".into(),
                })?;
            self.pending.extend(chunk);
        }
        let rest = self.pending.split_off(FRAME_SAMPLES);
        let samples = std::mem::replace(&mut self.pending, rest);
        Ok(AudioFrame { samples })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_alsa_null_capture_device_is_not_a_microphone() {
        assert!(super::is_silent_source("alsa:null"));
        assert!(!super::is_silent_source("alsa:default"));
        let listed = super::list().unwrap_or_default();
        assert!(
            !listed
                .iter()
                .any(|d| d.kind == super::DeviceKind::Microphone && d.id == "alsa:null"),
            "{listed:?}"
        );
    }
}
