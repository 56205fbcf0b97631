//! `parlor-server`: accounts, meetings and authenticated signaling in one process.
//!
//! Layers follow the data: [`api`] (HTTP routes) → [`signal`] (one WebSocket session) →
//! [`room`] (live meetings: participants, chat, host controls, lifecycle; no sockets) — with
//! [`store`] for SQL, [`auth`] for tokens and passwords, and [`config`] for settings.
//!
//! The binary only parses its command line and calls [`run`]; tests bind port 0 and call the
//! same function, and the desktop app embeds it the same way.

pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod lan;
pub mod metrics;
pub mod room;
pub mod sfu;
pub mod signal;
pub mod state;
pub mod store;
pub mod util;

use config::Config;
use state::AppState;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long shutdown waits for sessions to say goodbye.
const SESSION_DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Dependency(String),
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
}

/// Opens storage, loads or creates the token secret, and builds the shared state.
pub async fn prepare(config: Config) -> Result<AppState, ServerError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let secret = match &config.token_secret {
        Some(s) => s.clone().into_bytes(),
        None => load_or_create_secret(&config.data_dir)?,
    };
    let store = store::Store::connect(&config.effective_database_url()).await?;
    // Alone, this process owns every open stay; with Redis other nodes may own some.
    if config.redis_url.is_none() {
        let closed = store.close_open_stays(None, util::now_ms()).await?;
        if closed > 0 {
            tracing::info!(
                closed,
                "closed participant stays left open by an earlier run"
            );
        }
    }
    let sfu = sfu::Sfu::start(&config.sfu()).map_err(|e| ServerError::Dependency(e.to_string()))?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let node_id = config
        .node_id
        .clone()
        .unwrap_or_else(|| util::random_token(10));
    let (cluster, inbox) = join_cluster(&config, node_id, &shutdown)?;
    let tokens = auth::TokenService::new(&secret, config.token_ttl.0);
    let dummy_hash = auth::password::hash_blocking(util::random_token(24))
        .await
        .map_err(|e| ServerError::Dependency(e.to_string()))?;
    let state = AppState::new(state::Parts {
        config,
        store,
        tokens,
        metrics: metrics::Metrics::new(),
        cluster,
        sfu: std::sync::Arc::new(sfu),
        dummy_hash,
        shutdown,
    });
    tokio::spawn(adopt_orphans(state.clone()));
    // Alone, nobody reads the load or the bus.
    if let Some(inbox) = inbox {
        tokio::spawn(state.rooms.remote.clone().run(
            state.rooms.clone(),
            inbox,
            state.draining.clone(),
        ));
        tokio::spawn(report_load(state.clone()));
    }
    Ok(state)
}

/// Alone without Redis; with it, a node of the cluster whose messages arrive in the inbox.
fn join_cluster(
    config: &Config,
    node_id: cluster::NodeId,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<(std::sync::Arc<dyn cluster::Cluster>, Option<cluster::Inbox>), ServerError> {
    match &config.redis_url {
        None => Ok((std::sync::Arc::new(cluster::Alone::new(node_id)), None)),
        #[cfg(feature = "redis")]
        Some(url) => {
            let (cluster, inbox) =
                cluster::redis::RedisCluster::start(url, node_id.clone(), stop.child_token())
                    .map_err(ServerError::Dependency)?;
            tracing::info!(node = %node_id, "joining the cluster through Redis");
            Ok((cluster, Some(inbox)))
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => {
            let _ = stop;
            Err(ServerError::Dependency(
                "this build has no Redis support".into(),
            ))
        }
    }
}

/// Every third of the reconnect grace (at least each second, at most every 20 s), and once at
/// start: records that this node's rooms run, and opens here the rooms of meetings under way
/// that no node has run for a grace and no live node holds, so they end if nobody comes back
/// (see [`room::Rooms::adopt_orphans`]).
async fn adopt_orphans(state: AppState) {
    let grace = state.config.reconnect_grace.0;
    let every = (grace / 3).clamp(Duration::from_secs(1), Duration::from_secs(20));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.draining.cancelled() => break,
            () = state.shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = util::now_ms();
        if let Err(e) = state.rooms.mark_seen(now).await {
            tracing::debug!(error = %e, "recording that this node's rooms run");
        }
        let since = now.saturating_sub(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
        match state.rooms.adopt_orphans(since).await {
            Ok(0) => {}
            Ok(opened) => tracing::info!(opened, "opened rooms for meetings nobody's server ran"),
            Err(e) => tracing::debug!(error = %e, "looking for meetings without a room"),
        }
    }
}

/// Tells the cluster, once a second, how loaded this node is and whether it takes new rooms.
async fn report_load(state: AppState) {
    let media = state
        .sfu
        .addresses()
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut cpu = util::CpuMeter::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while !state.shutdown.is_cancelled() {
        tick.tick().await;
        let rooms = state.rooms.live_rooms();
        let load = cluster::NodeLoad {
            media: media.clone(),
            rooms: u32::try_from(rooms.len()).unwrap_or(u32::MAX),
            participants: u32::try_from(state.metrics.participants.get()).unwrap_or(0),
            cpu: cpu.percent(),
            accepting: !state.draining.is_cancelled()
                && state.config.max_rooms.is_none_or(|most| rooms.len() < most),
            max_rooms: state
                .config
                .max_rooms
                .map(|most| u32::try_from(most).unwrap_or(u32::MAX)),
        };
        state.cluster.set_load(load, rooms);
        for code in state.cluster.lost_rooms() {
            state.rooms.lost(&code).await;
        }
    }
    let stopping = cluster::NodeLoad {
        media,
        accepting: false,
        ..Default::default()
    };
    state.cluster.set_load(stopping, Vec::new());
}

/// Serves until `shutdown` completes, then stops gracefully: rooms tell their participants
/// `server_shutdown` and record their leaving, sessions close, storage is flushed.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = prepare(config).await?;
    serve(state, listener, shutdown).await
}

/// [`run`] with state already prepared (the desktop app keeps a handle to it).
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let app = api::router(state.clone());
    let stopping = state.clone();
    let tls = if state.config.lan {
        let certificate = lan::LanCertificate::load_or_create(
            &state.config.data_dir,
            &state.config.lan_addresses(),
        )
        .and_then(|c| c.acceptor())
        .map_err(|source| ServerError::DataDir {
            path: state.config.data_dir.clone(),
            source,
        })?;
        Some(certificate)
    } else {
        None
    };
    let listener = lan::ServeListener::new(listener, tls).map_err(ServerError::Serve)?;
    axum::serve(
        axum::serve::ListenerExt::tap_io(listener, |conn| conn.set_nodelay()),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        tokio::select! {
            () = shutdown => {}
            () = stopping.draining.cancelled() => {}
        }
        tracing::info!("shutting down");
        stopping.draining.cancel();
        // Withdrawn first, so the meetings about to move are not placed back here.
        stopping.cluster.withdraw().await;
        stopping.rooms.shutdown_all().await;
        stopping.shutdown.cancel();
        stopping.tracker.close();
        if tokio::time::timeout(SESSION_DRAIN, stopping.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sessions did not close in time");
        }
    })
    .await
    .map_err(ServerError::Serve)?;
    state.sfu.shutdown();
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// How long `parlor-server --drain` waits for the node to leave.
pub const DRAIN_WAIT: Duration = Duration::from_secs(60);

/// `parlor-server --drain NODE`: asks the cluster's node `node` to drain (take no new rooms,
/// move its participants to other nodes, stop) and waits until it has left the registry,
/// telling `progress` its rooms and participants as they change. The time it took to leave.
pub async fn drain(
    config: &Config,
    node: &str,
    mut progress: impl FnMut(&str),
) -> Result<Duration, ServerError> {
    let Some(url) = &config.redis_url else {
        return Err(ServerError::Dependency(
            "--drain needs the cluster's Redis (--redis-url or PARLOR_REDIS_URL)".into(),
        ));
    };
    #[cfg(feature = "redis")]
    {
        use cluster::Cluster;
        let me = format!("drain-{}", util::random_token(6));
        let cluster =
            cluster::redis::RedisCluster::observer(url, me).map_err(ServerError::Dependency)?;
        let failed = |e: cluster::ClusterError| ServerError::Dependency(e.to_string());
        let nodes = cluster.nodes().await.map_err(failed)?;
        let Some(target) = nodes.iter().find(|n| n.id == node) else {
            let up: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
            return Err(ServerError::Dependency(format!(
                "no node {node} is up (up: {})",
                if up.is_empty() {
                    "none".to_owned()
                } else {
                    up.join(", ")
                }
            )));
        };
        let describe = |load: &cluster::NodeLoad| {
            let plural = |n: u32| if n == 1 { "" } else { "s" };
            format!(
                "{node}: {} room{}, {} participant{}{}",
                load.rooms,
                plural(load.rooms),
                load.participants,
                plural(load.participants),
                if load.accepting {
                    ""
                } else {
                    ", taking no new meetings"
                }
            )
        };
        let mut last = describe(&target.load);
        progress(&last);
        room::remote::ask_to_drain(&cluster, node)
            .await
            .map_err(failed)?;
        let asked = tokio::time::Instant::now();
        while asked.elapsed() < DRAIN_WAIT {
            tokio::time::sleep(Duration::from_millis(200)).await;
            // Redis may blink meanwhile: keep asking until the time is up.
            let Ok(nodes) = cluster.nodes().await else {
                continue;
            };
            match nodes.iter().find(|n| n.id == node) {
                None => return Ok(asked.elapsed()),
                Some(n) => {
                    let now = describe(&n.load);
                    if now != last {
                        progress(&now);
                        last = now;
                    }
                }
            }
        }
        Err(ServerError::Dependency(format!(
            "{node} was asked to drain but is still up after {} s",
            DRAIN_WAIT.as_secs()
        )))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (url, node, &mut progress);
        Err(ServerError::Dependency(
            "this build has no Redis support".into(),
        ))
    }
}

/// The token secret kept in the data directory, created (readable by its owner only) on
/// first start.
fn load_or_create_secret(dir: &Path) -> Result<Vec<u8>, ServerError> {
    let path = dir.join("token_secret");
    util::kept_secret(&path, 32, 64)
        .map(String::into_bytes)
        .map_err(|source| ServerError::DataDir { path, source })
}
