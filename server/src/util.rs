//! Small helpers shared across layers.

use rand::distr::{Alphanumeric, SampleString};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the unit of every stored and sent timestamp.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A random identifier with a short prefix saying what it names (`u_…`, `m_…`, `p_…`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_token(16))
}

/// Random alphanumeric text; 22 characters carry over 128 bits.
pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}
