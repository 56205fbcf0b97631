//! HTTP: the REST API, health, metrics and the signaling endpoint, in one axum router.

pub mod auth;
pub mod error;
mod health;
mod meetings;
mod ui;

use crate::state::AppState;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use parlor_protocol::ErrorCode;
use serde::de::DeserializeOwned;
use std::time::Instant;

/// Largest REST request body.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Where the desktop app's pages come from (Linux and macOS, then Windows). The app carries
/// its own copy of the UI, so its requests to a server are cross-origin. Tokens travel in the
/// `Authorization` header, never in cookies, so allowing these origins grants nothing a page
/// elsewhere could use.
const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

fn app_cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderValue, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(APP_ORIGINS.map(HeaderValue::from_static))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}

/// Every route of the server. Tests call this without a socket.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/auth/token", post(auth::guest_token))
        .route("/api/users", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/me", get(auth::me))
        .route("/api/meetings", post(meetings::create).get(meetings::list))
        .route("/api/meetings/{code}", get(meetings::get))
        .route("/api/meetings/{code}/end", post(meetings::end))
        .route(
            "/api/meetings/{code}/participants",
            get(meetings::participants),
        )
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/ws/signal", get(crate::signal::upgrade))
        .fallback(ui::serve)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(app_cors())
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .with_state(state)
}

/// A JSON body whose rejection is an [`ApiError`] (`bad_json`, `validation_failed`,
/// `payload_too_large`) rather than axum's plain-text one.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Self(v))
            .map_err(ApiError::from)
    }
}

/// Records latency by route and counts errors by code.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let res = next.run(req).await;
    let status = res.status();
    state
        .metrics
        .http_duration
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .observe(start.elapsed().as_secs_f64());
    if let Some(code) = res.extensions().get::<ErrorCode>() {
        state.metrics.error(*code);
    }
    if status.is_server_error() {
        tracing::warn!(%method, %route, %status, "request failed");
    }
    res
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        "the server hit an internal error",
    )
    .into_response()
}
