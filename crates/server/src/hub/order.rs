//! Per-channel reordering of `message:receive` frames, as plain data (no I/O, no clock of its
//! own: callers pass `now`). [`super::bridge`] keeps one [`Lanes`] per stripe of channels.
//!
//! Across nodes, PostgreSQL commits a channel's messages in `seq` order, but each node
//! publishes its own commits, so a node may hear `seq` 6 (from node B) before 5 (from node A).
//! A lane per channel remembers the next `seq` to deliver and holds early arrivals until the
//! gap before them fills. A gap that stays open for `wait` (the publisher died between commit
//! and publish, or Redis dropped the event) is skipped: the held frames go out in order and the
//! caller is told that subscribers *missed* something, so it can make them resume with `sync`.
//!
//! A lane created by an arrival other than `seq` 1 cannot know whether the message before it
//! went out before the lane existed or is still on its way, so it holds arrivals for `wait`
//! before trusting its position ("unsure"). Lanes are evicted when idle, so memory is bounded
//! by `max_lanes` lanes and `max_held` held frames.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Frame;

/// Bounds and timing of one [`Lanes`].
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    /// How long a gap (or an unsure lane) is waited on before held frames go out anyway.
    pub wait: Duration,
    /// Lanes kept; past it, the least recently used idle lane is dropped.
    pub max_lanes: usize,
    /// Frames held over all lanes; past it, the lane being offered to is flushed.
    pub max_held: usize,
    /// Frames one lane may hold before it is flushed.
    pub max_held_per_lane: usize,
}

/// One channel's position.
struct Lane {
    /// The next `seq` to deliver (meaningful once `sure`).
    next: i64,
    /// Whether `next` is known; see the module docs.
    sure: bool,
    /// Early arrivals by `seq`.
    held: BTreeMap<i64, Frame>,
    /// When the current wait began: the oldest open gap, or the lane's creation while unsure.
    since: Option<Instant>,
    /// Last arrival, for idle eviction.
    last_used: Instant,
}

/// The lanes of a set of channels; see the module docs.
pub struct Lanes {
    lanes: HashMap<Uuid, Lane>,
    /// Lanes with a `since` (holding frames or unsure), so expiry need not scan every lane.
    waiting: HashSet<Uuid>,
    /// Frames held over all lanes.
    held: usize,
    limits: LaneLimits,
}

impl Lanes {
    /// No lanes yet.
    pub fn new(limits: LaneLimits) -> Self {
        Self { lanes: HashMap::new(), waiting: HashSet::new(), held: 0, limits }
    }

    /// Takes `frame` (message `seq` of `channel`) and passes to `deliver`, in `seq` order,
    /// every frame that is now due. Returns `true` when subscribers missed a message: a late
    /// arrival behind what already went out (it is dropped), or a gap skipped to stay bounded.
    pub fn offer(
        &mut self,
        channel: Uuid,
        seq: i64,
        frame: Frame,
        now: Instant,
        deliver: &mut dyn FnMut(Frame),
    ) -> bool {
        if !self.lanes.contains_key(&channel) {
            self.make_room();
            let sure = seq == 1;
            let lane = Lane { next: 1, sure, held: BTreeMap::new(), since: (!sure).then_some(now), last_used: now };
            self.lanes.insert(channel, lane);
            if !sure {
                self.waiting.insert(channel);
            }
        }
        let Some(lane) = self.lanes.get_mut(&channel) else { return false };
        lane.last_used = now;
        if !lane.sure && seq == 1 {
            (lane.sure, lane.next) = (true, 1);
        }
        if lane.sure && seq < lane.next {
            return true;
        }
        if lane.sure && seq == lane.next {
            deliver(frame);
            lane.next += 1;
            while let Some(entry) = lane.held.first_entry().filter(|e| *e.key() == lane.next) {
                deliver(entry.remove());
                self.held -= 1;
                lane.next += 1;
            }
            lane.since = if lane.held.is_empty() { None } else { Some(now) };
            if lane.since.is_none() {
                self.waiting.remove(&channel);
            }
            return false;
        }
        if lane.held.insert(seq, frame).is_none() {
            self.held += 1;
        }
        lane.since.get_or_insert(now);
        self.waiting.insert(channel);
        if lane.held.len() > self.limits.max_held_per_lane || self.held > self.limits.max_held {
            return self.flush(channel, &mut |_, f| deliver(f));
        }
        false
    }

    /// Flushes every lane whose wait is over, passing `(channel, frame)` to `deliver` in
    /// order; calls `missed` for each flushed channel whose subscribers skipped a gap.
    pub fn expire(&mut self, now: Instant, deliver: &mut dyn FnMut(Uuid, Frame), missed: &mut dyn FnMut(Uuid)) {
        let wait = self.limits.wait;
        let due: Vec<Uuid> = self
            .waiting
            .iter()
            .filter(|c| self.lanes.get(c).and_then(|l| l.since).is_some_and(|since| now.duration_since(since) >= wait))
            .copied()
            .collect();
        for channel in due {
            if self.flush(channel, deliver) {
                missed(channel);
            }
        }
    }

    /// Delivers everything held, in order, and forgets every lane (the node stops ordering,
    /// e.g. while its Redis subscription is down). Returns the channels that skipped a gap.
    pub fn drain(&mut self, deliver: &mut dyn FnMut(Uuid, Frame)) -> Vec<Uuid> {
        let waiting: Vec<Uuid> = self.waiting.iter().copied().collect();
        let missed = waiting.into_iter().filter(|&c| self.flush(c, deliver)).collect();
        self.lanes.clear();
        missed
    }

    /// Delivers what `channel`'s lane holds, in order, and forgets the lane (its next arrival
    /// starts an unsure lane).
    pub fn forget(&mut self, channel: Uuid, deliver: &mut dyn FnMut(Uuid, Frame)) {
        self.flush(channel, deliver);
        self.lanes.remove(&channel);
    }

    /// Drops lanes that hold nothing and saw no arrival for `idle`.
    pub fn evict_idle(&mut self, now: Instant, idle: Duration) {
        self.lanes.retain(|_, lane| lane.since.is_some() || now.duration_since(lane.last_used) < idle);
    }

    /// The last `seq` delivered in `channel`, when the lane knows it.
    pub fn delivered(&self, channel: Uuid) -> Option<i64> {
        self.lanes.get(&channel).filter(|l| l.sure).map(|l| l.next - 1)
    }

    /// Number of lanes.
    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    /// Whether no lane exists.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Delivers a lane's held frames in order and makes it sure of its position; `true` when
    /// that skipped a gap.
    fn flush(&mut self, channel: Uuid, deliver: &mut dyn FnMut(Uuid, Frame)) -> bool {
        self.waiting.remove(&channel);
        let Some(lane) = self.lanes.get_mut(&channel) else { return false };
        let mut expected = if lane.sure { Some(lane.next) } else { None };
        let mut skipped = false;
        for (seq, frame) in std::mem::take(&mut lane.held) {
            skipped |= expected.is_some_and(|e| e != seq);
            deliver(channel, frame);
            self.held -= 1;
            expected = Some(seq + 1);
        }
        (lane.sure, lane.since) = (true, None);
        lane.next = expected.unwrap_or(lane.next);
        skipped
    }

    /// At `max_lanes`, drops the least recently used lane that holds nothing.
    fn make_room(&mut self) {
        if self.lanes.len() < self.limits.max_lanes {
            return;
        }
        let idlest = self.lanes.iter().filter(|(_, l)| l.since.is_none()).min_by_key(|(_, l)| l.last_used);
        if let Some((&channel, _)) = idlest {
            self.lanes.remove(&channel);
        }
    }

    /// Panics if the counters and indexes disagree with the lanes (tests).
    pub fn check_invariants(&self) {
        assert_eq!(self.held, self.lanes.values().map(|l| l.held.len()).sum::<usize>());
        for (channel, lane) in &self.lanes {
            assert_eq!(self.waiting.contains(channel), lane.since.is_some(), "waiting index");
            assert!(lane.sure || lane.since.is_some(), "an unsure lane is waiting");
            assert!(lane.held.is_empty() || lane.since.is_some(), "a lane holding frames is waiting");
            if lane.sure {
                assert!(lane.held.keys().all(|&s| s > lane.next), "held frames are beyond the gap");
            }
        }
        assert!(self.waiting.iter().all(|c| self.lanes.contains_key(c)));
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
