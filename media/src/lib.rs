//! `parlor-media`: Parlor's client-side media.
//!
//! - [`capture`]: cameras and microphones, and synthetic sources beside them (a stamped moving
//!   test pattern, a tone with marks) behind the same traits.
//! - [`codec`]: H.264 (openh264) and Opus (libopus).
//! - [`stamp`]: the machine-readable block in test pictures that lets a receiver count missing
//!   and corrupt frames and measure glass-to-glass latency.
//! - [`frame`]: I420 pictures and 20 ms audio frames.

pub mod call;
pub mod capture;
pub mod codec;
pub mod frame;
pub mod playback;
pub mod stamp;
pub mod tls;
