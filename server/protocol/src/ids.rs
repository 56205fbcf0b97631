//! Identifiers. Each is a transparent string on the wire and its own type in code, so a
//! participant id can never be passed where a meeting code is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A user: a registered account (`u_…`) or a guest identity.
    UserId
);
string_id!(
    /// One presence of a user in one meeting; survives a resumed connection.
    ParticipantId
);
string_id!(
    /// A published media track, unique in its room.
    TrackId
);
string_id!(
    /// A meeting's public code, `abc-defg-hij`; it is also the signaling room id.
    MeetingCode
);

impl MeetingCode {
    /// Meeting codes are three, four and three lowercase ASCII letters joined by dashes.
    pub fn is_well_formed(&self) -> bool {
        let parts: Vec<&str> = self.0.split('-').collect();
        parts.len() == 3
            && parts
                .iter()
                .zip([3usize, 4, 3])
                .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meeting_code_shape() {
        assert!(MeetingCode::from("abc-defg-hij").is_well_formed());
        assert!(!MeetingCode::from("abc-defg-hi").is_well_formed());
        assert!(!MeetingCode::from("ABC-defg-hij").is_well_formed());
        assert!(!MeetingCode::from("abc-defg-hij-klm").is_well_formed());
        assert!(!MeetingCode::from("").is_well_formed());
    }
}
