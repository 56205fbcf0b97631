//! Peer connections for the SFU's two transports, built with the settings Parlor relies on:
//! H.264 constrained baseline (42e01f, packetization-mode 1) and Opus only; NACK with the
//! generator capped at 3 requests per packet; RTCP reports; TWCC with GCC congestion control
//! whose estimate drives the encoder.

use super::CallError;
use rtc::interceptor::{Gcc, NackGeneratorBuilder, Registry, Slot};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_congestion_control, register_default_interceptors, CongestionFeedback,
};
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use std::sync::Arc;
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};
use webrtc::runtime::Runtime;

pub const H264_FMTP: &str =
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// The payload types Parlor's SFU uses for H.264 and its RTX stream. The client registers the
/// same numbers: when it answers the SFU's offer, the `webrtc` crate maps the offered codecs
/// onto its own registered payload types for the receiver, and resolves an arriving RTX
/// packet's `apt` through that mapping; with different numbers on the two sides, received
/// retransmissions match no codec and are dropped, so no lost packet is ever repaired.
pub const H264_PT: u8 = 108;
pub const H264_RTX_PT: u8 = 109;

pub fn h264_codec() -> RTCRtpCodec {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: H264_FMTP.to_owned(),
        // Keyframe requests (PLI, FIR) and NACK must be negotiated to be sent at all.
        rtcp_feedback: vec![
            fb("nack", ""),
            fb("nack", "pli"),
            fb("ccm", "fir"),
            fb("transport-cc", ""),
        ],
    }
}

pub fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn webrtc_error(e: impl std::fmt::Display) -> CallError {
    CallError::WebRtc(e.to_string())
}

/// A peer connection with Parlor's codecs and interceptors.
pub async fn build(
    runtime: Arc<dyn Runtime>,
    handler: Arc<dyn PeerConnectionEventHandler>,
    bind_ip: std::net::IpAddr,
    initial_bitrate_bps: f64,
    nacks: super::taps::NackCounts,
) -> Result<Arc<dyn PeerConnection>, CallError> {
    let mut media = MediaEngine::default();
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: h264_codec(),
                payload_type: H264_PT,
            },
            RtpCodecKind::Video,
        )
        .map_err(webrtc_error)?;
    // RTX (RFC 4588) for H.264, so retransmissions travel on their own stream both ways.
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_RTX.to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: format!("apt={H264_PT}"),
                    rtcp_feedback: vec![],
                },
                payload_type: H264_RTX_PT,
            },
            RtpCodecKind::Video,
        )
        .map_err(webrtc_error)?;
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus_codec(),
                payload_type: 111,
            },
            RtpCodecKind::Audio,
        )
        .map_err(webrtc_error)?;
    let registry =
        register_default_interceptors(Registry::new(), &mut media).map_err(webrtc_error)?;
    // GCC over TWCC (with pacing); its estimate drives the encoder.
    let registry = configure_congestion_control(
        registry,
        Gcc::new(initial_bitrate_bps, 100_000.0, 4_000_000.0),
        CongestionFeedback::Twcc,
        &mut media,
    )
    .map_err(webrtc_error)?;
    // The default generator would ask for a lost packet again and again; three is enough.
    let registry = registry
        .with(
            Slot::NackGenerator,
            NackGeneratorBuilder::new()
                .with_max_nacks_per_packet(3)
                .build(),
        )
        .with(
            Slot::Custom(super::taps::SLOT),
            super::taps::keyframe_requests(),
        )
        .with(
            Slot::Custom(super::taps::NACK_SLOT),
            super::taps::nack_counter(nacks),
        )
        .with(
            Slot::Custom(super::taps::RTX_SLOT),
            super::taps::rtx_unwrap(),
        );
    // The SFU's candidates are always addresses, so `.local` names never need resolving; and
    // the mDNS socket would need a multicast route, which a loopback-only host lacks.
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_runtime(runtime)
        .with_udp_addrs(vec![format!("{bind_ip}:0")])
        .build()
        .await
        .map_err(webrtc_error)?;
    Ok(Arc::new(pc))
}
