//! Prometheus metrics, one registry per server instance (so servers embedded side by side in
//! one process — tests, the desktop app — keep separate counts).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub connections: IntGauge,
    pub rooms: IntGauge,
    pub participants: IntGauge,
    pub messages_in: IntCounterVec,
    pub messages_out: IntCounterVec,
    pub errors: IntCounterVec,
    pub http_duration: HistogramVec,
    /// Messages on the cluster bus, by direction (`in`, `out`) and kind.
    pub bus_messages: IntCounterVec,
    /// Bytes on the cluster bus, by direction.
    pub bus_bytes: IntCounterVec,
    /// Messages that could not be put on the bus (Redis away).
    pub bus_failures: prometheus::IntCounter,
    /// Sessions here whose meeting runs on another node, and participants of rooms here whose
    /// socket is on another node.
    pub relayed: prometheus::IntGaugeVec,
    /// 1 while the cluster's Redis answers.
    pub redis_up: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("parlor".into()), None).expect(VALID);
        let connections =
            IntGauge::new("ws_connections", "Open signaling WebSocket connections").expect(VALID);
        let rooms =
            IntGauge::new("rooms_active", "Meetings with a live room on this node").expect(VALID);
        let participants = IntGauge::new(
            "participants",
            "Participants in live rooms, connected or reconnecting",
        )
        .expect(VALID);
        let messages_in = IntCounterVec::new(
            Opts::new(
                "signal_messages_in_total",
                "Signaling messages received, by type",
            ),
            &["type"],
        )
        .expect(VALID);
        let messages_out = IntCounterVec::new(
            Opts::new(
                "signal_messages_out_total",
                "Signaling messages sent, by type",
            ),
            &["type"],
        )
        .expect(VALID);
        let errors = IntCounterVec::new(
            Opts::new(
                "errors_total",
                "Errors answered over HTTP or signaling, by code",
            ),
            &["code"],
        )
        .expect(VALID);
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &["method", "route", "status"],
        )
        .expect(VALID);
        let bus_messages = IntCounterVec::new(
            Opts::new(
                "cluster_bus_messages_total",
                "Messages between nodes over the cluster bus, by direction and kind",
            ),
            &["direction", "kind"],
        )
        .expect(VALID);
        let bus_bytes = IntCounterVec::new(
            Opts::new(
                "cluster_bus_bytes_total",
                "Bytes between nodes over the cluster bus, by direction",
            ),
            &["direction"],
        )
        .expect(VALID);
        let bus_failures = prometheus::IntCounter::new(
            "cluster_bus_failures_total",
            "Messages for another node that could not be sent",
        )
        .expect(VALID);
        let relayed = prometheus::IntGaugeVec::new(
            Opts::new(
                "cluster_relayed",
                "Signaling relayed between nodes: sessions here in rooms elsewhere (socket), \
                 participants of rooms here on sockets elsewhere (room)",
            ),
            &["side"],
        )
        .expect(VALID);
        let redis_up = IntGauge::new(
            "cluster_redis_up",
            "1 while the cluster's Redis answers (0 too on a node without one)",
        )
        .expect(VALID);
        for c in [
            Box::new(connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(bus_messages.clone()),
            Box::new(bus_bytes.clone()),
            Box::new(bus_failures.clone()),
            Box::new(relayed.clone()),
            Box::new(redis_up.clone()),
            Box::new(rooms.clone()),
            Box::new(participants.clone()),
            Box::new(messages_in.clone()),
            Box::new(messages_out.clone()),
            Box::new(errors.clone()),
            Box::new(http_duration.clone()),
        ] {
            // Names are distinct constants, so registration cannot collide.
            let _ = registry.register(c);
        }
        Self {
            registry,
            connections,
            rooms,
            participants,
            messages_in,
            messages_out,
            errors,
            http_duration,
            bus_messages,
            bus_bytes,
            bus_failures,
            relayed,
            redis_up,
        }
    }

    /// Counts one message crossing the cluster bus.
    pub fn bus(&self, direction: &str, kind: &str, bytes: usize) {
        self.bus_messages
            .with_label_values(&[direction, kind])
            .inc();
        self.bus_bytes
            .with_label_values(&[direction])
            .inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    pub fn error(&self, code: parlor_protocol::ErrorCode) {
        self.errors.with_label_values(&[code.as_str()]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Metric constructors only fail on invalid names or label sets, which are constants here.
const VALID: &str = "metric definitions are valid constants";
