//! Presence: per-device statuses, a user's presence as the best over their devices (on every
//! node), the offline grace period, `last_seen_at`, and `presence:change` to the users who
//! share a DM or a channel of at most `receipt_members` members with the user.
//!
//! Device events only edit the [`table::Table`] and wake ONE worker task per process
//! ([`start_worker`]), which also ticks: it publishes what changed, ends grace periods, and with
//! Redis refreshes this node's leases every `presence_lease_ms` and sweeps expired ones
//! ([`crate::hub::leases`]). A change is announced only when the user's presence over all
//! nodes changed, by the one node whose lease script saw it change; peers are read from the
//! store then, so connecting costs one `presence_peers` query only when presence changes. A
//! connect's `ready` snapshot reads the same peers just before: it leaves them in the table
//! for the announcement of that connect, which then does not read them again.

mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use banter_proto::ws::ServerEvent;
use banter_proto::{Presence, Status};
use futures_util::StreamExt;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::clock::{now_ms, to_datetime};
use crate::config::Config;
use crate::error::AppError;
use crate::hub::leases::{Leases, Transition};
use crate::hub::ConnId;
use crate::state::AppState;

/// Leases live this many refresh periods.
const LEASE_PERIODS: u32 = 3;
/// Most expired leases one sweep removes.
const SWEEP_LIMIT: usize = 1000;
/// Announcements (store reads, fan-out) in flight at once.
const ANNOUNCE_CONCURRENCY: usize = 8;

/// The process's presence state. Cheap to clone.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

struct Inner {
    /// std lock: held for a few map operations, never across an `.await`.
    table: Mutex<table::Table>,
    /// Wakes the worker after a device event.
    wake: Notify,
    grace: Duration,
    lease: Duration,
    /// This node's leases, when Redis is configured.
    leases: Option<Leases>,
}

impl Tracker {
    /// An empty tracker with `config`'s grace period and, when `redis_url` is set, leases of
    /// `node_id` under `redis_prefix` living three `presence_lease_ms` periods.
    pub fn new(config: &Config) -> Self {
        let lease = Duration::from_millis(config.presence_lease_ms.max(1));
        let leases =
            config.redis_url.as_ref().map(|_| Leases::new(&config.redis_prefix, config.node_id, lease * LEASE_PERIODS));
        let inner = Inner {
            table: Mutex::default(),
            wake: Notify::new(),
            grace: Duration::from_millis(config.presence_grace_ms),
            lease,
            leases,
        };
        Tracker { inner: Arc::new(inner) }
    }

    fn table(&self) -> MutexGuard<'_, table::Table> {
        self.inner.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn edit(&self, f: impl FnOnce(&mut table::Table)) {
        f(&mut self.table());
        self.inner.wake.notify_one();
    }
}

/// A device of `user` connected (called after the hub registered `conn`, before `ready`): it
/// is `online`, and a grace period running for the user ends without any event.
pub fn connected(state: &AppState, user: Uuid, conn: ConnId) {
    state.presence.edit(|t| t.connect(user, conn));
}

/// A device of `user` disconnected (called after the hub forgot `conn`). When it was their
/// last device on this node, the user keeps their status for `presence_grace_ms`.
pub fn disconnected(state: &AppState, user: Uuid, conn: ConnId) {
    let grace = state.presence.inner.grace;
    state.presence.edit(|t| t.disconnect(user, conn, Instant::now(), grace));
}

/// Sets one device's status (`presence:update`). Error: `invalid_data` for `offline`.
pub async fn update(state: &AppState, user: Uuid, conn: ConnId, status: Status) -> Result<(), AppError> {
    if status == Status::Offline {
        return Err(AppError::Invalid("invalid_data", "status must be online, away or dnd; disconnect to go offline"));
    }
    state.presence.edit(|t| t.set(user, conn, status));
    Ok(())
}

/// The presence of `peers`, the users who share a DM or a small channel with `user` (from
/// [`crate::store::ChannelStore::ready_snapshot`]), excluding offline ones (for `ready`).
pub async fn snapshot(state: &AppState, user: Uuid, peers: Vec<Uuid>) -> Vec<Presence> {
    state.presence.table().offer_peers(user, &peers);
    let statuses = statuses(state, &peers).await;
    peers
        .into_iter()
        .zip(statuses)
        .filter(|(_, status)| *status != Status::Offline)
        .map(|(user_id, status)| Presence { user_id, status, last_seen_at: None })
        .collect()
}

/// One user's presence (for `GET /api/users/:id`): `last_seen_at` (from the store) only when
/// offline. Errors: the store failed.
pub async fn of(state: &AppState, user: Uuid) -> Result<Presence, AppError> {
    let status = statuses(state, &[user]).await.pop().unwrap_or(Status::Offline);
    let last_seen_at = match status {
        Status::Offline => state.store.last_seen(user).await?.map(to_datetime),
        _ => None,
    };
    Ok(Presence { user_id: user, status, last_seen_at })
}

/// Each user's presence: this node's own view, and with Redis the best of it and the other
/// nodes' leases (on a Redis failure, this node's view alone).
async fn statuses(state: &AppState, users: &[Uuid]) -> Vec<Status> {
    let now = Instant::now();
    let mut mine: Vec<Status> = {
        let table = state.presence.table();
        users.iter().map(|u| table.wanted(*u, now)).collect()
    };
    let (Some(leases), Some(relay)) = (&state.presence.inner.leases, state.hub.relay()) else { return mine };
    let Some(mut conn) = relay.commands() else { return mine };
    match leases.others(&mut conn, users).await {
        Ok(others) => mine.iter_mut().zip(others).for_each(|(m, o)| *m = (*m).max(o)),
        Err(e) => tracing::warn!(error = %e, "presence leases unreadable; answering with this node's view"),
    }
    mine
}

/// Starts the process's one presence worker: it publishes device changes as they come and,
/// every tick (a quarter of the shorter of grace and lease period, 20–250 ms), ends grace
/// periods and, with Redis, sweeps expired leases (refreshing this node's every lease period).
/// Runs until [`AppState::stop`] is cancelled, ending between two turns (never inside one).
pub fn start_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    let inner = &state.presence.inner;
    let period = (inner.grace.min(inner.lease) / 4).clamp(Duration::from_millis(20), Duration::from_millis(250));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh_at = Instant::now();
        loop {
            let ticked = tokio::select! {
                _ = ticks.tick() => true,
                _ = state.presence.inner.wake.notified() => false,
                _ = state.stop.cancelled() => return,
            };
            let (changes, peers) = {
                let mut table = state.presence.table();
                (table.take_changes(Instant::now()), table.take_peers())
            };
            let transitions = publish(&state, changes).await;
            announce(&state, transitions, peers).await;
            if ticked && state.presence.inner.leases.is_some() {
                let refresh = Instant::now() >= refresh_at;
                if refresh {
                    refresh_at = Instant::now() + state.presence.inner.lease;
                }
                let transitions = maintain(&state, refresh).await;
                announce(&state, transitions, HashMap::new()).await;
            }
        }
    })
}

/// Publishes this node's changes: without Redis they are the users' transitions; with it,
/// the lease script says how each user's presence over all nodes moved. Changes that could
/// not reach Redis are put back for the next tick.
async fn publish(state: &AppState, changes: Vec<table::Change>) -> Vec<Transition> {
    let Some(leases) = &state.presence.inner.leases else { return changes };
    if changes.is_empty() {
        return changes;
    }
    let sets: Vec<(Uuid, Status)> = changes.iter().map(|(user, _, now)| (*user, *now)).collect();
    let result = match state.hub.relay().and_then(|r| r.commands()) {
        Some(mut conn) => leases.set(&mut conn, &sets).await.map_err(|e| e.to_string()),
        None => Err("Redis is not connected".to_owned()),
    };
    result.unwrap_or_else(|error| {
        tracing::warn!(%error, count = changes.len(), "presence leases not written; retrying");
        state.presence.table().revert(&changes);
        Vec::new()
    })
}

/// With Redis: refreshes every lease of this node (when `refresh`), then sweeps expired
/// leases of any node. Returns the transitions either caused (a lease refreshed after it was
/// swept, a dead node's users going offline).
async fn maintain(state: &AppState, refresh: bool) -> Vec<Transition> {
    let (Some(leases), Some(relay)) = (&state.presence.inner.leases, state.hub.relay()) else { return Vec::new() };
    let Some(mut conn) = relay.commands() else { return Vec::new() };
    let mut transitions = Vec::new();
    if refresh {
        let published = state.presence.table().published();
        match leases.set(&mut conn, &published).await {
            Ok(t) => transitions.extend(t),
            Err(e) => tracing::warn!(error = %e, "presence leases not refreshed"),
        }
    }
    match leases.sweep(&mut conn, SWEEP_LIMIT).await {
        Ok(t) => transitions.extend(t),
        Err(e) => tracing::warn!(error = %e, "expired presence leases not swept"),
    }
    transitions
}

/// Sends `presence:change` for each transition that changed a user's presence to the users
/// sharing a DM or a small channel with them (from `known` when a snapshot read them, else from
/// the store); going offline records `last_seen_at` first.
async fn announce(state: &AppState, transitions: Vec<Transition>, mut known: HashMap<Uuid, Vec<Uuid>>) {
    let changed: Vec<_> = transitions
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(user, _, status)| (user, status, known.remove(&user)))
        .collect();
    futures_util::stream::iter(changed)
        .for_each_concurrent(ANNOUNCE_CONCURRENCY, |(user, status, known)| async move {
            let mut last_seen_at = None;
            if status == Status::Offline {
                let at = now_ms();
                if let Err(e) = state.store.set_last_seen(user, at).await {
                    tracing::error!(error = %e, %user, "last_seen_at not stored");
                }
                last_seen_at = Some(to_datetime(at));
            }
            let peers = match known {
                Some(peers) => Ok(peers),
                None => state.store.presence_peers(user, state.config.receipt_members).await,
            };
            match peers {
                Ok(peers) => {
                    let change = Presence { user_id: user, status, last_seen_at };
                    state.hub.to_users(&peers, &ServerEvent::PresenceChange(change));
                }
                Err(e) => tracing::error!(error = %e, %user, "presence change not announced"),
            }
        })
        .await;
}
