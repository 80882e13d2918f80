//! Resume after a (re)connect: replay what a channel committed after the client's position.
//!
//! The session subscribed to every channel before `ready`, so anything committed from then on
//! arrives live; this replays the rest from the store. Live events and replay may interleave:
//! clients order by `seq` and drop what they hold. See `docs/architecture.md` (Resume).

use banter_proto::ws::{SyncGap, SyncHead, SyncPosition};
use banter_proto::Message;

use crate::error::AppError;
use crate::service::channels::member_view;
use crate::state::AppState;
use crate::store::Page;

/// Messages per `sync:messages` frame (and per store read).
pub const SYNC_PAGE: u32 = 100;

/// Most positions one `sync` may list.
pub const MAX_SYNC_CHANNELS: usize = 1000;

/// What to send for one channel.
pub struct Replay {
    /// Set when the gap was longer than the limit and older messages were left out.
    pub gap: Option<SyncGap>,
    /// Replayed messages in ascending `seq`, in pages of at most [`SYNC_PAGE`].
    pub pages: Vec<Vec<Message>>,
    /// The channel's outcome for `sync:done`.
    pub head: SyncHead,
}

/// Replays one channel after `position.after_seq`: everything when at most `gap_limit`
/// messages are missing, otherwise a [`SyncGap`] and the newest `min(100, gap_limit)`. A channel the user
/// cannot read yields no pages and an error code in `head`.
pub async fn replay(
    state: &AppState,
    user: uuid::Uuid,
    position: SyncPosition,
    gap_limit: i64,
) -> Result<Replay, AppError> {
    let SyncPosition { channel_id, after_seq } = position;
    let after_seq = after_seq.max(0);
    let channel = match member_view(state, user, channel_id).await {
        Ok(channel) => channel,
        Err(AppError::Internal(e)) => return Err(AppError::Internal(e)),
        Err(refused) => {
            let head = SyncHead { channel_id, head_seq: 0, error: Some(refused.code().to_owned()) };
            return Ok(Replay { gap: None, pages: Vec::new(), head });
        }
    };
    let mut replay =
        Replay { gap: None, pages: Vec::new(), head: SyncHead { channel_id, head_seq: after_seq, error: None } };
    if channel.head_seq <= after_seq {
        return Ok(replay);
    }
    // seq is gap-free, so the head tells how many are missing without counting rows.
    // Past the limit, the newest min(SYNC_PAGE, gap_limit) messages: fewer than are missing,
    // so they never overlap what the client holds and the marker always names a real gap.
    let (mut page, mut cursor) = if channel.head_seq - after_seq > gap_limit {
        (Page::Latest { limit: SYNC_PAGE.min(gap_limit.clamp(1, i64::from(SYNC_PAGE)) as u32) }, None)
    } else {
        (Page::After { after: after_seq, limit: SYNC_PAGE }, Some(after_seq))
    };
    loop {
        let (mut messages, has_more) = state.store.messages(channel_id, page).await?;
        crate::service::reactions::attach(state, channel_id, user, &mut messages).await?;
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else { break };
        if cursor.is_none() && first.seq > after_seq + 1 {
            replay.gap = Some(SyncGap { channel_id, after_seq, before_seq: first.seq });
        }
        replay.head.head_seq = last.seq;
        let last_seq = last.seq;
        replay.pages.push(messages);
        match cursor {
            Some(_) if has_more => {
                cursor = Some(last_seq);
                page = Page::After { after: last_seq, limit: SYNC_PAGE };
            }
            _ => break,
        }
    }
    Ok(replay)
}
