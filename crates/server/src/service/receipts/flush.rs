//! The delivered-watermark flusher: takes what the [`Buffer`](super::Buffer) holds, writes it
//! in parts through the store's writer and announces the moved watermarks.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use banter_proto::ws::{ReceiptUpdate, ServerEvent};
use banter_proto::MemberReceipt;
use rand::Rng;
use uuid::Uuid;

use super::{LARGE_CHANNEL_PERIOD, SIZE_MEMORY};
use crate::state::AppState;

/// Watermark moves a flush may write before the next flush waits longer than
/// `receipt_flush_ms` (see [`next_wait`]).
pub const FLUSH_BUDGET: usize = 512;
/// Longest wait between two flushes, however busy: a delivered tick shows within about this.
pub const MAX_FLUSH_WAIT: Duration = Duration::from_secs(1);

/// How long the flusher waits after a flush that wrote `written` moves: `period`
/// (`receipt_flush_ms`) while that is at most [`FLUSH_BUDGET`], proportionally longer above
/// it (up to [`MAX_FLUSH_WAIT`]), so that under load each watermark that keeps moving is
/// written (and its `receipt:update` sent) less often, instead of flushing work growing with
/// the message rate. It cannot run away: a longer wait collects at most one move per
/// (channel, member) that received anything.
pub fn next_wait(period: Duration, written: usize) -> Duration {
    let load = (written as f64 / FLUSH_BUDGET as f64).max(1.0);
    period.mul_f64(load).min(MAX_FLUSH_WAIT.max(period))
}

/// Delivered watermarks a flush writes and announces in one go (a part ends at the end of a
/// channel's moves, so a channel's are written and announced together; half the store's
/// `DELIVERED_CHUNK`, so a part is one transaction unless one channel brings more). A larger
/// flush goes in parts [`PART_GAP`] apart: on one core, the messages arriving meanwhile wait
/// for one part, not for the whole flush (in rooms, a flush of 2,000 moves and ~2,000
/// `receipt:update` frames in one go took 20–57 ms, and messages sent meanwhile arrived up to
/// 30 ms late; parts of 128 took rooms' p99 from 6.2 to 4.0 ms, and 64 against 128 gave
/// 4.5 against 5.3 ms; see docs/benchmarks.md, session 8).
pub const FLUSH_PART: usize = 64;
/// Pause between two parts of a flush.
pub const PART_GAP: Duration = Duration::from_millis(10);
/// Most time a flush spends in pauses between its parts; with many parts each pause is shorter.
pub const MAX_SPREAD: Duration = Duration::from_millis(200);

/// A delivered watermark to write: `(channel, user, seq)`.
type Move = (Uuid, Uuid, i64);

/// Writes the pending delivered watermarks (in `(channel, user)` order; those of large
/// channels only `with_large`) in parts of about [`FLUSH_PART`], pausing between parts for at
/// most `spread` in all (at most [`PART_GAP`] each; `Duration::ZERO` writes them back to back),
/// and announces the moved ones (one `receipt:update` per channel of at most
/// `receipt_members` members). One flush runs at a time: a second call waits for the first to
/// finish. Returns how many watermarks it wrote. On a store error, the failed part and the ones
/// after it are put back for the next flush.
pub async fn flush(state: &AppState, with_large: bool, spread: Duration) -> usize {
    let _one_at_a_time = state.receipts.flushing.lock().await;
    let mut moves = state.receipts.take(with_large);
    moves.sort_unstable_by_key(|&(channel, user, _)| (channel, user));
    let parts = parts(&moves);
    let gap = match parts.len() {
        0 | 1 => Duration::ZERO,
        n => PART_GAP.min(spread / (n - 1) as u32),
    };
    let mut written = 0;
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 && !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        if !write_part(state, part).await {
            moves[written..].iter().for_each(|&(c, u, s)| state.receipts.record(c, u, s));
            break;
        }
        written += part.len();
    }
    written
}

/// `moves` (sorted by channel) cut into parts of at least [`FLUSH_PART`] moves (the last may
/// be shorter), each ending where a channel's moves end.
fn parts(moves: &[Move]) -> Vec<&[Move]> {
    let mut parts = Vec::with_capacity(moves.len().div_ceil(FLUSH_PART));
    let mut start = 0;
    while start < moves.len() {
        let mut end = (start + FLUSH_PART).min(moves.len());
        while end < moves.len() && moves[end].0 == moves[end - 1].0 {
            end += 1;
        }
        parts.push(&moves[start..end]);
        start = end;
    }
    parts
}

/// Writes one part of a flush and announces its moved watermarks; `false` (logged) if the
/// store failed, when nothing of it was announced.
async fn write_part(state: &AppState, moves: &[Move]) -> bool {
    let moved = match state.store.advance_delivered(moves).await {
        Ok(moved) => moved,
        Err(e) => {
            tracing::error!(error = %e, count = moves.len(), "delivered receipts not written; retrying");
            return false;
        }
    };
    // The store answers in the order of the moves, so by channel: consecutive runs group.
    let mut moved = moved.into_iter().peekable();
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    {
        let (now, sizes) = (Instant::now(), state.receipts.small.lock().unwrap_or_else(PoisonError::into_inner));
        while let Some((channel, first)) = moved.next() {
            let mut receipts = vec![first];
            while let Some((_, receipt)) = moved.next_if(|&(c, _)| c == channel) {
                receipts.push(receipt);
            }
            match sizes.get(&channel).filter(|(_, until)| *until > now) {
                Some(&(small, _)) => known.push((channel, small, receipts)),
                None => unknown.push((channel, receipts)),
            }
        }
    }
    let mut slice = Slice::default();
    for (channel, small, receipts) in known {
        announce(state, small, channel, receipts, &mut slice).await;
    }
    if unknown.is_empty() {
        return true;
    }
    let mut read = Vec::with_capacity(unknown.len());
    for (channel, receipts) in unknown {
        let small = match state.store.channel(Uuid::nil(), channel).await {
            Ok(Some(c)) => c.member_count <= state.config.receipt_members,
            _ => false,
        };
        announce(state, small, channel, receipts, &mut slice).await;
        read.push((channel, small));
    }
    let now = Instant::now();
    let mut sizes = state.receipts.small.lock().unwrap_or_else(PoisonError::into_inner);
    sizes.retain(|_, (_, until)| *until > now);
    for (channel, small) in read {
        let trusted = rand::thread_rng().gen_range(SIZE_MEMORY / 2..=SIZE_MEMORY);
        sizes.insert(channel, (small, now + trusted));
    }
    true
}

/// `receipt:update`s a flush publishes before it lets the runtime's other tasks run: a flush
/// can announce in hundreds of channels at once (rooms: ~400 channels, ~2,000 frames, ~10 ms
/// of writes), and on one core a message arriving meanwhile waited for all of them.
pub const ANNOUNCE_SLICE: usize = 32;

/// Counts a flush's announcements, to yield after every [`ANNOUNCE_SLICE`].
#[derive(Default)]
struct Slice(usize);

/// Publishes `receipts` as one `receipt:update` to `channel` if it is `small`, yielding to
/// the runtime after every [`ANNOUNCE_SLICE`] publishes.
async fn announce(state: &AppState, small: bool, channel: Uuid, receipts: Vec<MemberReceipt>, slice: &mut Slice) {
    if !small {
        return;
    }
    state.hub.publish(channel, &ServerEvent::ReceiptUpdate(ReceiptUpdate { channel_id: channel, receipts }));
    slice.0 += 1;
    if slice.0.is_multiple_of(ANNOUNCE_SLICE) {
        tokio::task::yield_now().await;
    }
}

/// Shortest wait between the end of a flush and the start of the next.
const MIN_WAIT: Duration = Duration::from_millis(10);

/// Runs [`flush`] every `receipt_flush_ms` (longer after a busy flush, see [`next_wait`]; both
/// counted from the flush's start, its parts spread over at most [`MAX_SPREAD`]),
/// with the large channels' watermarks every [`LARGE_CHANNEL_PERIOD`], until
/// [`AppState::stop`] is cancelled: it ends between two flushes, never inside one, so no move
/// it took is lost (the caller flushes what is left).
pub fn start_flusher(state: AppState) -> tokio::task::JoinHandle<()> {
    let period = Duration::from_millis(state.config.receipt_flush_ms.max(10));
    tokio::spawn(async move {
        let (mut wait, mut large_written) = (period, Instant::now());
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.stop.cancelled() => return,
            }
            let started = Instant::now();
            let with_large = large_written.elapsed() >= LARGE_CHANNEL_PERIOD;
            if with_large {
                large_written = started;
            }
            let written = flush(&state, with_large, MAX_SPREAD).await;
            // Counted from the flush's start: its pauses are part of the wait.
            wait = next_wait(period, written).saturating_sub(started.elapsed()).max(MIN_WAIT);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flush_is_cut_into_parts_at_channel_ends() {
        let user = |i: usize| Uuid::from_u128(i as u128);
        // Channel 1 has 60 moves, channel 2 has 10, channel 3 has 200, channel 4 has 3.
        let moves: Vec<Move> = [(1, 60), (2, 10), (3, 200), (4, 3)]
            .into_iter()
            .flat_map(|(c, n)| (0..n).map(move |i| (Uuid::from_u128(c), user(i), 1)))
            .collect();
        let parts = parts(&moves);
        let sizes: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(sizes, vec![70, 200, 3], "a part runs on to its last channel's end");
        assert_eq!(parts.concat(), moves, "every move once, in order");
        assert!(super::parts(&[]).is_empty());
        let small: Vec<Move> = (0..FLUSH_PART * 2).map(|i| (Uuid::from_u128(i as u128), user(0), 1)).collect();
        assert_eq!(super::parts(&small).iter().map(|p| p.len()).collect::<Vec<_>>(), vec![FLUSH_PART; 2]);
    }

    #[test]
    fn a_busy_flush_makes_the_next_one_wait_longer() {
        let period = Duration::from_millis(200);
        assert_eq!(next_wait(period, 0), period);
        assert_eq!(next_wait(period, FLUSH_BUDGET), period);
        assert_eq!(next_wait(period, FLUSH_BUDGET * 3), Duration::from_millis(600));
        assert_eq!(next_wait(period, FLUSH_BUDGET * 100), MAX_FLUSH_WAIT);
        let slow = Duration::from_secs(3);
        assert_eq!(next_wait(slow, FLUSH_BUDGET * 100), slow, "never shorter than configured");
    }
}
