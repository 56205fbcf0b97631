//! The REST API: guests, accounts, login, meetings, host-only actions, guests' limits, health
//! and metrics — on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{Backend, TestServer};
use serde_json::json;

on_both_backends!(
    guest_tokens,
    accounts_and_login,
    meetings_and_host_only_actions,
    guests_cannot_create_meetings,
    rest_auth_failures,
    bad_request_bodies,
    health_and_metrics,
);

async fn guest_tokens(b: Backend) {
    let s = TestServer::start(b).await;
    let (status, body) = s
        .post("/auth/token", None, json!({"displayName": "Ada"}))
        .await;
    assert_eq!(status, 200);
    assert!(body["token"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
    assert!(body["expiresAt"].as_i64().unwrap() > 0);
    assert_eq!(body["guest"], true);
    let token = body["token"].as_str().unwrap();
    let (status, me) = s.get("/api/me", Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["displayName"], "Ada");
    assert_eq!(me["userId"], body["userId"]);
    assert_eq!(me["guest"], true);

    // The seed's form: the client names its own user id.
    let (status, body) = s
        .post(
            "/auth/token",
            None,
            json!({"displayName": "Bo", "userId": "bo-42"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["userId"], "bo-42");

    for bad in [
        json!({"displayName": ""}),
        json!({"displayName": "x".repeat(65)}),
        json!({"displayName": "Ok", "userId": "has spaces"}),
    ] {
        let (status, body) = s.post("/auth/token", None, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["code"], "validation_failed");
    }
}

async fn accounts_and_login(b: Backend) {
    let s = TestServer::start(b).await;
    let (status, user) = s
        .post(
            "/api/users",
            None,
            json!({"email": "Ada@Example.test", "password": "correct horse", "name": "Ada"}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "ada@example.test");
    assert!(user.get("password").is_none() && user.get("passwordHash").is_none());

    let (status, body) = s
        .post(
            "/api/users",
            None,
            json!({"email": "ada@example.test", "password": "another one", "name": "Ada 2"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("email_taken")));

    let (status, body) = s
        .post(
            "/api/users",
            None,
            json!({"email": "short@example.test", "password": "short", "name": "S"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let (status, _) = s
        .post(
            "/api/users",
            None,
            json!({"email": "not-an-email", "password": "long enough", "name": "S"}),
        )
        .await;
    assert_eq!(status, 422);

    let (status, login) = s
        .post(
            "/api/auth/login",
            None,
            json!({"email": "ada@example.test", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["userId"], user["id"]);
    assert_eq!(login["guest"], false);
    let (status, me) = s.get("/api/me", login["token"].as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "ada@example.test");
    assert_eq!(me["displayName"], "Ada");

    for (email, password) in [
        ("ada@example.test", "wrong horse"),
        ("nobody@example.test", "correct horse"),
    ] {
        let (status, body) = s
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_credentials"))
        );
    }
}

async fn meetings_and_host_only_actions(b: Backend) {
    let s = TestServer::start(b).await;
    let ada = s.account("Ada").await;
    let bea = s.account("Bea").await;

    let (status, m) = s
        .post(
            "/api/meetings",
            Some(&ada),
            json!({"title": "Design review", "mediaMode": "sfu"}),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    let code = m["code"].as_str().unwrap().to_owned();
    let shape: Vec<usize> = code.split('-').map(str::len).collect();
    assert_eq!(shape, [3, 4, 3], "{code}");
    assert_eq!(m["status"], "created");
    assert_eq!(m["mediaMode"], "sfu");
    assert_eq!(m["hostName"], "Ada");

    let (status, default_mode) = s
        .post("/api/meetings", Some(&ada), json!({"title": "Other"}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(default_mode["mediaMode"], "auto");
    let (status, _) = s
        .post(
            "/api/meetings",
            Some(&ada),
            json!({"title": "x", "mediaMode": "mesh"}),
        )
        .await;
    assert_eq!(status, 422);

    let (status, mine) = s.get("/api/meetings", Some(&ada)).await;
    assert_eq!(status, 200);
    assert_eq!(mine.as_array().unwrap().len(), 2);
    let (_, theirs) = s.get("/api/meetings", Some(&bea)).await;
    assert_eq!(theirs.as_array().unwrap().len(), 0);

    let (status, got) = s.get(&format!("/api/meetings/{code}"), Some(&bea)).await;
    assert_eq!(status, 200);
    assert_eq!(got["title"], "Design review");
    assert_eq!(got["present"], 0, "nobody in it yet: {got}");
    let (status, body) = s.get("/api/meetings/zzz-zzzz-zzz", Some(&bea)).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    // Bea takes part, so she may see the history; she may not end the meeting.
    let (mut ws, _) = s.join(&bea, &code).await;
    let (_, got) = s.get(&format!("/api/meetings/{code}"), Some(&ada)).await;
    assert_eq!(got["present"], 1, "{got}");
    let (_, mine) = s.get("/api/meetings", Some(&ada)).await;
    let listed = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == code.as_str());
    assert_eq!(listed.unwrap()["present"], 1, "{mine}");
    let (status, body) = s
        .post(&format!("/api/meetings/{code}/end"), Some(&bea), json!({}))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, history) = s
        .get(&format!("/api/meetings/{code}/participants"), Some(&bea))
        .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["displayName"], "Bea");
    assert!(history[0]["leftAt"].is_null());

    let outsider = s.guest("Cy").await;
    let (status, _) = s
        .get(
            &format!("/api/meetings/{code}/participants"),
            Some(&outsider),
        )
        .await;
    assert_eq!(status, 403);

    // The host ends it over REST; the participant in the room hears it.
    let (status, ended) = s
        .post(&format!("/api/meetings/{code}/end"), Some(&ada), json!({}))
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["endReason"], "host_ended");
    let (_, got) = s.get(&format!("/api/meetings/{code}"), Some(&ada)).await;
    assert!(
        got.get("present").is_none(),
        "an ended meeting has no one in it: {got}"
    );
    let msg = ws.expect("meeting_ended").await;
    assert_eq!(msg["reason"], "host_ended");
    let (_, history) = s
        .get(&format!("/api/meetings/{code}/participants"), Some(&ada))
        .await;
    assert!(history[0]["leftAt"].as_i64().is_some(), "{history}");
    let (_, mine) = s.get("/api/meetings", Some(&bea)).await;
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "meetings Bea joined are hers too"
    );
}

async fn guests_cannot_create_meetings(b: Backend) {
    let s = TestServer::start(b).await;
    let guest = s.guest("Gus").await;
    let (status, body) = s
        .post("/api/meetings", Some(&guest), json!({"title": "Mine"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guest_not_allowed"))
    );

    // A guest claiming a host's user id is still a guest.
    let ada = s.account("Ada").await;
    let (_, me) = s.get("/api/me", Some(&ada)).await;
    let code = s.meeting(&ada, "Ada's").await;
    let (_, impostor) = s
        .post(
            "/auth/token",
            None,
            json!({"displayName": "Ada", "userId": me["userId"]}),
        )
        .await;
    let impostor = impostor["token"].as_str().unwrap();
    let (status, _) = s
        .post(
            &format!("/api/meetings/{code}/end"),
            Some(impostor),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (_, joined) = s.join(impostor, &code).await;
    assert_eq!(joined["role"], "participant");
}

async fn rest_auth_failures(b: Backend) {
    let s = TestServer::start(b).await;
    let (status, body) = s.get("/api/me", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, body) = s.get("/api/me", Some("forged.token.value")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, body) = s.post("/api/meetings", None, json!({"title": "x"})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    // A plain GET of the signaling endpoint with a good token is told to upgrade.
    let guest = s.guest("Plain").await;
    let (status, body) = s.get(&format!("/ws/signal?token={guest}"), None).await;
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(body["code"], "invalid_message");
    let (status, body) = s.get("/api/no/such/route", None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

async fn bad_request_bodies(b: Backend) {
    let s = TestServer::start(b).await;
    let client = reqwest::Client::new();
    let cases: [(&str, String, u16, &str); 4] = [
        ("/api/users", "{not json".into(), 400, "bad_json"),
        (
            "/api/users",
            r#"{"email": 5}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "/auth/token",
            r#"{"displayName": "A", "admin": true}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "/auth/token",
            format!(r#"{{"displayName": "{}"}}"#, "x".repeat(100_000)),
            413,
            "payload_too_large",
        ),
    ];
    for (path, body, status, code) in cases {
        let res = client
            .post(s.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["code"], code, "{path}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

async fn health_and_metrics(b: Backend) {
    let s = TestServer::start(b).await;
    let (status, live) = s.get("/health/live", None).await;
    assert_eq!((status, live["status"].as_str()), (200, Some("ok")));
    let (status, ready) = s.get("/health/ready", None).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"][0]["name"], "database");

    let token = s.guest("Mo").await;
    let mut ws = s.ws(&token).await;
    ws.send(json!({"type": "ping"})).await;
    ws.expect("pong").await;
    ws.send(json!({"type": "nope"})).await;
    ws.expect_error("unknown_type").await;
    assert_eq!(s.metric("parlor_ws_connections").await, 1.0);
    assert!(
        s.metric("parlor_signal_messages_in_total{type=\"ping\"}")
            .await
            >= 1.0
    );
    assert!(
        s.metric("parlor_signal_messages_out_total{type=\"pong\"}")
            .await
            >= 1.0
    );
    assert!(s.metric("parlor_errors_total{code=\"unknown_type\"}").await >= 1.0);
    assert!(s.metric("parlor_http_request_duration_seconds_count").await >= 3.0);
    let ada = s.account("Ada").await;
    let code = s.meeting(&ada, "m").await;
    let (_ws2, _) = s.join(&ada, &code).await;
    assert_eq!(s.metric("parlor_rooms_active").await, 1.0);
    assert_eq!(s.metric("parlor_participants").await, 1.0);
}

/// The UI is served at `/` and at the paths it routes itself; API paths stay JSON 404s.
#[tokio::test]
async fn serves_the_ui() {
    let s = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();
    let fetch = |path: &str| {
        let req = http.get(s.url(path));
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let kind = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, kind, res.text().await.unwrap())
        }
    };
    let root = fetch("/").await;
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ui/dist/index.html")
        .exists();
    if built {
        assert_eq!(root.0, 200);
        assert!(root.1.starts_with("text/html"), "{root:?}");
        assert!(root.2.contains("<div id=\"root\">"), "{root:?}");
        let script = root
            .2
            .split("src=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_owned();
        let js = fetch(&script).await;
        assert_eq!(js.0, 200, "{script}");
        assert!(js.1.contains("javascript"), "{js:?}");
    } else {
        assert_eq!(root.0, 503);
        assert!(root.2.contains("make ui"), "{root:?}");
    }
    // A meeting's deep link and the UI's own pages get the same page.
    for path in ["/m/abc-defg-hij", "/login", "/dashboard"] {
        assert_eq!(fetch(path).await, root, "{path}");
    }
    let (status, body) = s.get("/api/no-such-thing", None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

/// The desktop app's pages (their own origin) may call the API; other sites' pages may not.
#[tokio::test]
async fn the_desktop_app_may_call_the_api_cross_origin() {
    let s = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, s.url("/api/meetings"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    for origin in ["tauri://localhost", "http://tauri.localhost"] {
        let res = preflight(origin).await.unwrap();
        let allowed = res.headers().get("access-control-allow-origin");
        assert_eq!(allowed.map(|v| v.to_str().unwrap()), Some(origin));
        let headers = res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(headers.contains("authorization"), "{headers}");
    }
    let other = preflight("https://elsewhere.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
