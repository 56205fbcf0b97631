//! The `parlor-server` binary itself: its help, its configuration sources, its start-up line,
//! and a clean stop on SIGTERM.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_parlor-server");

#[test]
fn help_documents_every_option() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--listen", "PARLOR_LISTEN"),
        ("--data-dir", "PARLOR_DATA_DIR"),
        ("--config", "PARLOR_CONFIG"),
        ("--database-url", "PARLOR_DATABASE_URL"),
        ("--redis-url", "PARLOR_REDIS_URL"),
        ("--log-format", "PARLOR_LOG_FORMAT"),
        ("--token-secret", "PARLOR_TOKEN_SECRET"),
        ("--token-ttl", "PARLOR_TOKEN_TTL"),
        ("--max-message-bytes", "PARLOR_MAX_MESSAGE_BYTES"),
        ("--rate-limit-per-sec", "PARLOR_RATE_LIMIT_PER_SEC"),
        ("--rate-limit-burst", "PARLOR_RATE_LIMIT_BURST"),
        ("--max-participants", "PARLOR_MAX_PARTICIPANTS"),
        ("--outbound-queue", "PARLOR_OUTBOUND_QUEUE"),
        ("--reconnect-grace", "PARLOR_RECONNECT_GRACE"),
        ("--heartbeat-interval", "PARLOR_HEARTBEAT_INTERVAL"),
        ("--chat-history", "PARLOR_CHAT_HISTORY"),
        ("--media-port", "PARLOR_MEDIA_PORT"),
        ("--media-bind", "PARLOR_MEDIA_BIND"),
        ("--public-ip", "PARLOR_PUBLIC_IP"),
        ("--media-workers", "PARLOR_MEDIA_WORKERS"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
        assert!(help.contains(env), "--help lacks {env}");
    }
    assert!(
        help.contains("127.0.0.1:8080"),
        "default address documented"
    );
}

#[test]
fn invalid_configuration_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parlor.toml");
    std::fs::write(&file, "max_participants = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", file.to_str().unwrap()])
        .args(["--database-url", "mysql://nope"])
        .env("PARLOR_TOKEN_SECRET", "short")
        .env("PARLOR_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    for needle in ["max_participants", "database_url", "token_secret"] {
        assert!(err.contains(needle), "{needle} not reported: {err}");
    }

    std::fs::write(&file, "listen_address = \"0.0.0.0:1\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_address"));
}

/// Environment configures the server; it prints the URL to open, serves, and on SIGTERM
/// stops cleanly with exit status 0.
#[test]
fn starts_from_environment_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = parlor_testkit::free_port();
    let mut child = Command::new(BIN)
        .env("PARLOR_LISTEN", format!("127.0.0.1:{port}"))
        .env("PARLOR_DATA_DIR", dir.path())
        .env("PARLOR_LOG_FORMAT", "json")
        .env("PARLOR_MEDIA_PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}/")),
        "{line}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let ready = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/health/ready"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(ready.as_u16(), 200);
    assert!(
        dir.path().join("parlor.db").exists(),
        "SQLite created in the data dir"
    );
    assert!(
        dir.path().join("token_secret").exists(),
        "secret kept in the data dir"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    let first = logs.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "JSON logs: {first}"
    );
    assert!(logs.contains("stopped"));
}
