//! Local fan-out: the hub owns every live connection's outbox and the channel subscriptions,
//! and delivers events to them.
//!
//! An event is encoded ONCE into shared bytes and the handle is cloned into each subscriber's
//! bounded outbox ([`conn::Outbox::offer`]); a subscriber whose outbox is full is closed as a
//! slow consumer and never holds anyone else up. The hub knows nothing about SQL or HTTP.

pub mod conn;
pub mod registry;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use banter_proto::ws::{encode, ServerEvent};
use uuid::Uuid;

pub use conn::{CloseReason, CloseSignal, Frame, Inbox, Offer, Outbox, OutboxLimits};
pub use registry::ConnId;
use registry::Registry;

/// Closing because the session was logged out.
pub const SESSION_REVOKED: CloseReason = CloseReason { code: 4001, reason: "session_revoked" };
/// Closing because the server is shutting down; clients reconnect.
pub const SERVER_RESTART: CloseReason = CloseReason { code: 1012, reason: "server_restart" };

/// Cheap-to-clone handle to the process's fan-out state.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: AtomicU64,
    /// std lock, not tokio's: every critical section is a few map operations and
    /// non-blocking `try_send`s; it is never held across an `.await`.
    registry: RwLock<Registry>,
}

/// Encodes an event as one shareable frame.
pub fn frame(id: Option<&str>, event: &ServerEvent) -> Frame {
    Frame::from(encode(id, event))
}

impl Hub {
    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        self.inner.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner.registry.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection of `user_id`/`session_id` with an outbox bounded by `limits`.
    /// The caller must [`Hub::disconnect`] it when the socket ends.
    pub fn connect(&self, user_id: Uuid, session_id: Uuid, limits: conn::OutboxLimits) -> (ConnId, Outbox, Inbox) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (outbox, inbox) = conn::outbox(limits);
        self.write().insert(id, user_id, session_id, outbox.clone());
        (id, outbox, inbox)
    }

    /// Forgets a connection and its subscriptions.
    pub fn disconnect(&self, id: ConnId) {
        self.write().remove(id);
    }

    /// Subscribes one connection to channels.
    pub fn subscribe(&self, id: ConnId, channels: impl IntoIterator<Item = Uuid>) {
        let mut registry = self.write();
        for channel in channels {
            registry.subscribe(id, channel);
        }
    }

    /// Subscribes every connection of `user_id` to `channel`, then sends them `event`.
    pub fn join(&self, user_id: Uuid, channel: Uuid, event: &ServerEvent) {
        let frame = frame(None, event);
        let mut registry = self.write();
        for id in registry.of_user(user_id).to_vec() {
            registry.subscribe(id, channel);
            if let Some(entry) = registry.get(id) {
                entry.outbox.offer(frame.clone());
            }
        }
    }

    /// Unsubscribes every connection of `user_id` from `channel`, then sends them `event`.
    pub fn leave(&self, user_id: Uuid, channel: Uuid, event: &ServerEvent) {
        let frame = frame(None, event);
        let mut registry = self.write();
        for id in registry.of_user(user_id).to_vec() {
            registry.unsubscribe(id, channel);
            if let Some(entry) = registry.get(id) {
                entry.outbox.offer(frame.clone());
            }
        }
    }

    /// Delivers `event` to every subscriber of `channel`, encoding it once. Returns how many
    /// outboxes took it.
    pub fn publish(&self, channel: Uuid, event: &ServerEvent) -> usize {
        let frame = frame(None, event);
        let registry = self.read();
        let subscribers = registry.subscribers(channel);
        subscribers.iter().filter(|(_, outbox)| outbox.offer(frame.clone()) == Offer::Queued).count()
    }

    /// Closes every connection of a session (e.g. on logout).
    pub fn close_session(&self, session_id: Uuid, reason: CloseReason) {
        let registry = self.read();
        for id in registry.of_session(session_id) {
            if let Some(entry) = registry.get(*id) {
                entry.outbox.close(reason);
            }
        }
    }

    /// Closes every connection (shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        for (_, entry) in self.read().all() {
            entry.outbox.close(reason);
        }
    }

    /// Number of live connections.
    pub fn connection_count(&self) -> usize {
        self.read().len()
    }

    /// Number of live connections of one user.
    pub fn user_connection_count(&self, user_id: Uuid) -> usize {
        self.read().of_user(user_id).len()
    }

    /// Panics if the registry's indexes disagree (tests).
    pub fn check_invariants(&self) {
        self.read().check_invariants();
    }
}
