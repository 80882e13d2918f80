//! Per-channel delivery order for [`crate::Reliable`]: each channel's messages come out exactly
//! once and in `seq` order. A message at or below its channel's position (already delivered) is
//! dropped; one past the next `seq` waits until the gap before it fills.

use std::collections::{BTreeMap, HashMap};

use banter_proto::Message;
use uuid::Uuid;

/// Each channel's position and the messages that arrived ahead of it.
#[derive(Debug)]
pub(crate) struct Order {
    /// Highest `seq` delivered per channel, with everything below it.
    positions: HashMap<Uuid, i64>,
    /// Messages that arrived ahead of a gap, per channel, by `seq`.
    early: HashMap<Uuid, BTreeMap<i64, Message>>,
}

impl Order {
    /// Starts from `positions` (channel → last `seq` delivered, e.g. from a previous run).
    pub(crate) fn new(positions: HashMap<Uuid, i64>) -> Self {
        Self { positions, early: HashMap::new() }
    }

    /// Highest `seq` delivered per channel.
    pub(crate) fn positions(&self) -> &HashMap<Uuid, i64> {
        &self.positions
    }

    /// Gives `channel` the position `after_seq` unless it has one already.
    pub(crate) fn start(&mut self, channel: Uuid, after_seq: i64) {
        self.positions.entry(channel).or_insert(after_seq);
    }

    /// Hands `m` to `deliver` if it is the next in its channel (then any early ones it makes
    /// contiguous), drops it if already delivered, holds it if early. A channel seen for the
    /// first time starts at `m`.
    pub(crate) fn accept(&mut self, m: Message, deliver: impl FnMut(Message)) {
        let channel = m.channel_id;
        let position = *self.positions.entry(channel).or_insert(m.seq - 1);
        if m.seq > position {
            self.early.entry(channel).or_default().insert(m.seq, m);
            self.release(channel, deliver);
        }
    }

    /// Moves `channel` past a gap the server will not fill (nothing before `before_seq` will
    /// come), then hands what became contiguous to `deliver`.
    pub(crate) fn skip_to(&mut self, channel: Uuid, before_seq: i64, deliver: impl FnMut(Message)) {
        let position = self.positions.entry(channel).or_insert(0);
        *position = (*position).max(before_seq - 1);
        self.release(channel, deliver);
    }

    /// Delivers the early messages of `channel` that are now contiguous.
    fn release(&mut self, channel: Uuid, mut deliver: impl FnMut(Message)) {
        let Some(early) = self.early.get_mut(&channel) else { return };
        let position = self.positions.entry(channel).or_insert(0);
        while let Some(entry) = early.first_entry() {
            if *entry.key() <= *position {
                entry.remove();
            } else if *entry.key() == *position + 1 {
                *position += 1;
                deliver(entry.remove());
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use banter_proto::User;
    use chrono::Utc;

    use super::*;

    fn message(channel_id: Uuid, seq: i64) -> Message {
        let sender =
            User { id: Uuid::nil(), username: "ana".into(), display_name: "Ana".into(), created_at: Utc::now() };
        Message {
            id: Uuid::now_v7(),
            channel_id,
            seq,
            sender,
            client_id: seq.to_string(),
            body: format!("m{seq}"),
            created_at: Utc::now(),
            edited_at: None,
            deleted_at: None,
            reply_to: None,
            mentions: Vec::new(),
            reactions: Vec::new(),
        }
    }

    /// Feeds messages with `seqs` in `channel`; returns the `seq`s delivered, in order.
    fn run(order: &mut Order, channel: Uuid, seqs: &[i64]) -> Vec<i64> {
        let mut out = Vec::new();
        for &seq in seqs {
            order.accept(message(channel, seq), |m| out.push(m.seq));
        }
        out
    }

    #[test]
    fn once_and_in_order_early_ones_wait_for_the_gap() {
        let channel = Uuid::now_v7();
        let mut order = Order::new(HashMap::from([(channel, 2)]));
        assert_eq!(run(&mut order, channel, &[1, 2, 4, 5, 3, 3, 6, 4]), vec![3, 4, 5, 6]);
        assert_eq!(order.positions()[&channel], 6);
    }

    #[test]
    fn a_gap_the_server_skips_releases_what_waited_behind_it() {
        let channel = Uuid::now_v7();
        let mut order = Order::new(HashMap::new());
        order.start(channel, 0);
        assert_eq!(run(&mut order, channel, &[5, 6]), Vec::<i64>::new());
        let mut out = Vec::new();
        order.skip_to(channel, 5, |m| out.push(m.seq));
        assert_eq!(out, vec![5, 6]);
        // A channel first seen through a message starts at it.
        let other = Uuid::now_v7();
        assert_eq!(run(&mut order, other, &[9, 10, 9]), vec![9, 10]);
    }
}
