//! Encoder and decoder cost per frame, on the synthetic test pattern.
//! Run with `make bench` (release build); prints one line per size.

use parlor_media::capture::synthetic::TestPattern;
use parlor_media::codec::h264::{H264Decoder, H264Encoder, VideoEncoderConfig};
use std::time::{Instant, SystemTime};

fn main() {
    println!("codec: H.264 (openh264) on the moving test pattern, 30 fps, one thread");
    for (w, h, kbps) in [(640usize, 360usize, 800u32), (1280, 720, 2000)] {
        let pattern = TestPattern::new(w, h, 30);
        let frames: Vec<_> = (0..150)
            .map(|n| pattern.render(n, SystemTime::now()))
            .collect();
        let mut enc = H264Encoder::new(VideoEncoderConfig {
            bitrate_bps: kbps * 1000,
            fps: 30,
            ..VideoEncoderConfig::default()
        })
        .expect("encoder");
        let mut dec = H264Decoder::new().expect("decoder");
        let (mut enc_ms, mut dec_ms, mut bytes) = (Vec::new(), Vec::new(), 0usize);
        for f in &frames {
            let t = Instant::now();
            let Some(out) = enc.encode(f).expect("encode") else {
                continue;
            };
            enc_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            bytes += out.data.len();
            let t = Instant::now();
            dec.decode(&out.data).expect("decode");
            dec_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let p95 = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * 0.95) as usize]
        };
        println!(
            "  {w}x{h} @ {kbps} kbit/s: encode {:.2} ms/frame (p95 {:.2}), decode {:.2} ms/frame (p95 {:.2}), {:.0} kbit/s produced",
            mean(&enc_ms),
            p95(&mut enc_ms),
            mean(&dec_ms),
            p95(&mut dec_ms),
            bytes as f64 * 8.0 / (frames.len() as f64 / 30.0) / 1000.0,
        );
    }
}
