//! Identity: signed tokens ([`tokens`]) and password hashing ([`password`]).

pub mod password;
pub mod tokens;

pub use tokens::{Claims, Identity, TokenError, TokenService};
