//! The media half of a call, driven by whoever does the signaling: `parlor-client`'s own
//! loop ([`super::run`]) or the desktop app's web page. It owns the publish and subscribe
//! transports to the SFU, the capture and encoding behind the first and the decoding behind
//! the second.

use super::{
    peer, receive, send, stats::CallReport, taps, CallError, CallEvent, Events, MediaConfig,
    PublishHandler, Shared, Source,
};
use rtc::peer_connection::sdp::RTCSessionDescription;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::peer_connection::PeerConnection;

pub struct MediaSession {
    shared: Arc<Shared>,
    publish: Arc<dyn PeerConnection>,
    subscribe: Arc<dyn PeerConnection>,
    sub_events: Arc<Events>,
    subscribe_gathered: bool,
    sending: tokio::task::JoinHandle<()>,
    /// What capture was opened with, for devices chosen during the call.
    config: MediaConfig,
}

/// Waits for ICE gathering to finish (host candidates only: quick), so the SDP sent to the
/// ICE-lite SFU carries our candidates.
async fn local_sdp(pc: &Arc<dyn PeerConnection>, events: &Events) -> Result<String, CallError> {
    let _ = tokio::time::timeout(Duration::from_secs(5), events.gathered.notified()).await;
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| CallError::WebRtc("no local description".into()))
}

fn sdp_error(e: impl std::fmt::Display) -> CallError {
    CallError::WebRtc(format!("SDP: {e}"))
}

impl MediaSession {
    /// Opens capture as `config` asks and builds both transports. Returns the session and the
    /// publish offer for the SFU (`None` when there is nothing to send). Sending starts once
    /// the SFU has answered and the transport connects. With `config.deliver_media`, decoded
    /// and captured pictures (the self view has track [`super::LOCAL_TRACK`]) and decoded audio
    /// go to `events`; errors found after start go there too.
    pub async fn start(
        config: &MediaConfig,
        events: mpsc::UnboundedSender<CallEvent>,
    ) -> Result<(Self, Option<String>), CallError> {
        let capture = send::open(config)?;
        let shared = Arc::new(Shared {
            joined_at: Instant::now(),
            remote: Mutex::default(),
            local: Mutex::default(),
            mic_on: AtomicBool::new(true),
            camera_on: AtomicBool::new(true),
            next_camera: Mutex::default(),
            next_mic: Mutex::default(),
            mic_level: Default::default(),
            stopping: AtomicBool::new(false),
            media_sink: config.deliver_media.then(|| events.clone()),
            nacks: taps::NackCounts::default(),
            cpu: Default::default(),
        });
        let runtime = webrtc::runtime::default_runtime()
            .ok_or_else(|| CallError::WebRtc("no async runtime".into()))?;
        let initial_bps = f64::from(config.video_bitrate_bps);
        let sub_events = Arc::new(Events::default());
        let subscribe = peer::build(
            runtime.clone(),
            Arc::new(receive::SubscribeHandler::new(
                shared.clone(),
                runtime.clone(),
                sub_events.clone(),
            )),
            config.bind_ip,
            initial_bps,
            shared.nacks.clone(),
        )
        .await?;
        let pub_events = Arc::new(Events::default());
        let publish = peer::build(
            runtime.clone(),
            Arc::new(PublishHandler(pub_events.clone())),
            config.bind_ip,
            initial_bps,
            taps::NackCounts::default(),
        )
        .await?;
        let tracks = send::add_tracks(&publish, config).await?;
        let offer = if tracks.any() {
            let offer = publish.create_offer(None).await.map_err(sdp_error)?;
            publish
                .set_local_description(offer)
                .await
                .map_err(sdp_error)?;
            Some(local_sdp(&publish, &pub_events).await?)
        } else {
            None
        };
        let sending = {
            let (shared, publish) = (shared.clone(), publish.clone());
            tokio::spawn(async move {
                pub_events.connected.notified().await;
                if let Err(e) = send::start(&tracks, capture, shared, publish).await {
                    let _ = events.send(CallEvent::Error(e.to_string()));
                }
            })
        };
        let session = Self {
            shared,
            publish,
            subscribe,
            sub_events,
            subscribe_gathered: false,
            sending,
            config: config.clone(),
        };
        Ok((session, offer))
    }

    /// The SFU's answer to the publish offer.
    pub async fn publish_answer(&self, sdp: String) -> Result<(), CallError> {
        let answer = RTCSessionDescription::answer(sdp).map_err(sdp_error)?;
        self.publish
            .set_remote_description(answer)
            .await
            .map_err(sdp_error)
    }

    /// An offer from the SFU on the subscribe transport (the room's tracks, renegotiated as
    /// they come and go); returns the answer to send back.
    pub async fn subscribe_offer(&mut self, sdp: String) -> Result<String, CallError> {
        let offer = RTCSessionDescription::offer(sdp).map_err(sdp_error)?;
        self.subscribe
            .set_remote_description(offer)
            .await
            .map_err(sdp_error)?;
        let answer = self
            .subscribe
            .create_answer(None)
            .await
            .map_err(sdp_error)?;
        self.subscribe
            .set_local_description(answer)
            .await
            .map_err(sdp_error)?;
        if self.subscribe_gathered {
            return Ok(self
                .subscribe
                .local_description()
                .await
                .map(|d| d.sdp)
                .unwrap_or_default());
        }
        self.subscribe_gathered = true;
        local_sdp(&self.subscribe, &self.sub_events).await
    }

    /// Stops or resumes sending audio (nothing is encoded while off).
    pub fn set_mic(&self, on: bool) {
        self.shared.mic_on.store(on, Ordering::Relaxed);
    }

    /// Stops or resumes sending video.
    pub fn set_camera(&self, on: bool) {
        self.shared.camera_on.store(on, Ordering::Relaxed);
    }

    /// Sends from another camera from now on. It is opened here, so a missing or busy device
    /// is reported and the current one goes on; a call that sends no video has none to change.
    pub fn use_camera(&mut self, source: Source) -> Result<(), CallError> {
        if self.config.camera.is_none() {
            return Err(CallError::NotSending("video"));
        }
        let opened = send::open_camera(&source, &self.config)?;
        self.install(&self.shared.next_camera, opened);
        self.config.camera = Some(source);
        Ok(())
    }

    /// Sends from another microphone from now on, as [`Self::use_camera`] does.
    pub fn use_mic(&mut self, source: Source) -> Result<(), CallError> {
        if self.config.mic.is_none() {
            return Err(CallError::NotSending("audio"));
        }
        let opened = send::open_mic(&source)?;
        self.install(&self.shared.next_mic, opened);
        self.config.mic = Some(source);
        Ok(())
    }

    fn install<T>(&self, slot: &Mutex<Option<T>>, next: T) {
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(next);
        }
    }

    /// The camera and microphone in use (`None`: not sent in this call).
    pub fn sources(&self) -> (Option<&Source>, Option<&Source>) {
        (self.config.camera.as_ref(), self.config.mic.as_ref())
    }

    pub fn mic_on(&self) -> bool {
        self.shared.mic_on.load(Ordering::Relaxed)
    }

    /// The microphone's loudness now: RMS over the last 20 ms, 0 to 1.
    pub fn mic_level(&self) -> f32 {
        f32::from_bits(self.shared.mic_level.load(Ordering::Relaxed))
    }

    pub fn camera_on(&self) -> bool {
        self.shared.camera_on.load(Ordering::Relaxed)
    }

    /// Everything measured so far; `ended` says how the call ended, once it has.
    pub fn report(&self, participant_id: &str, ended: Option<&str>) -> CallReport {
        self.shared.report(participant_id, ended)
    }

    /// Stops capture and closes both transports.
    pub async fn close(self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.sending.abort();
        let _ = self.publish.close().await;
        let _ = self.subscribe.close().await;
    }

    /// Closes the session and returns its final report.
    pub async fn finish(self, participant_id: &str, ended: &str) -> CallReport {
        self.shared.stopping.store(true, Ordering::Relaxed);
        send::fill_transport_stats(&self.publish, &self.shared).await;
        let report = self.report(participant_id, Some(ended));
        self.close().await;
        report
    }
}

impl Drop for MediaSession {
    /// However the session ends, capture stops: its threads watch this flag.
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.sending.abort();
    }
}
