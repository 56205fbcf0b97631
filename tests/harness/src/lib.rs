//! Parlor's test harness: real dependencies, started on free loopback ports.
//!
//! - [`Postgres`]: one throwaway PostgreSQL cluster per test process (`initdb` + `pg_ctl` in
//!   a temporary directory), with a fresh database per test.
//! - [`RedisServer`]: a `redis-server` per test, stopped on drop.
//! - [`WsClient`]: a real WebSocket client speaking JSON.
//! - [`server::server_with`]: a `parlor-server` inside the test process.
//!
//! Everything listens on 127.0.0.1 only. Servers that outlive a crashed test process are
//! stopped by a watchdog that waits for the process to exit.

pub mod http;
pub mod lossy;
pub mod media;
pub mod netns;
mod postgres;
mod redis;
pub mod server;
mod ws;

pub use postgres::Postgres;
pub use redis::RedisServer;
pub use ws::WsClient;

use std::net::TcpListener;
use std::time::Duration;

/// A generous limit for anything a test waits on; tests wait for events, never fixed sleeps.
pub const WAIT: Duration = Duration::from_secs(15);

/// Runs `test` to completion on a two-thread runtime, for tests that start in plain `#[test]`
/// functions (those that may first re-run themselves in a namespace).
pub fn block_on<F: std::future::Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test)
}

/// A port nobody is listening on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface can bind an ephemeral port")
}

/// Whether this process runs as root (then PostgreSQL must run as another user).
fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Stops `stop_cmd` (a shell command) once this test process has exited.
fn watchdog(stop_cmd: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop_cmd}",
        pid = std::process::id()
    );
    let _ = std::process::Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Polls `ready` until it holds or `WAIT` passes.
pub async fn eventually<F, Fut>(what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if ready().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
