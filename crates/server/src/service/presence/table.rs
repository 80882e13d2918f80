//! The devices this node serves, per user, as plain data: each device's status, the status a
//! user keeps during the grace period after their last device left, and the status this
//! node last published for them (its Redis lease, or without Redis the user's presence).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use banter_proto::Status;
use smallvec::SmallVec;
use uuid::Uuid;

use crate::hub::ConnId;

/// A change to publish: `(user, published before, status now)`.
pub type Change = (Uuid, Status, Status);

/// One user's devices on this node (32 bytes: one is kept per connected user).
#[derive(Default)]
struct Entry {
    /// Connected devices and their statuses (a handful at most; inline while there is one).
    devices: SmallVec<[(ConnId, Status); 1]>,
    /// What this node last published for the user.
    published: Option<Status>,
}

/// The status this node should publish at `now` for a user with `devices`, holding `held`
/// (the status kept since the last device left, and until when).
fn wanted(devices: &[(ConnId, Status)], held: Option<&(Status, Instant)>, now: Instant) -> Status {
    match (devices.iter().map(|(_, s)| *s).max(), held) {
        (Some(best), _) => best,
        (None, Some(&(held, until))) if until > now => held,
        _ => Status::Offline,
    }
}

/// Users with devices (or a grace period) on this node.
#[derive(Default)]
pub struct Table {
    users: HashMap<Uuid, Entry>,
    /// Users whose last device left: the status kept, and until when (beside `users`, so
    /// that an entry of a connected user does not carry it).
    held: HashMap<Uuid, (Status, Instant)>,
    /// Users whose wanted status may differ from the published one.
    dirty: HashSet<Uuid>,
    /// Grace periods in deadline order (the grace is constant, so appending keeps the order).
    holding: VecDeque<(Instant, Uuid)>,
    /// Peers read for the `ready` snapshot of users with a change pending, for announcing
    /// that change without reading them again; kept until the next [`Table::take_peers`].
    peers: HashMap<Uuid, Vec<Uuid>>,
}

impl Table {
    /// A device of `user` connected: it starts `online`, and any grace period ends.
    pub fn connect(&mut self, user: Uuid, conn: ConnId) {
        let entry = self.users.entry(user).or_default();
        entry.devices.push((conn, Status::Online));
        self.held.remove(&user);
        self.dirty.insert(user);
    }

    /// A device of `user` disconnected; when it was the last, the user keeps their status
    /// for `grace` from `now`.
    pub fn disconnect(&mut self, user: Uuid, conn: ConnId, now: Instant, grace: Duration) {
        let Some(entry) = self.users.get_mut(&user) else { return };
        let before = wanted(&entry.devices, self.held.get(&user), now);
        entry.devices.retain(|(c, _)| *c != conn);
        if entry.devices.is_empty() {
            self.held.insert(user, (before, now + grace));
            self.holding.push_back((now + grace, user));
        }
        self.dirty.insert(user);
    }

    /// Sets one connected device's status (a device already gone is ignored).
    pub fn set(&mut self, user: Uuid, conn: ConnId, status: Status) {
        let Some(entry) = self.users.get_mut(&user) else { return };
        if let Some(device) = entry.devices.iter_mut().find(|(c, _)| *c == conn) {
            device.1 = status;
            self.dirty.insert(user);
        }
    }

    /// What this node says about `user` at `now` (`Offline` when it serves no device of theirs).
    pub fn wanted(&self, user: Uuid, now: Instant) -> Status {
        self.users.get(&user).map_or(Status::Offline, |e| wanted(&e.devices, self.held.get(&user), now))
    }

    /// Takes every change since the last call: users whose wanted status differs from the
    /// published one (including grace periods that ended by `now`), marking them published.
    /// Users left offline with no device are forgotten.
    pub fn take_changes(&mut self, now: Instant) -> Vec<Change> {
        while let Some(&(until, user)) = self.holding.front() {
            if until > now {
                break;
            }
            self.holding.pop_front();
            self.dirty.insert(user);
        }
        let mut changes = Vec::new();
        for user in std::mem::take(&mut self.dirty) {
            let Some(entry) = self.users.get_mut(&user) else { continue };
            let (before, wanted) =
                (entry.published.unwrap_or(Status::Offline), wanted(&entry.devices, self.held.get(&user), now));
            if before != wanted {
                changes.push((user, before, wanted));
                entry.published = Some(wanted);
            }
            if wanted == Status::Offline && entry.devices.is_empty() {
                self.users.remove(&user);
                self.held.remove(&user);
            }
        }
        changes
    }

    /// Keeps `peers` (just read from the store) for announcing `user`'s pending change, if
    /// one is pending (a connect not yet taken by [`Table::take_changes`]).
    pub fn offer_peers(&mut self, user: Uuid, peers: &[Uuid]) {
        if self.dirty.contains(&user) {
            self.peers.insert(user, peers.to_vec());
        }
    }

    /// Takes the peers offered since the last call (to go with the changes just taken).
    pub fn take_peers(&mut self) -> HashMap<Uuid, Vec<Uuid>> {
        std::mem::take(&mut self.peers)
    }

    /// Puts changes back that could not be published, to be retried.
    pub fn revert(&mut self, changes: &[Change]) {
        for &(user, before, _) in changes {
            self.users.entry(user).or_default().published = Some(before);
            self.dirty.insert(user);
        }
    }

    /// Every user this node publishes as not offline, with that status (lease refresh).
    pub fn published(&self) -> Vec<(Uuid, Status)> {
        self.users
            .iter()
            .filter_map(|(user, e)| e.published.filter(|s| *s != Status::Offline).map(|s| (*user, s)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(15);

    #[test]
    fn the_best_device_wins_and_a_quick_reconnect_does_not_flap() {
        let (mut t, user, now) = (Table::default(), Uuid::now_v7(), Instant::now());
        t.connect(user, 1);
        t.connect(user, 2);
        assert_eq!(t.take_changes(now), vec![(user, Status::Offline, Status::Online)]);
        t.set(user, 1, Status::Away);
        assert_eq!(t.take_changes(now), vec![]);
        t.set(user, 2, Status::Dnd);
        assert_eq!(t.take_changes(now), vec![(user, Status::Online, Status::Dnd)]);
        t.disconnect(user, 1, now, GRACE);
        t.disconnect(user, 2, now, GRACE);
        assert_eq!((t.take_changes(now), t.wanted(user, now)), (vec![], Status::Dnd), "held in grace");
        t.connect(user, 3);
        assert_eq!(t.take_changes(now + GRACE * 2), vec![(user, Status::Dnd, Status::Online)]);
        assert_eq!(t.take_changes(now + GRACE * 3), vec![], "the old grace deadline does nothing");
    }

    #[test]
    fn the_grace_period_ends_offline_and_forgets_the_user() {
        let (mut t, user, now) = (Table::default(), Uuid::now_v7(), Instant::now());
        t.connect(user, 1);
        t.take_changes(now);
        t.disconnect(user, 1, now, GRACE);
        assert_eq!(t.take_changes(now + GRACE / 2), vec![]);
        assert_eq!(t.take_changes(now + GRACE), vec![(user, Status::Online, Status::Offline)]);
        assert!(t.users.is_empty() && t.held.is_empty() && t.published().is_empty());
        t.revert(&[(user, Status::Online, Status::Offline)]);
        assert_eq!(t.take_changes(now + GRACE), vec![(user, Status::Online, Status::Offline)], "retried");
    }

    #[test]
    fn peers_are_kept_only_for_a_pending_change_and_taken_once() {
        let (mut t, user, peer, now) = (Table::default(), Uuid::now_v7(), Uuid::now_v7(), Instant::now());
        t.offer_peers(user, &[peer]);
        assert!(t.take_peers().is_empty(), "nothing pending");
        t.connect(user, 1);
        t.offer_peers(user, &[peer]);
        t.take_changes(now);
        assert_eq!(t.take_peers().remove(&user), Some(vec![peer]));
        assert!(t.take_peers().is_empty(), "taken once");
        t.offer_peers(user, &[peer]);
        assert!(t.take_peers().is_empty(), "the change was already taken");
    }
}
