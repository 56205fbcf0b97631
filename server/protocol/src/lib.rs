//! Parlor's wire protocol, defined once.
//!
//! - [`signal`]: the JSON messages exchanged over the signaling WebSocket, tagged by `"type"`,
//!   and [`signal::parse_client`], which turns a text frame into a message or a typed error.
//! - [`api`]: the REST request and response bodies.
//! - [`error`]: the stable error codes shared by HTTP responses and `error` frames.
//! - [`lan`]: the mDNS advert of a server hosting on a local network, and certificate
//!   fingerprints.
//! - [`ids`]: newtypes for the identifiers that travel on the wire.
//! - [`typescript`]: all of the above as a TypeScript module for the UI.
//!
//! Field names are camelCase on the wire, message types snake_case (except the seeds'
//! `ice-candidate`). Timestamps are milliseconds since the Unix epoch.

pub mod api;
pub mod error;
pub mod ids;
pub mod lan;
pub mod signal;
pub mod typescript;

pub use error::{ErrorBody, ErrorCode};
pub use ids::{MeetingCode, ParticipantId, TrackId, UserId};
