//! What a [`super::bridge::Relay`] counts, and which events it could not publish: the
//! [`RelayStats`] counters and the set of channels whose events were lost, which becomes ONE
//! `resync` envelope once the publisher is connected again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use uuid::Uuid;

use super::wire::{self, Action};

/// Channels remembered as lost before the loss is widened to every channel.
pub const MAX_LOST_CHANNELS: usize = 1024;

/// Counters since start (for logs, tests and the operations guide).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayStats {
    /// Envelopes published.
    pub published: u64,
    /// Envelopes that could not be published (queue full or Redis down).
    pub lost: u64,
    /// Envelopes received from other nodes.
    pub received: u64,
    /// Closes with 1012 `resync` (gaps skipped, late arrivals, peers' losses, resubscribing).
    pub resyncs: u64,
}

/// Events a node could not publish.
#[derive(Default)]
struct Lost {
    channels: HashSet<Uuid>,
    all: bool,
}

/// Counters and losses; all methods take `&self` and never block for long.
#[derive(Default)]
pub struct Ledger {
    published: AtomicU64,
    lost_count: AtomicU64,
    received: AtomicU64,
    resyncs: AtomicU64,
    /// std lock: a few set operations, never held across an `.await`.
    lost: Mutex<Lost>,
    has_lost: AtomicBool,
}

impl Ledger {
    /// Counters since start.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            published: self.published.load(Ordering::Relaxed),
            lost: self.lost_count.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            resyncs: self.resyncs.load(Ordering::Relaxed),
        }
    }

    /// Counts `n` envelopes as published.
    pub fn published(&self, n: usize) {
        self.published.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts one envelope received from another node.
    pub fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one close with `resync`.
    pub fn resynced(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an envelope that could not be published (`None`: not tied to one channel, so
    /// every connection is affected).
    pub fn lost(&self, channel: Option<Uuid>) {
        self.lost_count.fetch_add(1, Ordering::Relaxed);
        let mut lost = self.lost.lock().unwrap_or_else(PoisonError::into_inner);
        match channel {
            Some(c) if !lost.all && lost.channels.len() < MAX_LOST_CHANNELS => _ = lost.channels.insert(c),
            _ => lost.all = true,
        }
        self.has_lost.store(true, Ordering::Release);
    }

    /// The `resync` envelope (from `node`) announcing the losses recorded so far, if any;
    /// they are forgotten.
    pub fn take_lost(&self, node: Uuid) -> Option<Vec<u8>> {
        if !self.has_lost.swap(false, Ordering::AcqRel) {
            return None;
        }
        let lost = std::mem::take(&mut *self.lost.lock().unwrap_or_else(PoisonError::into_inner));
        let channels = (!lost.all).then(|| lost.channels.into_iter().collect());
        Some(wire::encode(node, &Action::Resync { channels }, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn decoded(payload: Vec<u8>) -> Action {
        wire::decode(Bytes::from(payload)).expect("a valid envelope").1
    }

    #[test]
    fn losses_become_one_resync_naming_their_channels_or_all() {
        let (ledger, node, channel) = (Ledger::default(), Uuid::now_v7(), Uuid::now_v7());
        assert!(ledger.take_lost(node).is_none());
        ledger.lost(Some(channel));
        ledger.lost(Some(channel));
        assert_eq!(decoded(ledger.take_lost(node).unwrap()), Action::Resync { channels: Some(vec![channel]) });
        assert!(ledger.take_lost(node).is_none(), "announced once");
        ledger.lost(Some(channel));
        ledger.lost(None);
        assert_eq!(decoded(ledger.take_lost(node).unwrap()), Action::Resync { channels: None });
        assert_eq!(ledger.stats().lost, 4);
    }
}
