//! Health (seed 001's aggregator) and metrics.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use parlor_protocol::api::{DependencyCheck, Readiness};
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health/live`: the process is up and serving.
pub async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /health/ready`: every dependency answers. 503 names the ones that do not.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let mut checks = Vec::new();
    let db = tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await;
    checks.push(check(
        "database",
        match db {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".into()),
        },
    ));
    if state.config.redis_url.is_some() {
        let redis = tokio::time::timeout(PROBE_TIMEOUT, state.cluster.check()).await;
        checks.push(check(
            "redis",
            redis.unwrap_or_else(|_| Err("timed out".into())),
        ));
    }
    if state.shutdown.is_cancelled() {
        checks.push(check("server", Err("shutting down".into())));
    }
    let failing: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    let (status, label) = if failing.is_empty() {
        (StatusCode::OK, "ok".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unavailable: {}", failing.join(", ")),
        )
    };
    (
        status,
        Json(Readiness {
            status: label,
            checks,
        }),
    )
}

fn check(name: &str, result: Result<(), String>) -> DependencyCheck {
    DependencyCheck {
        name: name.into(),
        ok: result.is_ok(),
        error: result.err(),
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
