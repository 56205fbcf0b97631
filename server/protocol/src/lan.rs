//! What a Parlor server hosting on a local network says about itself over mDNS/DNS-SD, and how
//! its certificate is named to people.
//!
//! A LAN server has a self-signed certificate, so nobody vouches for it; people compare its
//! fingerprint instead (shown by the host, checked by the joiner, then remembered).

use sha2::{Digest, Sha256};

/// The DNS-SD service type Parlor servers register.
pub const SERVICE_TYPE: &str = "_parlor._tcp.local.";

/// TXT record keys of the advert.
pub mod txt {
    /// Protocol version of the advert; this is version 1.
    pub const VERSION: &str = "v";
    /// URL scheme: `https` (always, for a LAN server).
    pub const SCHEME: &str = "scheme";
    /// The certificate's [`fingerprint`](super::fingerprint).
    pub const FINGERPRINT: &str = "fp";
    /// The advertised meeting's code, when the advert is for one meeting.
    pub const CODE: &str = "code";
    /// The advertised meeting's title.
    pub const TITLE: &str = "title";
    /// Who hosts it: the host's display name, or the machine's name.
    pub const HOST: &str = "host";
}

/// A certificate's SHA-256 fingerprint as people read it: 32 upper-case hex pairs joined by
/// colons, the way browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(95);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// A fingerprint as typed or pasted (any case, colons, spaces or none) in the form
/// [`fingerprint`] gives; `None` when it is not 32 hex bytes.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .to_ascii_uppercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let pairs: Vec<&str> = (0..32).map(|i| &hex[i * 2..i * 2 + 2]).collect();
    Some(pairs.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_like_browsers_show_them() {
        let fp = fingerprint(b"parlor");
        assert_eq!(fp.len(), 95);
        assert_eq!(fp.split(':').count(), 32);
        assert!(fp
            .chars()
            .all(|c| c == ':' || c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(fp, fingerprint(b"parlor!"));
    }

    #[test]
    fn pasted_fingerprints_are_normalized_or_refused() {
        let fp = fingerprint(b"x");
        let bare = fp.replace(':', "").to_ascii_lowercase();
        assert_eq!(normalize_fingerprint(&bare).as_deref(), Some(fp.as_str()));
        assert_eq!(normalize_fingerprint(&fp).as_deref(), Some(fp.as_str()));
        assert_eq!(normalize_fingerprint("AB:CD"), None);
        assert_eq!(normalize_fingerprint(&bare.replace('a', "g")), None);
    }
}
