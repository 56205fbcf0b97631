//! A `parlor-server` running inside the test process, on free loopback ports, with SQLite in
//! a temporary directory.

use parlor_server::config::{Config, Seconds};
use std::time::Duration;

pub struct Server {
    pub url: String,
    /// Where it listens, and the settings it runs with.
    pub addr: std::net::SocketAddr,
    pub config: Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _data: tempfile::TempDir,
}

pub async fn server_with(adjust: impl FnOnce(&mut Config)) -> Server {
    let data = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: data.path().to_owned(),
        media_port: 0,
        reconnect_grace: Seconds(Duration::from_secs(2)),
        ..Config::default()
    };
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let url = format!("http://{addr}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(parlor_server::run(config.clone(), listener, async {
        let _ = stopped.await;
    }));
    Server {
        url,
        addr,
        config,
        stop: Some(stop),
        _data: data,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A program of this workspace, built beside the running test (`cargo test --workspace`
/// builds every one).
pub fn program(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .map(|dir| dir.join(name))
        .expect("the build directory");
    assert!(
        bin.exists(),
        "{} is missing: build it (cargo build --bin {name}) or test the workspace",
        bin.display()
    );
    bin
}

/// Runs `parlor-server --drain node` against the cluster in `redis`; how it ended.
pub async fn drain(redis: &crate::RedisServer, node: &str) -> std::process::Output {
    tokio::process::Command::new(program("parlor-server"))
        .args(["--drain", node, "--redis-url", &redis.url()])
        .output()
        .await
        .expect("parlor-server runs")
}

/// The token secret every node of a test cluster shares.
pub const CLUSTER_SECRET: &str = "a shared token secret for every node of this cluster";

/// A `parlor-server` process, one node of a cluster on loopback sharing `redis` and
/// `database`; killed (SIGKILL, as a crash) when dropped.
pub struct NodeProcess {
    child: std::process::Child,
    pub url: String,
}

impl NodeProcess {
    /// Starts node `id`, with `extra` arguments after the usual ones.
    pub fn start(
        id: &str,
        redis: &str,
        database: &str,
        data: &std::path::Path,
        extra: &[&str],
    ) -> Self {
        let port = crate::free_port();
        let child = std::process::Command::new(program("parlor-server"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--node-id", id])
            .args(["--redis-url", redis, "--database-url", database])
            .args(["--token-secret", CLUSTER_SECRET])
            .args(["--media-port", "0", "--media-bind", "127.0.0.1"])
            .arg("--data-dir")
            .arg(data.join(id))
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("parlor-server starts");
        crate::watchdog(&format!("kill -9 {} 2>/dev/null", child.id()));
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Sends SIGTERM, as an orchestrator stopping it would.
    pub fn terminate(&self) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM to parlor-server");
    }

    /// Waits, at most `within`, for it to end by itself; how it ended, `None` if it has not.
    pub async fn exited(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("its status") {
                return Some(status);
            }
            if std::time::Instant::now() > until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills it as a crash would: no goodbye to anyone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two `parlor-server` processes, `node-a` and `node-b`, sharing a Redis, a fresh PostgreSQL
/// database and a token secret, once both have registered; with the directory their data
/// lives in.
pub async fn two_nodes(redis: &crate::RedisServer) -> ([NodeProcess; 2], tempfile::TempDir) {
    two_nodes_with(redis, &[]).await
}

/// [`two_nodes`], each started with the `extra` arguments.
pub async fn two_nodes_with(
    redis: &crate::RedisServer,
    extra: &[&str],
) -> ([NodeProcess; 2], tempfile::TempDir) {
    let database = crate::Postgres::shared().create_database();
    let data = tempfile::tempdir().expect("a temporary directory");
    let nodes = ["node-a", "node-b"]
        .map(|id| NodeProcess::start(id, &redis.url(), &database, data.path(), extra));
    crate::eventually("both nodes registered", || async {
        redis.cli(&["EXISTS", "parlor:node:node-a", "parlor:node:node-b"]) == "2"
    })
    .await;
    (nodes, data)
}
