//! The connection registry as plain data: who is connected, as whom, subscribed to what.
//! No I/O and no async; [`super::Hub`] wraps it in a lock. Compact, since every idle
//! connection has its entries here: a user's or session's connections are kept inline while
//! there is one, a connection's channels in a sorted list.

use std::collections::HashMap;

use indexmap::map::Slice;
use indexmap::IndexMap;
use smallvec::SmallVec;
use uuid::Uuid;

use super::conn::Outbox;

/// Process-local id of one WebSocket connection.
pub type ConnId = u64;

/// One live connection.
pub struct ConnEntry {
    /// The authenticated user.
    pub user_id: Uuid,
    /// The server-side session it authenticated with.
    pub session_id: Uuid,
    /// Where frames for it go.
    pub outbox: Outbox,
    /// Channels it is subscribed to, sorted.
    pub channels: Vec<Uuid>,
}

/// The connections of one user or session: inline while there is one.
type Conns = SmallVec<[ConnId; 1]>;

/// Connections indexed by id, user, session and channel.
#[derive(Default)]
pub struct Registry {
    conns: HashMap<ConnId, ConnEntry>,
    by_user: HashMap<Uuid, Conns>,
    by_session: HashMap<Uuid, Conns>,
    /// Subscribers per channel, with their outbox handles so fan-out needs no second lookup:
    /// dense for iteration, and a connection leaves in O(1) however large the channel (a
    /// list scan made 10,000 connections leaving `#general` cost 50 million comparisons).
    by_channel: HashMap<Uuid, IndexMap<ConnId, Outbox>>,
}

impl Registry {
    /// Adds a connection with no subscriptions.
    pub fn insert(&mut self, id: ConnId, user_id: Uuid, session_id: Uuid, outbox: Outbox) {
        self.by_user.entry(user_id).or_default().push(id);
        self.by_session.entry(session_id).or_default().push(id);
        self.conns.insert(id, ConnEntry { user_id, session_id, outbox, channels: Vec::new() });
    }

    /// Removes a connection and all its subscriptions; no-op if unknown.
    pub fn remove(&mut self, id: ConnId) {
        let Some(entry) = self.conns.remove(&id) else { return };
        remove_from(&mut self.by_user, entry.user_id, id);
        remove_from(&mut self.by_session, entry.session_id, id);
        for channel in entry.channels {
            self.leave(channel, id);
        }
    }

    /// Subscribes one connection to channels; no-op for an unknown connection or a channel
    /// it is subscribed to already. O(n log n) in the connection's channels, however many come.
    pub fn subscribe(&mut self, id: ConnId, channels: impl IntoIterator<Item = Uuid>) {
        let Some(entry) = self.conns.get_mut(&id) else { return };
        for channel in channels {
            // Inserting an existing key keeps its place: subscribing twice changes nothing.
            self.by_channel.entry(channel).or_default().insert(id, entry.outbox.clone());
            entry.channels.push(channel);
        }
        entry.channels.sort_unstable();
        entry.channels.dedup();
        entry.channels.shrink_to_fit();
    }

    /// Unsubscribes one connection from a channel.
    pub fn unsubscribe(&mut self, id: ConnId, channel: Uuid) {
        let Some(entry) = self.conns.get_mut(&id) else { return };
        if let Ok(at) = entry.channels.binary_search(&channel) {
            entry.channels.remove(at);
            self.leave(channel, id);
        }
    }

    /// Drops `id` from `channel`'s subscribers, and the channel once nobody is left.
    fn leave(&mut self, channel: Uuid, id: ConnId) {
        if let Some(subscribers) = self.by_channel.get_mut(&channel) {
            subscribers.swap_remove(&id);
            if subscribers.is_empty() {
                self.by_channel.remove(&channel);
            }
        }
    }

    /// A connection by id.
    pub fn get(&self, id: ConnId) -> Option<&ConnEntry> {
        self.conns.get(&id)
    }

    /// Connections of a user.
    pub fn of_user(&self, user_id: Uuid) -> &[ConnId] {
        self.by_user.get(&user_id).map_or(&[], SmallVec::as_slice)
    }

    /// Connections of a session.
    pub fn of_session(&self, session_id: Uuid) -> &[ConnId] {
        self.by_session.get(&session_id).map_or(&[], SmallVec::as_slice)
    }

    /// Subscribers of a channel (iterates as `(&ConnId, &Outbox)`, in no particular order).
    pub fn subscribers(&self, channel: Uuid) -> &Slice<ConnId, Outbox> {
        self.by_channel.get(&channel).map_or(Slice::new(), IndexMap::as_slice)
    }

    /// All connections.
    pub fn all(&self) -> impl Iterator<Item = (&ConnId, &ConnEntry)> {
        self.conns.iter()
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether no connection is live.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Panics if the indexes disagree with the connection table (tests).
    pub fn check_invariants(&self) {
        for (id, entry) in &self.conns {
            assert!(self.of_user(entry.user_id).contains(id));
            assert!(self.of_session(entry.session_id).contains(id));
            for channel in &entry.channels {
                assert!(self.by_channel.get(channel).is_some_and(|s| s.contains_key(id)));
            }
        }
        let subscriptions: usize = self.by_channel.values().map(IndexMap::len).sum();
        assert_eq!(subscriptions, self.conns.values().map(|e| e.channels.len()).sum::<usize>());
        assert_eq!(self.by_user.values().map(SmallVec::len).sum::<usize>(), self.conns.len());
        assert!(self.conns.values().all(|e| e.channels.is_sorted_by(|a, b| a < b)), "channels sorted, no repeats");
        assert!(self.by_channel.values().all(|v| !v.is_empty()) && self.by_user.values().all(|v| !v.is_empty()));
    }
}

/// Removes connection `id` from `map[key]`, dropping the key when its list empties.
fn remove_from(map: &mut HashMap<Uuid, Conns>, key: Uuid, id: ConnId) {
    if let Some(list) = map.get_mut(&key) {
        list.retain(|c| *c != id);
        if list.is_empty() {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::conn::outbox;

    #[test]
    fn indexes_follow_inserts_subscriptions_and_removals() {
        let mut r = Registry::default();
        let (user, session, ch) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let limits = crate::hub::OutboxLimits { frames: 4, bytes: 1024 };
        let (o1, _rx1) = outbox(limits);
        let (o2, _rx2) = outbox(limits);
        r.insert(1, user, session, o1);
        r.insert(2, user, Uuid::now_v7(), o2);
        r.subscribe(1, [ch]);
        r.subscribe(1, [ch, ch]);
        r.subscribe(2, [ch]);
        r.check_invariants();
        assert_eq!(r.subscribers(ch).len(), 2);
        r.unsubscribe(2, ch);
        r.remove(1);
        r.check_invariants();
        assert!(r.subscribers(ch).is_empty());
        assert_eq!(r.of_user(user), &[2]);
        assert!(r.of_session(session).is_empty());
    }
}
