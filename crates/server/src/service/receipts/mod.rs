//! Delivery and read receipts: per (user, channel) watermarks that only move forward.
//!
//! `read` is rare (a person looking at a channel), so it is written at once and announced at
//! once: the user's devices get `channel:unread`, and in a channel of at most
//! `receipt_members` members every member gets `receipt:update`. `delivered` is frequent
//! (every device acknowledges every message it receives), so it is coalesced: the [`Buffer`]
//! keeps the highest `seq` per (channel, user), and [`flush()`] writes the pending watermarks
//! and announces the moved ones with one `receipt:update` per small channel, every
//! `receipt_flush_ms`, or less often under load (see [`next_wait`]). A large flush goes in
//! parts of about [`FLUSH_PART`] watermarks a few milliseconds apart (and publishes in slices
//! of [`ANNOUNCE_SLICE`] channels, letting other tasks run between them), so that messages
//! never wait behind a whole flush (the private `flush` module owns the flusher). Watermarks
//! of large channels are announced to nobody (their senders ask for counts), so they are only
//! written every [`LARGE_CHANNEL_PERIOD`].

mod flush;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use banter_proto::rest::{MessageReceipts, RecipientState};
use banter_proto::ws::{ChannelUnread, ReceiptUpdate, ServerEvent};
use banter_proto::{MemberReceipt, Membership};
use uuid::Uuid;

use crate::error::AppError;
use crate::service::channels::member_view;
use crate::state::AppState;
use crate::store::Page;

pub use flush::{
    flush, next_wait, start_flusher, ANNOUNCE_SLICE, FLUSH_BUDGET, FLUSH_PART, MAX_FLUSH_WAIT, MAX_SPREAD, PART_GAP,
};

/// Pending delivered watermarks: (channel, user) → highest `seq` reported since the last
/// flush, and which channels are small enough to announce them in. Cheap to clone.
#[derive(Clone, Default)]
pub struct Buffer {
    /// std lock: held for one map operation, never across an `.await`.
    pending: Arc<Mutex<HashMap<(Uuid, Uuid), i64>>>,
    /// Channel → (at most `receipt_members` members, until when that is trusted). Only the
    /// flusher uses it; std lock held for the lookups or the inserts of one flush.
    small: Arc<Mutex<HashMap<Uuid, (bool, Instant)>>>,
    /// Held by a [`flush()`] from its take to its last part, so one flush runs at a time: the
    /// last flush at shutdown waits for the flusher's, whose moves are no longer pending.
    flushing: Arc<tokio::sync::Mutex<()>>,
}

/// How long the flusher trusts a channel's size before reading it again: a channel crossing
/// `receipt_members` starts or stops getting `receipt:update` within this. Each size is
/// trusted for a random time between half of this and this, so that the channels first seen
/// together are not all read again in the same flush.
const SIZE_MEMORY: Duration = Duration::from_secs(30);

/// How often the delivered watermarks of channels above `receipt_members` are written: they
/// only feed the counts a sender asks for, so they wait in the buffer across flushes (in a
/// channel of 1,000 at 50 messages/s, writing them every 200 ms was 5,000 `UPDATE`s a second,
/// ~6% of the server's CPU).
pub const LARGE_CHANNEL_PERIOD: Duration = Duration::from_secs(2);
impl Buffer {
    /// Keeps the highest `seq` for (channel, user).
    fn record(&self, channel: Uuid, user: Uuid, seq: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = pending.entry((channel, user)).or_insert(seq);
        *entry = (*entry).max(seq);
    }

    /// Takes what is pending: everything if `with_large`, otherwise all but the watermarks of
    /// channels known (and still trusted) to be above `receipt_members`, which stay.
    fn take(&self, with_large: bool) -> Vec<(Uuid, Uuid, i64)> {
        let now = Instant::now();
        let sizes = self.small.lock().unwrap_or_else(PoisonError::into_inner);
        let large = |channel: &Uuid| matches!(sizes.get(channel), Some(&(false, until)) if until > now);
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let due = pending.extract_if(|(channel, _), _| with_large || !large(channel));
        due.map(|((channel, user), seq)| (channel, user, seq)).collect()
    }
}

/// `receipt:delivered`: a device of `user` holds every message of `channel` up to `seq`.
/// Queued for the next [`flush()`] (which skips non-members, so no store read here).
/// Error: `invalid_data` for a negative `seq`.
pub fn delivered(state: &AppState, user: Uuid, channel: Uuid, seq: i64) -> Result<(), AppError> {
    if seq < 0 {
        return Err(AppError::Invalid("invalid_data", "seq must be at least 0"));
    }
    state.receipts.record(channel, user, seq);
    Ok(())
}

/// `receipt:read` (and `POST /api/channels/:id/read`): moves `user`'s read watermark to
/// `min(seq, head)` (never back), then sends `channel:unread` to all of their devices and, in a
/// small channel, `receipt:update` to its members. Errors: `invalid_data`, `not_found`,
/// `not_a_member`.
pub async fn read(state: &AppState, user: Uuid, channel: Uuid, seq: i64) -> Result<Membership, AppError> {
    if seq < 0 {
        return Err(AppError::Invalid("invalid_data", "seq must be at least 0"));
    }
    let Some(view) = state.store.mark_read(channel, user, seq).await? else {
        return Err(member_view(state, user, channel).await.err().unwrap_or(AppError::NotFound));
    };
    let membership = view.membership.ok_or_else(AppError::not_a_member)?;
    let unread = ChannelUnread {
        channel_id: channel,
        read_seq: membership.read_seq,
        unread_count: membership.unread_count,
        mention_count: membership.mention_count,
    };
    state.hub.to_users(&[user], &ServerEvent::ChannelUnread(unread));
    if view.member_count <= state.config.receipt_members {
        let receipt =
            MemberReceipt { user_id: user, delivered_seq: membership.delivered_seq, read_seq: membership.read_seq };
        let update = ReceiptUpdate { channel_id: channel, receipts: vec![receipt] };
        state.hub.publish(channel, &ServerEvent::ReceiptUpdate(update));
    }
    Ok(membership)
}

/// Who has received and read message `seq` of `channel` (counts exclude its sender; the list
/// only for channels of at most `receipt_members` members). Errors: `not_found` (channel or
/// message), `not_a_member`.
pub async fn of_message(state: &AppState, viewer: Uuid, channel: Uuid, seq: i64) -> Result<MessageReceipts, AppError> {
    let view = member_view(state, viewer, channel).await?;
    let page = Page::After { after: seq - 1, limit: 1 };
    let (found, _) = state.store.messages(channel, page).await?;
    let message = found.into_iter().find(|m| m.seq == seq).ok_or(AppError::NotFound)?;
    let sender = message.sender.id;
    let (recipients, delivered_count, read_count) = state.store.receipt_counts(channel, seq, sender).await?;
    let mut members = Vec::new();
    if view.member_count <= state.config.receipt_members {
        let marks: HashMap<Uuid, MemberReceipt> =
            state.store.receipts(channel).await?.into_iter().map(|r| (r.user_id, r)).collect();
        for member in state.store.members(channel).await? {
            if member.user.id == sender {
                continue;
            }
            let mark = marks.get(&member.user.id);
            members.push(RecipientState {
                delivered: mark.is_some_and(|m| m.delivered_seq >= seq),
                read: mark.is_some_and(|m| m.read_seq >= seq),
                user: member.user,
            });
        }
    }
    Ok(MessageReceipts { channel_id: channel, seq, recipients, delivered_count, read_count, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_channels_wait_for_their_own_flush() {
        let buffer = Buffer::default();
        let (small, large, unknown, user) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3), Uuid::nil());
        let later = Instant::now() + SIZE_MEMORY;
        buffer.small.lock().unwrap().extend([(small, (true, later)), (large, (false, later))]);
        for channel in [small, large, unknown] {
            buffer.record(channel, user, 4);
        }
        buffer.record(large, user, 7);
        let mut taken = buffer.take(false);
        taken.sort();
        assert_eq!(taken, vec![(small, user, 4), (unknown, user, 4)], "a channel of unknown size is written");
        assert_eq!(buffer.take(true), vec![(large, user, 7)], "the large one kept its highest seq");
        assert!(buffer.take(true).is_empty());
    }
}
