//! The hub's side of multi-node fan-out: [`Relay`] takes every event the hub delivers, queues
//! it ONCE for this node's Redis publisher, and orders `message:receive` frames per channel
//! before they reach local outboxes, whether they were committed here or on another node.
//!
//! Invariant kept: within one channel, each connection gets `message:receive` in ascending
//! `seq` without duplicates. Frames go through per-channel lanes ([`super::order`]) striped over
//! std mutexes; a lane's mutex is held while its frames are queued into outboxes (non-blocking
//! `try_send`s, never an `.await`), so two sources (the local commit hook and the subscriber
//! task) cannot interleave one channel. Lock order: stripe, then the registry.
//!
//! When a lane has to skip a gap (a publisher died between commit and publish) or an event
//! arrives after its place went by, the channel's local connections are closed with
//! [`RESYNC`] (1012 `resync`): clients reconnect and replay the gap with `sync`. While the
//! subscription is down, ordering is off (local events go straight out) and on every
//! (re)subscription the node closes all its connections with [`RESYNC`], because they may
//! have missed remote events. See `docs/operations.md`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::ledger::Ledger;
pub use super::ledger::RelayStats;
use super::order::{LaneLimits, Lanes};
use super::wire::{self, Action};
use super::{CloseReason, Frame, Hub, SERVER_RESTART, SESSION_REVOKED};

/// Closing because this node may have missed events of the connection's channels: reconnect
/// and `sync` (same code as a restart, so every client already reconnects on it).
pub const RESYNC: CloseReason = CloseReason { code: 1012, reason: "resync" };
/// How long a gap in a channel's `seq` is waited on before the frames behind it go out.
pub const REORDER_WAIT: Duration = Duration::from_millis(250);
/// Events waiting for the publisher; when full, further events count as lost.
pub const QUEUE_CAPACITY: usize = 8192;
/// Lanes are kept this long after their last message.
pub const LANE_IDLE: Duration = Duration::from_secs(30 * 60);
/// Number of lane stripes (each a mutex and its [`Lanes`]).
const STRIPES: usize = 64;
/// Bounds per stripe: 64 × 1024 lanes and 64 × 1024 held frames per node at most.
const LIMITS: LaneLimits = LaneLimits { wait: REORDER_WAIT, max_lanes: 1024, max_held: 1024, max_held_per_lane: 256 };

/// Redis as `GET /api/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisStatus {
    /// Not configured: a single node.
    Off,
    /// Publisher connected and subscription live.
    Ok,
    /// Configured, but the publisher or the subscription is down (reconnecting).
    Down,
}

impl RedisStatus {
    /// `"off"`, `"ok"` or `"down"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Ok => "ok",
            Self::Down => "down",
        }
    }
}

/// One encoded envelope waiting for the publisher.
pub struct Outgoing {
    /// The Redis message ([`wire::encode`]).
    pub payload: Vec<u8>,
    /// The channel it concerns; `None` when a loss would affect arbitrary connections.
    pub channel: Option<Uuid>,
}

/// One stripe: its lanes, and whether ordering is on (the subscription is live).
struct Stripe {
    lanes: Lanes,
    ordered: bool,
}

/// Shared between the hub (publish, order) and the bridge tasks (publisher, subscriber).
pub struct Relay {
    node: Uuid,
    queue: mpsc::Sender<Outgoing>,
    stripes: Box<[Mutex<Stripe>]>,
    subscribed: AtomicBool,
    publishing: AtomicBool,
    ledger: Ledger,
    /// The publisher's live connection, for commands (std lock: held to clone or replace).
    commands: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Relay {
    /// A relay for node `node` and the receiving end of its publish queue.
    pub fn new(node: Uuid) -> (Arc<Self>, mpsc::Receiver<Outgoing>) {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        let stripes = (0..STRIPES).map(|_| Mutex::new(Stripe { lanes: Lanes::new(LIMITS), ordered: false })).collect();
        let relay = Relay {
            node,
            queue,
            stripes,
            subscribed: AtomicBool::new(false),
            publishing: AtomicBool::new(false),
            ledger: Ledger::default(),
            commands: Mutex::new(None),
        };
        (Arc::new(relay), rx)
    }

    /// This node's id (envelopes carry it; a node ignores its own).
    pub fn node(&self) -> Uuid {
        self.node
    }

    /// `Ok` when both connections are up, else `Down`.
    pub fn status(&self) -> RedisStatus {
        let up = self.subscribed.load(Ordering::Acquire) && self.publishing.load(Ordering::Acquire);
        if up {
            RedisStatus::Ok
        } else {
            RedisStatus::Down
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> RelayStats {
        self.ledger.stats()
    }

    /// Queues `action` with `frame` for the other nodes, without waiting; a full queue
    /// records the loss (announced with a `resync` once the publisher catches up).
    pub fn send(&self, action: &Action, frame: &str) {
        let channel = match action {
            Action::Message { channel, .. } | Action::Channel { channel } => Some(*channel),
            _ => None,
        };
        let payload = wire::encode(self.node, action, frame);
        if self.queue.try_send(Outgoing { payload, channel }).is_err() {
            self.ledger.lost(channel);
        }
    }

    /// Delivers `frame` to `channel`'s local subscribers: at once without a `seq`, else in
    /// `seq` order (see the module docs). Returns how many outboxes took frames now.
    pub fn order(&self, hub: &Hub, channel: Uuid, seq: Option<i64>, frame: Frame) -> usize {
        let Some(seq) = seq else { return hub.deliver(channel, &frame) };
        let mut stripe = self.stripe(channel);
        if !stripe.ordered {
            return hub.deliver(channel, &frame);
        }
        let mut taken = 0;
        let missed =
            stripe.lanes.offer(channel, seq, frame, Instant::now(), &mut |f| taken += hub.deliver(channel, &f));
        if missed {
            self.resync_channel(hub, channel, "a message arrived after its place went by, or the lane overflowed");
        }
        taken
    }

    /// Runs `f` with the last `seq` this node delivered in `channel` (when known), holding the
    /// channel's stripe so that no delivery to it interleaves.
    pub fn at_position<R>(&self, channel: Uuid, f: impl FnOnce(Option<i64>) -> R) -> R {
        let stripe = self.stripe(channel);
        let delivered = if stripe.ordered { stripe.lanes.delivered(channel) } else { None };
        f(delivered)
    }

    /// Handles one Redis message: skipped when it is this node's own or unreadable.
    pub fn receive(&self, hub: &Hub, payload: Bytes) {
        match wire::decode(payload) {
            Ok((node, _, _)) if node == self.node => {}
            Ok((_, action, frame)) => {
                self.ledger.received();
                hub.deliver_remote(action, frame);
            }
            Err(e) => tracing::warn!(error = %e, "skipped an unreadable Redis event"),
        }
    }

    /// Another node lost events: forget the channels' positions (the next arrival starts an
    /// unsure lane) and close their local subscribers with [`RESYNC`]; all when `None`.
    pub fn resync(&self, hub: &Hub, channels: Option<Vec<Uuid>>) {
        match channels {
            None => self.reset(hub, true),
            Some(channels) => {
                for channel in channels {
                    let mut stripe = self.stripe(channel);
                    stripe.lanes.forget(channel, &mut |c, f| {
                        hub.deliver(c, &f);
                    });
                    self.resync_channel(hub, channel, "another node could not publish some events");
                }
            }
        }
    }

    /// Flushes lanes whose wait is over; drops idle lanes when `evict` is set.
    pub fn tick(&self, hub: &Hub, evict: bool) {
        let now = Instant::now();
        for stripe in self.stripes.iter() {
            let mut stripe = stripe.lock().unwrap_or_else(PoisonError::into_inner);
            let mut missed = Vec::new();
            stripe.lanes.expire(now, &mut |c, f| _ = hub.deliver(c, &f), &mut |c| missed.push(c));
            for channel in missed {
                self.resync_channel(hub, channel, "a gap in seq stayed open");
            }
            if evict {
                stripe.lanes.evict_idle(now, LANE_IDLE);
            }
        }
    }

    /// The subscription is live: order from scratch, and close every connection with
    /// [`RESYNC`] (they may have missed events while it was down).
    pub fn on_subscribed(&self, hub: &Hub) {
        self.subscribed.store(true, Ordering::Release);
        self.reset(hub, true);
    }

    /// The subscription dropped: deliver what lanes hold and stop ordering until it is back.
    pub fn on_unsubscribed(&self, hub: &Hub) {
        self.subscribed.store(false, Ordering::Release);
        self.reset(hub, false);
    }

    /// Whether the publisher connection is up.
    pub fn set_publishing(&self, up: bool) {
        self.publishing.store(up, Ordering::Release);
    }

    /// The publisher's connection while up, for commands (presence leases); else `None`.
    pub fn commands(&self) -> Option<redis::aio::MultiplexedConnection> {
        self.commands.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Publishes (or, with `None`, withdraws) the connection [`Relay::commands`] hands out.
    pub fn set_commands(&self, conn: Option<redis::aio::MultiplexedConnection>) {
        *self.commands.lock().unwrap_or_else(PoisonError::into_inner) = conn;
    }

    /// Counts `n` envelopes as published.
    pub fn count_published(&self, n: usize) {
        self.ledger.published(n);
    }

    /// Records an envelope that could not be published (`None`: not tied to one channel).
    pub fn mark_lost(&self, channel: Option<Uuid>) {
        self.ledger.lost(channel);
    }

    /// The `resync` envelope announcing the losses recorded so far, if any (and forgets them).
    pub fn take_lost(&self) -> Option<Vec<u8>> {
        self.ledger.take_lost(self.node)
    }

    /// Delivers everything held, resets every lane, sets ordering to `ordered`; closes every
    /// connection with [`RESYNC`] when `ordered` (the node just (re)joined the event stream).
    fn reset(&self, hub: &Hub, ordered: bool) {
        for stripe in self.stripes.iter() {
            let mut stripe = stripe.lock().unwrap_or_else(PoisonError::into_inner);
            stripe.lanes.drain(&mut |c, f| _ = hub.deliver(c, &f));
            stripe.ordered = ordered;
        }
        if ordered && hub.connection_count() > 0 {
            self.ledger.resynced();
            hub.close_all(RESYNC);
        }
    }

    /// Panics if any stripe's lanes are inconsistent (tests).
    pub fn check_invariants(&self) {
        for stripe in self.stripes.iter() {
            stripe.lock().unwrap_or_else(PoisonError::into_inner).lanes.check_invariants();
        }
    }

    fn resync_channel(&self, hub: &Hub, channel: Uuid, why: &'static str) {
        self.ledger.resynced();
        tracing::info!(%channel, why, "closing the channel's local connections so they resume with sync");
        hub.close_channel(channel, RESYNC);
    }

    fn stripe(&self, channel: Uuid) -> MutexGuard<'_, Stripe> {
        let (high, low) = channel.as_u64_pair();
        self.stripes[((high ^ low) % STRIPES as u64) as usize].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The [`CloseReason`] a remote close names: a known constant, or `code` with no reason.
pub fn close_reason(code: u16, reason: &str) -> CloseReason {
    [SESSION_REVOKED, SERVER_RESTART, RESYNC]
        .into_iter()
        .find(|known| known.code == code && known.reason == reason)
        .unwrap_or(CloseReason { code, reason: "" })
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
