//! Identity endpoints: guest tokens (seed 000's auth service), accounts, login, `me`, and the
//! extractor that turns a bearer token into an [`Identity`].

use super::error::ApiError;
use super::ApiJson;
use crate::auth::{password, Identity};
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use parlor_protocol::api::{
    GuestTokenRequest, LoginRequest, Me, RegisterRequest, TokenResponse, User,
};
use parlor_protocol::{ErrorCode, UserId};

const MAX_NAME_CHARS: usize = 64;
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;

/// The token from `Authorization: Bearer …`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// An authenticated caller.
pub struct Auth(pub Identity);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("an Authorization: Bearer token is required"))?;
        state
            .tokens
            .verify(&token)
            .map(Auth)
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()))
    }
}

fn display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(format!(
            "a name needs 1 to {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(name.to_owned())
}

fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(ApiError::invalid("that is not an email address"))
    }
}

fn token_response(state: &AppState, identity: Identity) -> TokenResponse {
    let (token, expires_at) = state.tokens.issue(&identity);
    TokenResponse {
        token,
        expires_at,
        user_id: identity.user_id,
        display_name: identity.display_name,
        guest: identity.guest,
    }
}

/// `POST /auth/token`
pub async fn guest_token(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<GuestTokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let display_name = display_name(&req.display_name)?;
    let user_id = match req.user_id {
        Some(id) => {
            let ok = (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !ok {
                return Err(ApiError::invalid(
                    "userId must be 1 to 64 letters, digits, '_', '-' or '.'",
                ));
            }
            UserId(id)
        }
        None => UserId(crate::util::new_id("g")),
    };
    Ok(Json(token_response(
        &state,
        Identity {
            user_id,
            display_name,
            guest: true,
        },
    )))
}

/// `POST /api/users`
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let email = normalize_email(&req.email)?;
    let name = display_name(&req.name)?;
    if req.password.chars().count() < MIN_PASSWORD_CHARS || req.password.len() > MAX_PASSWORD_BYTES
    {
        return Err(ApiError::invalid(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let hash = password::hash_blocking(req.password).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "could not create the account",
        )
    })?;
    let user = state.store.create_user(&email, &hash, &name).await?;
    tracing::info!(user = %user.id, "account created");
    Ok((StatusCode::CREATED, Json(user)))
}

/// `POST /api/auth/login`
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let wrong = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        )
    };
    let email = normalize_email(&req.email).map_err(|_| wrong())?;
    let found = state.store.user_by_email(&email).await?;
    // An unknown email costs the same hashing time as a known one, so timing does not tell
    // which addresses have accounts.
    let stored = found
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |(_, h)| h.clone());
    let matches = password::verify_blocking(req.password, stored).await;
    match found {
        Some((user, _)) if matches => Ok(Json(token_response(
            &state,
            Identity {
                user_id: user.id,
                display_name: user.name,
                guest: false,
            },
        ))),
        _ => Err(wrong()),
    }
}

/// `GET /api/me`
pub async fn me(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Me>, ApiError> {
    let email = if who.guest {
        None
    } else {
        let user = state
            .store
            .user_by_id(&who.user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
        Some(user.email)
    };
    Ok(Json(Me {
        user_id: who.user_id,
        display_name: who.display_name,
        guest: who.guest,
        email,
    }))
}
