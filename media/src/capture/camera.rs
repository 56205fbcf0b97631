//! Cameras through nokhwa (V4L2 on Linux). Frames are decoded to RGB by nokhwa and converted
//! to I420 here.

use super::{CaptureError, DeviceInfo, DeviceKind, VideoSource};
use crate::frame::{I420Frame, VideoFrame};
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
use std::sync::mpsc;
use std::time::SystemTime;

fn backend() -> ApiBackend {
    if cfg!(target_os = "linux") {
        ApiBackend::Video4Linux
    } else {
        ApiBackend::Auto
    }
}

/// Cameras present. With none attached this is an empty list, not an error.
pub fn list() -> Result<Vec<DeviceInfo>, CaptureError> {
    let cameras = nokhwa::query(backend()).map_err(|e| CaptureError::Device {
        device: "cameras".into(),
        message: e.to_string(),
    })?;
    Ok(cameras
        .into_iter()
        .map(|c| DeviceInfo {
            id: c.index().to_string(),
            name: c.human_name(),
            kind: DeviceKind::Camera,
        })
        .collect())
}

/// A camera being captured. nokhwa's camera may not leave the thread that opened it, so a
/// thread of its own captures and converts, handing pictures over a small channel (the
/// newest wins when the consumer falls behind).
pub struct Camera {
    frames: mpsc::Receiver<Result<VideoFrame, CaptureError>>,
    size: (usize, usize),
    /// Dropping this ends the capture thread.
    _stop: mpsc::Sender<()>,
}

impl Camera {
    /// Opens camera `id` (its index from [`list`]) at the format closest to the one asked.
    pub fn open(id: &str, width: u32, height: u32, fps: u32) -> Result<Self, CaptureError> {
        let (frames_tx, frames) = mpsc::sync_channel(2);
        let (stop, stopped) = mpsc::channel::<()>();
        let (ready_tx, ready) = mpsc::channel();
        let name = id.to_owned();
        std::thread::Builder::new()
            .name("parlor-camera".into())
            .spawn(move || {
                let mut camera = match start(&name, width, height, fps) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let res = camera.resolution();
                let _ = ready_tx.send(Ok((res.width() as usize & !1, res.height() as usize & !1)));
                while matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                    let frame = capture(&mut camera, &name);
                    let failed = frame.is_err();
                    match frames_tx.try_send(frame) {
                        Ok(()) | Err(mpsc::TrySendError::Full(_)) => {}
                        Err(mpsc::TrySendError::Disconnected(_)) => return,
                    }
                    if failed {
                        return;
                    }
                }
            })
            .map_err(|e| CaptureError::Device {
                device: id.to_owned(),
                message: e.to_string(),
            })?;
        let size = ready.recv().map_err(|_| CaptureError::Device {
            device: id.to_owned(),
            message: "capture thread ended".into(),
        })??;
        Ok(Self {
            frames,
            size,
            _stop: stop,
        })
    }
}

fn start(id: &str, width: u32, height: u32, fps: u32) -> Result<nokhwa::Camera, CaptureError> {
    let index = id
        .parse::<u32>()
        .map(CameraIndex::Index)
        .unwrap_or_else(|_| CameraIndex::String(id.to_owned()));
    let wanted = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(
        CameraFormat::new(Resolution::new(width, height), FrameFormat::YUYV, fps),
    ));
    let fail = |e: nokhwa::NokhwaError| CaptureError::Device {
        device: id.to_owned(),
        message: e.to_string(),
    };
    let mut camera = nokhwa::Camera::new(index, wanted).map_err(|e| match e {
        nokhwa::NokhwaError::OpenDeviceError(..) => CaptureError::NoDevice(id.to_owned()),
        other => fail(other),
    })?;
    camera.open_stream().map_err(fail)?;
    Ok(camera)
}

fn capture(camera: &mut nokhwa::Camera, name: &str) -> Result<VideoFrame, CaptureError> {
    let fail = |e: nokhwa::NokhwaError| CaptureError::Device {
        device: name.to_owned(),
        message: e.to_string(),
    };
    let buffer = camera.frame().map_err(fail)?;
    let captured = SystemTime::now();
    let rgb = buffer.decode_image::<RgbFormat>().map_err(fail)?;
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let yuv = YUVBuffer::from_rgb8_source(RgbSliceU8::new(rgb.as_raw(), (w, h)));
    let picture =
        I420Frame::from_planes(yuv.dimensions(), (yuv.y(), yuv.u(), yuv.v()), yuv.strides());
    Ok(VideoFrame { picture, captured })
}

impl VideoSource for Camera {
    fn next_frame(&mut self) -> Result<VideoFrame, CaptureError> {
        self.frames.recv().map_err(|_| CaptureError::Device {
            device: "camera".into(),
            message: "the camera stopped delivering pictures".into(),
        })?
    }

    fn size(&self) -> (usize, usize) {
        self.size
    }
}
