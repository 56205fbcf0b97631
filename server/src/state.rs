//! What every request and session shares.

use crate::auth::TokenService;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::room::Rooms;
use crate::sfu::Sfu;
use crate::store::Store;
use std::ops::Deref;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub tokens: TokenService,
    pub rooms: Arc<Rooms>,
    pub metrics: Metrics,
    /// The nodes this one works with (only itself without Redis).
    pub cluster: Arc<dyn Cluster>,
    pub sfu: Arc<Sfu>,
    /// Cancelled when the server begins to stop; sessions say goodbye and close.
    pub shutdown: CancellationToken,
    /// Cancelled first, when the node is asked to leave (a signal, or `--drain` from anywhere
    /// in the cluster): it takes no new rooms and moves its participants to other nodes.
    pub draining: CancellationToken,
    /// Every signaling session, so shutdown can wait for them to finish.
    pub tracker: TaskTracker,
    /// A real argon2 hash to verify against when a login names an unknown email.
    pub dummy_hash: String,
}

/// What [`AppState`] is built from, made by [`crate::prepare`].
pub struct Parts {
    pub config: Config,
    pub store: Store,
    pub tokens: TokenService,
    pub metrics: Metrics,
    pub cluster: Arc<dyn Cluster>,
    pub sfu: Arc<Sfu>,
    pub dummy_hash: String,
    /// Cancelled when the server begins to stop.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(parts: Parts) -> Self {
        let Parts {
            config,
            store,
            tokens,
            metrics,
            cluster,
            sfu,
            dummy_hash,
            shutdown,
        } = parts;
        let draining = CancellationToken::new();
        let rooms = Rooms::new(crate::room::RoomContext {
            store: store.clone(),
            metrics: metrics.clone(),
            max_participants: config.max_participants,
            reconnect_grace: config.reconnect_grace.0,
            chat_history: config.chat_history,
            sfu: sfu.clone(),
            cluster: cluster.clone(),
            outbound_queue: config.outbound_queue,
            draining: draining.clone(),
        });
        Self(Arc::new(Inner {
            config,
            store,
            tokens,
            rooms: Arc::new(rooms),
            metrics,
            cluster,
            sfu,
            shutdown,
            draining,
            tracker: TaskTracker::new(),
            dummy_hash,
        }))
    }

    pub fn next_conn_id(&self) -> u64 {
        self.rooms.next_conn_id()
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
