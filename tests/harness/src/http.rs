//! REST set-up against a running server.

use serde_json::{json, Value};

/// Registers a host account (once per server), logs it in and creates a meeting titled
/// `title`; returns the meeting code.
pub async fn host_meeting(server: &str, title: &str) -> String {
    let http = reqwest::Client::new();
    let account = json!({"email": "host@example.test", "password": "correct horse"});
    let mut register = account.clone();
    register["name"] = "Host".into();
    // A second meeting on the same server finds the account already there (409): fine.
    let _ = http
        .post(format!("{server}/api/users"))
        .json(&register)
        .send()
        .await;
    let login: Value = http
        .post(format!("{server}/api/auth/login"))
        .json(&account)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("host login")
        .json()
        .await
        .expect("login body");
    let token = login["token"].as_str().expect("token");
    let meeting: Value = http
        .post(format!("{server}/api/meetings"))
        .bearer_auth(token)
        .json(&json!({ "title": title }))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("create meeting")
        .json()
        .await
        .expect("meeting body");
    meeting["code"].as_str().expect("code").to_owned()
}

/// A guest token for `name` from `server`.
pub async fn guest_token(server: &str, name: &str) -> String {
    let token: Value = reqwest::Client::new()
        .post(format!("{server}/auth/token"))
        .json(&json!({ "displayName": name }))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("a guest token")
        .json()
        .await
        .expect("token body");
    token["token"].as_str().expect("token").to_owned()
}
