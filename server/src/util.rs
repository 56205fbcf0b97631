//! Small helpers shared across layers.

use rand::distr::{Alphanumeric, SampleString};
use std::path::Path;
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

/// A secret kept in the file at `path`: read back when it holds at least `min_len`
/// characters, otherwise made anew (`new_len` random characters) and written so that only its
/// owner can read it, whole or not at all.
pub fn kept_secret(path: &Path, min_len: usize, new_len: usize) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= min_len => return Ok(s.trim().to_owned()),
        Ok(_) => tracing::warn!(path = %path.display(), "secret too short; making a new one"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let secret = random_token(new_len);
    write_private(path, secret.as_bytes())?;
    Ok(secret)
}

/// Writes `contents` to `path` so that only its owner can read it, whole or not at all.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)
}

/// This machine's name, as a DNS label (letters, digits and '-'), for the LAN certificate and
/// the mDNS advert.
pub fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let label: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(63)
        .collect();
    if label.is_empty() {
        "parlor".to_owned()
    } else {
        label
    }
}

/// This process's CPU use between two readings, in % of one core (Linux; 0 elsewhere).
#[derive(Default)]
pub struct CpuMeter {
    last: Option<(std::time::Instant, f64)>,
}

impl CpuMeter {
    pub fn percent(&mut self) -> f32 {
        let Some(used) = process_cpu_seconds() else {
            return 0.0;
        };
        let now = std::time::Instant::now();
        let share = self.last.map_or(0.0, |(then, before)| {
            let wall = now.duration_since(then).as_secs_f64();
            if wall > 0.0 {
                (used - before) / wall * 100.0
            } else {
                0.0
            }
        });
        self.last = Some((now, used));
        share as f32
    }
}

/// User and system CPU seconds this process has used, from `/proc/self/stat`.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (in parentheses, which may hold spaces).
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 2..)?
        .split_whitespace()
        .collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel's clock ticks are 100 per second on every Linux Parlor runs on.
    Some(ticks / 100.0)
}
