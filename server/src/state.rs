//! What every request and session shares.

use crate::auth::TokenService;
use crate::config::Config;
use crate::deps::Redis;
use crate::metrics::Metrics;
use crate::room::Rooms;
use crate::sfu::Sfu;
use crate::store::Store;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub tokens: TokenService,
    pub rooms: Rooms,
    pub metrics: Metrics,
    pub redis: Option<Redis>,
    pub sfu: Arc<Sfu>,
    /// Cancelled when the server begins to stop; sessions say goodbye and close.
    pub shutdown: CancellationToken,
    /// Every signaling session, so shutdown can wait for them to finish.
    pub tracker: TaskTracker,
    /// A real argon2 hash to verify against when a login names an unknown email.
    pub dummy_hash: String,
    conn_ids: AtomicU64,
}

impl AppState {
    pub fn new(
        config: Config,
        store: Store,
        tokens: TokenService,
        metrics: Metrics,
        redis: Option<Redis>,
        dummy_hash: String,
        sfu: Arc<Sfu>,
    ) -> Self {
        let rooms = Rooms::new(crate::room::RoomContext {
            store: store.clone(),
            metrics: metrics.clone(),
            max_participants: config.max_participants,
            reconnect_grace: config.reconnect_grace.0,
            chat_history: config.chat_history,
            sfu: sfu.clone(),
        });
        Self(Arc::new(Inner {
            config,
            store,
            tokens,
            rooms,
            metrics,
            redis,
            sfu,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            dummy_hash,
            conn_ids: AtomicU64::new(1),
        }))
    }

    pub fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed)
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
