//! REST set-up against a running server.

use serde_json::{json, Value};

/// A JSON request's answer, which must be a success.
async fn json_of(request: reqwest::RequestBuilder, what: &str) -> Value {
    request
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A token for the host account, registering it on `server` first if needed (a cluster's
/// nodes share one database, so any node then knows it).
pub async fn host_token(server: &str) -> String {
    let http = reqwest::Client::new();
    let account = json!({"email": "host@example.test", "password": "correct horse"});
    let mut register = account.clone();
    register["name"] = "Host".into();
    // Already registered (409): fine.
    let _ = http
        .post(format!("{server}/api/users"))
        .json(&register)
        .send()
        .await;
    let login = http.post(format!("{server}/api/auth/login")).json(&account);
    let login = json_of(login, "host login").await;
    login["token"].as_str().expect("token").to_owned()
}

/// Registers a host account (once per server), logs it in and creates a meeting titled
/// `title`; returns the meeting code.
pub async fn host_meeting(server: &str, title: &str) -> String {
    let create = reqwest::Client::new()
        .post(format!("{server}/api/meetings"))
        .bearer_auth(host_token(server).await)
        .json(&json!({ "title": title }));
    let meeting = json_of(create, "create meeting").await;
    meeting["code"].as_str().expect("code").to_owned()
}

/// `method` on `path` of `server` as the host account; the answer must be a success.
pub async fn as_host(server: &str, method: reqwest::Method, path: &str) -> Value {
    let request = reqwest::Client::new()
        .request(method, format!("{server}{path}"))
        .bearer_auth(host_token(server).await);
    json_of(request, path).await
}

/// A guest token for `name` from `server`.
pub async fn guest_token(server: &str, name: &str) -> String {
    let request = reqwest::Client::new()
        .post(format!("{server}/auth/token"))
        .json(&json!({ "displayName": name }));
    let token = json_of(request, "a guest token").await;
    token["token"].as_str().expect("token").to_owned()
}

/// The meeting `code` as `server` describes it to a guest.
pub async fn meeting(server: &str, code: &str) -> Value {
    let request = reqwest::Client::new()
        .get(format!("{server}/api/meetings/{code}"))
        .bearer_auth(guest_token(server, "Check").await);
    json_of(request, "the meeting").await
}

/// The signaling WebSocket's address on `server` (an `http://` URL) for `token`.
pub fn signal_url(server: &str, token: &str) -> String {
    format!("{}/ws/signal?token={token}", server.replace("http", "ws"))
}
