//! Where the state that ties nodes together lives: which nodes are up and how loaded they are,
//! which node hosts each live meeting's room, and a bus for signaling between the node a
//! client's WebSocket landed on and the node that hosts its room.
//!
//! One interface, [`Cluster`], two implementations: [`Alone`] (in-process, the default: this
//! node hosts every room and there is no one to talk to) and, with `--redis-url`, Redis
//! ([`redis::RedisCluster`]). Redis holds node ids, addresses, load figures, meeting codes and
//! who is in each meeting as random participant ids; no names, accounts or messages are stored
//! there (signaling only passes through its pub/sub).

#[cfg(feature = "redis")]
pub mod redis;

use futures_util::future::BoxFuture;
use parlor_protocol::{MeetingCode, ParticipantId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A node's id: random per process unless configured.
pub type NodeId = String;

/// What a node says about itself in the registry, refreshed with every heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeLoad {
    /// Where clients reach its media (its public IP and media port).
    pub media: String,
    pub rooms: u32,
    pub participants: u32,
    /// CPU use of the process over the last heartbeat, in % of one core.
    pub cpu: f32,
    /// False when at its limits or draining: it takes no new rooms.
    pub accepting: bool,
    /// The most rooms it runs (`--max-rooms`). Placing a room on it counts the room in its
    /// entry at once, so rooms placed between two heartbeats cannot take it past this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rooms: Option<u32>,
}

/// Who is in a live meeting now, by participant id only (no names): those with a connection,
/// and those whose connection dropped and who may still resume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Presence {
    pub connected: Vec<ParticipantId>,
    pub reconnecting: Vec<ParticipantId>,
}

impl Presence {
    pub fn count(&self) -> usize {
        self.connected.len() + self.reconnecting.len()
    }
}

/// A room this node runs, with who is in it.
pub type LiveRoom = (MeetingCode, Presence);

/// A node and its load, as the registry has it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: NodeId,
    pub load: NodeLoad,
}

#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The shared state cannot be reached; what is running goes on, new rooms wait.
    #[error("the cluster's shared state is unreachable: {0}")]
    Unavailable(String),
    /// Every node is at its limits or draining.
    #[error("no node is taking new meetings")]
    Full,
    #[error("no node {0} is up")]
    NoSuchNode(NodeId),
}

/// The coordination every node needs. Implementations are cheap to share (`Arc`).
pub trait Cluster: Send + Sync + 'static {
    fn node_id(&self) -> &str;

    /// The node that hosts `code`'s room: the one holding it if that node is up, otherwise
    /// the least loaded node taking rooms, claimed atomically so two nodes never both host it.
    fn place<'a>(&'a self, code: &'a MeetingCode) -> BoxFuture<'a, Result<NodeId, ClusterError>>;

    /// The node hosting `code`'s room, if one that is up does.
    fn holder<'a>(
        &'a self,
        code: &'a MeetingCode,
    ) -> BoxFuture<'a, Result<Option<NodeId>, ClusterError>>;

    /// This node's room for `code` has closed; another node may host the meeting next time.
    fn release<'a>(&'a self, code: &'a MeetingCode) -> BoxFuture<'a, ()>;

    /// Takes `code`'s room for this node unless a live node runs it already: true when this
    /// node holds it now. For a meeting whose room was lost and that nobody rejoined.
    fn adopt<'a>(&'a self, code: &'a MeetingCode) -> BoxFuture<'a, Result<bool, ClusterError>>;

    /// Rooms running here that another node holds now, found since the last call: this node
    /// was counted gone meanwhile. Their participants should move there.
    fn lost_rooms(&self) -> Vec<MeetingCode>;

    /// Those of `codes` whose room no live node holds, asked for all at once.
    fn unheld(
        &self,
        codes: Vec<MeetingCode>,
    ) -> BoxFuture<'_, Result<Vec<MeetingCode>, ClusterError>>;

    /// What this node reports about itself from now on, and the rooms it hosts with who is in
    /// them (claimed again should the shared state have lost them, as when Redis restarts).
    fn set_load(&self, load: NodeLoad, rooms: Vec<LiveRoom>);

    /// Who is in `code`'s meeting, as its room's node last reported (empty when no node runs
    /// it). Alone, rooms answer this themselves.
    fn presence<'a>(
        &'a self,
        code: &'a MeetingCode,
    ) -> BoxFuture<'a, Result<Presence, ClusterError>>;

    /// This node takes no new rooms from now on (it is stopping) and claims none of its rooms
    /// again: the registry says so before this returns, so rooms moving off this node are not
    /// placed back on it.
    fn withdraw(&self) -> BoxFuture<'_, ()>;

    /// The nodes that are up, this one included.
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<Node>, ClusterError>>;

    /// Sends a message to another node's bus.
    fn send<'a>(
        &'a self,
        to: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), ClusterError>>;

    /// Whether the shared state can be reached now (for `/health/ready`).
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;

    /// Whether this node has been told it is healthy by the shared state lately; while false,
    /// new rooms are refused but what runs goes on.
    fn connected(&self) -> bool;
}

/// One node on its own: it hosts every room and has no one to send to.
pub struct Alone {
    id: NodeId,
}

impl Alone {
    pub fn new(id: NodeId) -> Self {
        Self { id }
    }
}

impl Cluster for Alone {
    fn node_id(&self) -> &str {
        &self.id
    }

    fn place<'a>(&'a self, _code: &'a MeetingCode) -> BoxFuture<'a, Result<NodeId, ClusterError>> {
        Box::pin(async move { Ok(self.id.clone()) })
    }

    fn holder<'a>(
        &'a self,
        _code: &'a MeetingCode,
    ) -> BoxFuture<'a, Result<Option<NodeId>, ClusterError>> {
        // Alone, a live room is this node's own, and is found among its rooms.
        Box::pin(async { Ok(None) })
    }

    fn release<'a>(&'a self, _code: &'a MeetingCode) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    fn adopt<'a>(&'a self, _code: &'a MeetingCode) -> BoxFuture<'a, Result<bool, ClusterError>> {
        Box::pin(async { Ok(true) })
    }

    fn lost_rooms(&self) -> Vec<MeetingCode> {
        Vec::new()
    }

    fn unheld(
        &self,
        codes: Vec<MeetingCode>,
    ) -> BoxFuture<'_, Result<Vec<MeetingCode>, ClusterError>> {
        // Alone, a held room is a live one among this node's rooms, which the caller knows.
        Box::pin(async { Ok(codes) })
    }

    fn set_load(&self, _load: NodeLoad, _rooms: Vec<LiveRoom>) {}

    fn presence<'a>(
        &'a self,
        _code: &'a MeetingCode,
    ) -> BoxFuture<'a, Result<Presence, ClusterError>> {
        Box::pin(async { Ok(Presence::default()) })
    }

    fn withdraw(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Vec<Node>, ClusterError>> {
        Box::pin(async move {
            Ok(vec![Node {
                id: self.id.clone(),
                load: NodeLoad::default(),
            }])
        })
    }

    fn send<'a>(
        &'a self,
        to: &'a str,
        _message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(async move { Err(ClusterError::NoSuchNode(to.to_owned())) })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn connected(&self) -> bool {
        true
    }
}

/// The least loaded of the nodes taking rooms: fewest participants, then fewest rooms, then
/// least CPU; ties go to the lower id so every node would choose alike.
pub fn least_loaded(nodes: &[Node]) -> Option<&Node> {
    nodes.iter().filter(|n| n.load.accepting).min_by(|a, b| {
        (a.load.participants, a.load.rooms)
            .cmp(&(b.load.participants, b.load.rooms))
            .then(a.load.cpu.total_cmp(&b.load.cpu))
            .then(a.id.cmp(&b.id))
    })
}

/// Messages for this node's bus arrive here.
pub type Inbox = mpsc::Receiver<Vec<u8>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, participants: u32, rooms: u32, accepting: bool) -> Node {
        Node {
            id: id.into(),
            load: NodeLoad {
                participants,
                rooms,
                accepting,
                ..NodeLoad::default()
            },
        }
    }

    #[test]
    fn rooms_go_to_the_least_loaded_node_taking_them() {
        let nodes = [
            node("a", 10, 2, true),
            node("b", 3, 1, true),
            node("c", 0, 0, false),
            node("d", 3, 0, true),
        ];
        assert_eq!(least_loaded(&nodes).map(|n| n.id.as_str()), Some("d"));
        assert!(least_loaded(&[node("x", 0, 0, false)]).is_none());
    }
}
