//! JWT (HS256) tokens for accounts and guests. Validation has no leeway: an expired token is
//! expired.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parlor_protocol::{ErrorCode, UserId};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "parlor";

/// What a token says, as signed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    /// Guests may join meetings but not create them, and never act as a meeting's host.
    pub guest: bool,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

/// Who is making a request, once their token has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: UserId,
    pub display_name: String,
    pub guest: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    #[error("the token has expired; sign in again")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

impl TokenError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Expired => ErrorCode::TokenExpired,
            Self::Invalid => ErrorCode::InvalidToken,
        }
    }
}

/// Issues and verifies tokens with one secret.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl TokenService {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl,
        }
    }

    /// A token for `identity`, valid for the configured time from now. Returns the token
    /// and its expiry in milliseconds since the epoch.
    pub fn issue(&self, identity: &Identity) -> (String, i64) {
        self.issue_at(identity, SystemTime::now())
    }

    /// A token as if issued at `issued`; lets tests make tokens that have already expired.
    pub fn issue_at(&self, identity: &Identity, issued: SystemTime) -> (String, i64) {
        let iat = issued.duration_since(UNIX_EPOCH).unwrap_or_default();
        let exp = iat + self.ttl;
        let claims = Claims {
            sub: identity.user_id.0.clone(),
            name: identity.display_name.clone(),
            guest: identity.guest,
            iss: ISSUER.into(),
            iat: iat.as_secs(),
            exp: exp.as_secs(),
        };
        // HS256 signing of a serializable struct cannot fail.
        let token =
            encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default();
        (token, i64::try_from(exp.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data =
            decode::<Claims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        Ok(Identity {
            user_id: UserId(data.claims.sub),
            display_name: data.claims.name,
            guest: data.claims.guest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Identity {
        Identity {
            user_id: "u_ada".into(),
            display_name: "Ada".into(),
            guest: false,
        }
    }

    #[test]
    fn round_trip() {
        let svc = TokenService::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let (token, exp) = svc.issue(&ada());
        assert!(exp > 0);
        assert_eq!(svc.verify(&token).unwrap(), ada());
    }

    #[test]
    fn forged_and_expired() {
        let svc = TokenService::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let other = TokenService::new(b"ffffffffffffffffffffffffffffffff", Duration::from_secs(60));
        let (forged, _) = other.issue(&ada());
        assert_eq!(svc.verify(&forged), Err(TokenError::Invalid));
        let (old, _) = svc.issue_at(&ada(), SystemTime::now() - Duration::from_secs(120));
        assert_eq!(svc.verify(&old), Err(TokenError::Expired));
        assert_eq!(svc.verify("not.a.token"), Err(TokenError::Invalid));
    }
}
