//! `parlor-client`: Parlor's headless client.
//!
//! - `parlor-client join --server URL --room CODE …` joins a meeting, sends camera (or the
//!   synthetic test pattern) and microphone (or the tone), receives everyone else, and reports
//!   what it measured.
//! - `parlor-client devices` lists the cameras, microphones and speakers this machine offers.

use clap::{Parser, Subcommand};
use parlor_media::call::{self, CallConfig, CallEvent, Control, MediaConfig, Source};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "parlor-client", version, about = "Parlor's headless client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Join a meeting and exchange media until --duration passes or the meeting ends
    Join(Box<JoinArgs>),
    /// List cameras, microphones and speakers (an empty list of real devices is normal on a
    /// machine without them; the synthetic sources are always there)
    Devices {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct JoinArgs {
    /// The server, e.g. http://127.0.0.1:8080 or https://parlor.example; give it again for
    /// other nodes of the same Parlor, tried in turn if the first goes away mid-call
    #[arg(long, required = true)]
    server: Vec<String>,
    /// Trust exactly the certificate with this SHA-256 fingerprint (a server hosting on a
    /// local network with a self-signed certificate prints it and advertises it); without
    /// it, HTTPS servers must have a certificate the public web's authorities vouch for
    #[arg(long, value_name = "SHA256", value_parser = parlor_media::tls::Trust::pinned)]
    fingerprint: Option<parlor_media::tls::Trust>,
    /// Meeting code, e.g. abc-defg-hij
    #[arg(long)]
    room: String,
    /// Name shown to the others
    #[arg(long, default_value = "parlor-client")]
    name: String,
    /// Camera: "synthetic" (moving test pattern), a device id from `devices`, or "none"
    #[arg(long, default_value = "synthetic")]
    camera: String,
    /// Microphone: "synthetic" (tone), a device id from `devices`, or "none"
    #[arg(long, default_value = "synthetic")]
    mic: String,
    /// Picture size to send, WIDTHxHEIGHT
    #[arg(long, default_value = "640x360", value_parser = parse_size)]
    size: (usize, usize),
    /// Frames per second to send
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Starting video bitrate in kbit/s (congestion control adjusts it)
    #[arg(long, default_value_t = 800)]
    bitrate: u32,
    /// How long to stay, e.g. 20s or 2m; without it, until Ctrl-C or the meeting ends
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Turn the microphone off after this long (to check that muting stops audio)
    #[arg(long, value_parser = parse_duration)]
    mute_after: Option<Duration>,
    /// Say this in the meeting's chat once joined
    #[arg(long)]
    say: Option<String>,
    /// Write the final statistics here as JSON
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// Local address for media sockets
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 1280x720")?;
    let w: usize = w.parse().map_err(|_| "bad width")?;
    let h: usize = h.parse().map_err(|_| "bad height")?;
    if !(64..=3840).contains(&w) || !(64..=2160).contains(&h) {
        return Err("size must be between 64x64 and 3840x2160".into());
    }
    Ok((w, h))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn source(s: &str) -> Option<Source> {
    match s {
        "none" => None,
        "synthetic" => Some(Source::Synthetic),
        device => Some(Source::Device(device.to_owned())),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARLOR_LOG")
                // The WebRTC stack's own notices (replaced interceptors, DTLS server names)
                // are not the user's concern.
                .unwrap_or_else(|_| {
                    "warn,rtc_interceptor=error,rtc_dtls=error,rtc_ice=error".into()
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Devices { json } => {
            let devices = parlor_media::capture::devices()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else {
                for d in devices {
                    let kind = format!("{:?}", d.kind).to_lowercase();
                    println!("{kind:<10} {:<24} {}", d.id, d.name);
                }
            }
            Ok(())
        }
        Command::Join(args) => join(*args).await,
    }
}

async fn join(args: JoinArgs) -> anyhow::Result<()> {
    let mut servers = args.server.into_iter();
    let config = CallConfig {
        server: servers.next().unwrap_or_default(),
        fallback: servers.collect(),
        room: args.room,
        name: args.name,
        media: MediaConfig {
            camera: source(&args.camera),
            mic: source(&args.mic),
            width: args.size.0,
            height: args.size.1,
            fps: args.fps,
            video_bitrate_bps: args.bitrate * 1000,
            bind_ip: args.bind,
            deliver_media: false,
        },
        trust: args.fingerprint.unwrap_or_default(),
    };
    let (controls, control_rx) = tokio::sync::mpsc::unbounded_channel();
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let call = tokio::spawn(call::run(config, args.duration, control_rx, events_tx));
    if let Some(after) = args.mute_after {
        let controls = controls.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = controls.send(Control::Mic(false));
        });
    }
    let ctrl_c = controls.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = ctrl_c.send(Control::Leave);
    });
    let mut say = args.say.map(|text| (controls.clone(), text));
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                CallEvent::Joined { participant_id } => {
                    eprintln!("joined as {participant_id}");
                    if let Some((controls, text)) = say.take() {
                        let _ = controls.send(Control::Chat(text));
                    }
                }
                CallEvent::PeerJoined { peer_id, name } => eprintln!("{name} ({peer_id}) joined"),
                CallEvent::PeerLeft { peer_id } => eprintln!("{peer_id} left"),
                CallEvent::TrackAdded(t) => {
                    eprintln!("track {} ({:?}) from {}", t.track_id, t.kind, t.peer_id)
                }
                CallEvent::TrackRemoved(t) => {
                    eprintln!("track {} from {} gone", t.track_id, t.peer_id)
                }
                CallEvent::Chat { from, text } => eprintln!("chat {from}: {text}"),
                CallEvent::MutedByHost { by } => eprintln!("{by} muted this microphone"),
                CallEvent::Error(e) => eprintln!("error: {e}"),
                CallEvent::Ended { reason } => eprintln!("the call ended: {reason}"),
                CallEvent::Stats(r) => eprintln!("{}", status_line(&r)),
                CallEvent::ActiveSpeakers(_)
                | CallEvent::Video { .. }
                | CallEvent::Audio { .. } => {}
            }
        }
    });
    let report = call.await??;
    drop(controls);
    for t in &report.remote {
        println!(
            "rx {} {} from {}: {} received, {} decoded ({} unstamped), {} corrupt, {} missing, {:.1} fps, {:.0} kbit/s, {} lost, {} NACKs, {} keyframe requests, first frame {}, latency p50 {} p95 {}",
            t.kind, t.track_id, t.peer_id, t.frames_received, t.frames_decoded, t.frames_unstamped, t.frames_corrupt,
            t.frames_missing, t.fps, t.bitrate_kbps, t.packets_lost, t.nacks_sent, t.keyframe_requests,
            ms(t.first_frame_ms), ms(t.latency_p50_ms), ms(t.latency_p95_ms),
        );
    }
    for t in &report.local {
        println!(
            "tx {}: {} frames, {} bytes, {} keyframes ({} requested), target {:.0} kbit/s",
            t.kind,
            t.frames_sent,
            t.bytes_sent,
            t.keyframes_sent,
            t.keyframe_requests_received,
            t.target_bitrate_kbps
        );
    }
    if let Some(path) = args.stats_json {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}

/// One line: time in the call, then per remote video its fps and latency, then what is sent.
fn status_line(r: &parlor_media::call::stats::CallReport) -> String {
    let rx: Vec<String> = r
        .remote
        .iter()
        .filter(|t| t.kind == "video")
        .map(|t| {
            format!(
                "{:.0} fps {} corrupt {}",
                t.fps,
                ms(t.latency_p50_ms),
                t.frames_corrupt
            )
        })
        .collect();
    let tx: Vec<String> = r
        .local
        .iter()
        .map(|t| format!("{} {} frames", t.kind, t.frames_sent))
        .collect();
    format!(
        "{:5.1}s  rx video [{}]  tx [{}]",
        r.duration_s,
        rx.join(", "),
        tx.join(", ")
    )
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0} ms"))
}
