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
