//! Device discovery and the real capture backends on whatever this machine has. No camera or
//! sound card is a valid situation: listing must still succeed, and opening what is absent
//! must fail with an error, not a panic.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use parlor_media::capture::{self, AudioSource, CaptureError, DeviceKind};

#[test]
fn listing_succeeds_and_offers_synthetic_sources() {
    let devices = capture::devices().expect("listing devices works without hardware");
    for kind in [DeviceKind::Camera, DeviceKind::Microphone] {
        assert!(
            devices
                .iter()
                .any(|d| d.kind == kind && d.id == "synthetic"),
            "synthetic {kind:?} listed"
        );
    }
}

#[test]
fn opening_a_missing_camera_is_an_error() {
    let err = capture::camera::Camera::open("97", 640, 360, 30).err();
    assert!(
        matches!(
            err,
            Some(CaptureError::NoDevice(_) | CaptureError::Device { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn opening_a_missing_microphone_is_an_error() {
    let err = capture::microphone::Microphone::open(Some("alsa:no-such-device")).err();
    assert!(matches!(err, Some(CaptureError::NoDevice(_))), "{err:?}");
}

/// ALSA's `null` device exists without a sound card and captures silence: the real capture
/// path, end to end. Machines without it skip nothing else.
#[test]
fn alsa_null_device_captures_frames_when_present() {
    let listed = capture::devices()
        .unwrap()
        .into_iter()
        .any(|d| d.kind == DeviceKind::Microphone && d.id == "alsa:null");
    if !listed {
        return;
    }
    let mut mic = capture::microphone::Microphone::open(Some("alsa:null")).unwrap();
    for _ in 0..3 {
        let frame = mic.next_frame().unwrap();
        assert_eq!(frame.samples.len(), 960);
    }
}

#[test]
fn client_lists_devices_as_json() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parlor-client"))
        .args(["devices", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.as_array().unwrap().iter().any(|d| d["id"] == "synthetic"));
}
