//! Shared set-up for the server's integration tests: a real `parlor-server` (the library's
//! `run`, on a free loopback port) over SQLite or a real PostgreSQL, plus REST helpers.
#![allow(dead_code)]

use parlor_server::config::{Config, Seconds};
use parlor_testkit::{Postgres, WsClient};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[allow(unused_imports)]
pub use parlor_testkit::{eventually, RedisServer};

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per storage backend for an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::common::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::common::Backend::Postgres).await } )*
        }
    };
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), parlor_server::ServerError>>>,
    _data: std::sync::Arc<tempfile::TempDir>,
    http: reqwest::Client,
}

/// Settings that keep tests quick: a short grace period and heartbeat.
pub fn test_config(backend: Backend, data: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data.to_owned(),
        database_url: match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Postgres::shared().create_database()),
        },
        reconnect_grace: Seconds(Duration::from_secs(2)),
        // Parallel test servers each take their own free media ports.
        media_port: 0,
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let data = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut config = test_config(backend, data.path());
        tweak(&mut config);
        Self::launch(config, data).await
    }

    async fn launch(config: Config, data: std::sync::Arc<tempfile::TempDir>) -> Self {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let run = parlor_server::run(config.clone(), listener, async {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            let result = run.await;
            if let Err(e) = &result {
                eprintln!("server failed: {e}");
            }
            result
        });
        let server = Self {
            addr,
            config,
            stop: Some(stop),
            task: Some(task),
            _data: data,
            http: reqwest::Client::new(),
        };
        eventually("server ready", || async {
            // A server that failed to start says why instead of timing out.
            if let Some(task) = server.task.as_ref().filter(|t| t.is_finished()) {
                panic!("server stopped during start-up (its error is printed above): {task:?}");
            }
            server
                .http
                .get(server.url("/health/live"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        server
    }

    /// Stops gracefully and waits until it has.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// Stops and starts again on the same data (a new port).
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().expect("addr");
        Self::launch(config, self._data.clone()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!("ws://{}/ws/signal?token={token}", self.addr)
    }

    pub async fn ws(&self, token: &str) -> WsClient {
        WsClient::connect(&self.ws_url(token)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        respond(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        respond(req).await
    }

    pub async fn guest(&self, name: &str) -> String {
        let (status, body) = self
            .post("/auth/token", None, json!({"displayName": name}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Registers an account and logs in; returns the token.
    pub async fn account(&self, name: &str) -> String {
        let email = format!("{}@example.test", name.to_lowercase());
        let (status, body) = self
            .post(
                "/api/users",
                None,
                json!({"email": email, "password": "correct horse", "name": name}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = self
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn meeting(&self, token: &str, title: &str) -> String {
        let (status, body) = self
            .post("/api/meetings", Some(token), json!({"title": title}))
            .await;
        assert_eq!(status, 201, "{body}");
        body["code"].as_str().expect("code").to_owned()
    }

    /// Connects and joins `code`; returns the client and its `joined` message.
    pub async fn join(&self, token: &str, code: &str) -> (WsClient, Value) {
        let mut ws = self.ws(token).await;
        ws.send(json!({"type": "join", "roomId": code})).await;
        let joined = ws.expect_next("joined").await;
        (ws, joined)
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn respond(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("http request");
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}
