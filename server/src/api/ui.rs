//! The browser UI (`ui/`, built by Vite into `ui/dist`), served from the same origin as the
//! API. A release build carries the files inside the binary; a debug build reads them from
//! `ui/dist` as they are now, so a rebuilt UI needs no server rebuild.
//!
//! Paths the UI routes itself (`/m/{code}`, `/login`, …) get `index.html`; unknown paths
//! under the API's prefixes stay JSON 404s.

use super::error::ApiError;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "$PARLOR_UI_DIST"]
#[allow_missing = true]
struct Assets;

const API_PREFIXES: &[&str] = &["/api/", "/auth/", "/ws/", "/health/", "/metrics"];

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    if API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return ApiError::not_found("no such endpoint").into_response();
    }
    let file = path.trim_start_matches('/');
    if let Some(asset) = Assets::get(file) {
        // Vite names assets by content hash, so they never change under the same name.
        let cache = if file.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, asset.metadata.mimetype().to_owned()),
                (header::CACHE_CONTROL, cache.to_owned()),
            ],
            asset.data,
        )
            .into_response();
    }
    match Assets::get("index.html") {
        Some(index) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            index.data,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The web UI is not built into this server. Build it with `make ui` (npm ci && \
             npm run build in ui/), then restart; the API works without it.\n",
        )
            .into_response(),
    }
}
