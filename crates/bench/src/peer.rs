//! One bench connection's task: it alone owns the socket, reads frames until told to stop,
//! accounts deliveries by (channel, seq), records end-to-end latency, counts acks and records
//! their latency (for a request id made by [`stamped_id`]), and
//! writes the connection's outgoing frames (its sender's messages, its receipts, pongs). One
//! owner means no lock around the socket: with the stream split, locking its halves on every
//! poll was ~8% of the bench's CPU at 1,000,000 deliveries/s. Each read is handled whole: every
//! complete frame it brought is taken out of the buffer ([`crate::conn`]) and accounted with
//! one clock reading, taken when the read returned.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use banter_proto::ws::ServerEvent;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::{now_ns, ns_to_us_ceil};
use crate::conn::Frame;
use crate::metrics::LatencyRecorder;
use crate::net::Ws;
use crate::seq::{Seen, SeqTracker};
use crate::wire::{classify, receipt_frame, Incoming};

/// Text frames a connection's senders hand to its task (see [`receive`]) to write.
pub type Outgoing = mpsc::Receiver<String>;

/// Frames a sender may have handed over and not yet written before it waits.
pub const OUTGOING_FRAMES: usize = 64;

/// Shortest time between two `receipt:delivered` flushes of one connection.
pub const RECEIPT_INTERVAL: Duration = Duration::from_millis(250);

/// State shared by every receiver of a run.
pub struct Shared {
    /// End-to-end latency of fresh deliveries, µs.
    pub latency: LatencyRecorder,
    /// Fresh deliveries so far, all receivers (lets a drain end as soon as all arrived).
    pub delivered: AtomicU64,
    /// `ack` frames received.
    pub acks: AtomicU64,
    /// Latency of acks answering a request id made by [`stamped_id`], µs, measured as the
    /// deliveries' is: the commit path up to the sender's answer (which the server writes after
    /// its message's hooks, so it includes the fan-out's direct writes but no queued frame's wait).
    pub ack_latency: LatencyRecorder,
    /// `error` frames received.
    pub errors: AtomicU64,
    /// `receipt:delivered` frames sent.
    pub receipts: AtomicU64,
    /// Cancelled to make every receiver return.
    pub stop: CancellationToken,
}

impl Shared {
    /// Fresh shared state recording delivery latencies into `latency` (ack latencies into a
    /// recorder with as many shards).
    pub fn new(latency: LatencyRecorder) -> Arc<Self> {
        Arc::new(Self {
            ack_latency: LatencyRecorder::new(latency.shards()),
            latency,
            delivered: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            receipts: AtomicU64::new(0),
            stop: CancellationToken::new(),
        })
    }
}

/// What one receiver saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Per tracked channel: distinct seqs and duplicates.
    pub tracked: Vec<(Uuid, SeqTracker)>,
    /// Instant of the last fresh delivery, ns since the bench epoch (0 if none).
    pub last_delivery_ns: u64,
    /// Close code, when the server closed the connection before the stop.
    pub closed: Option<u16>,
}

impl Outcome {
    /// Distinct deliveries over all tracked channels.
    pub fn unique(&self) -> u64 {
        self.tracked.iter().map(|(_, t)| t.unique).sum()
    }

    /// Duplicate deliveries over all tracked channels.
    pub fn duplicates(&self) -> u64 {
        self.tracked.iter().map(|(_, t)| t.duplicates).sum()
    }
}

/// Reads `ws` until `shared.stop` fires or the connection ends, and writes each frame that
/// arrives on `outgoing` (when the connection has senders; a failed write ends the task, and
/// its senders see the closed channel). Deliveries in `tracked` channels (`(channel, head_seq
/// at start)`) are deduplicated by seq; fresh ones carrying a stamp record their latency under
/// shard `key`, measured to the end of the read that brought them. Pings are answered.
///
/// With `receipts`, the highest seq received per tracked channel is reported as
/// `receipt:delivered` the way a client does: coalesced, at most once per
/// [`RECEIPT_INTERVAL`], at once when the last flush is older than that, else when it ends.
pub async fn receive(
    mut ws: Ws,
    mut outgoing: Option<Outgoing>,
    tracked: Vec<(Uuid, i64)>,
    shared: Arc<Shared>,
    key: usize,
    receipts: bool,
) -> Outcome {
    let mut acc = Accounts {
        marks: tracked.iter().map(|&(_, base)| (base, base)).collect(),
        out: Outcome {
            tracked: tracked.into_iter().map(|(c, base)| (c, SeqTracker::new(base))).collect(),
            ..Outcome::default()
        },
        shared,
        key,
        receipts,
        due: false,
    };
    // One registration for the whole loop: a fresh `cancelled()` per frame cost ~5% of the
    // bench's CPU in a profile.
    let stop = acc.shared.stop.clone();
    let cancelled = stop.cancelled();
    tokio::pin!(cancelled);
    // The pending receipt flush (one timer for the whole loop, armed only while pending).
    let flush = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(flush);
    let (mut armed, mut next_flush) = (false, Instant::now());
    loop {
        // The stop is polled last: only when no frame is ready (the runtime's cooperative budget
        // makes the socket pend now and then even under a flood). Polled first, its check was
        // ~4% of the bench's CPU at 1,000,000 deliveries/s.
        let read = tokio::select! {
            biased;
            _ = &mut flush, if armed => {
                armed = false;
                next_flush = Instant::now() + RECEIPT_INTERVAL;
                flush_receipts(&mut ws, &acc.out.tracked, &mut acc.marks, &acc.shared).await;
                continue;
            }
            read = ws.read() => read,
            text = async { outgoing.as_mut()?.recv().await }, if outgoing.is_some() => {
                match text {
                    Some(text) => {
                        if ws.send_text(&text).await.is_err() {
                            acc.out.closed = Some(1006);
                            return acc.out;
                        }
                    }
                    // Every sender is done.
                    None => outgoing = None,
                }
                continue;
            }
            _ = &mut cancelled => return acc.out,
        };
        if !matches!(read, Ok(n) if n > 0) {
            acc.out.closed = Some(1006);
            return acc.out;
        }
        let now = now_ns();
        let mut pong = None;
        loop {
            match ws.next_frame() {
                Ok(Some(Frame::Text(text))) => acc.text(text, now),
                Ok(Some(Frame::Ping(payload))) => pong = Some(payload.to_vec()),
                Ok(Some(Frame::Close(code))) => {
                    acc.out.closed = Some(code.unwrap_or(1005));
                    return acc.out;
                }
                Ok(Some(Frame::Binary(_) | Frame::Pong)) => {}
                Ok(None) => break,
                // A frame the server must not send.
                Err(_) => {
                    acc.out.closed = Some(1002);
                    return acc.out;
                }
            }
        }
        if let Some(payload) = pong {
            if ws.send_pong(&payload).await.is_err() {
                acc.out.closed = Some(1006);
                return acc.out;
            }
        }
        if std::mem::take(&mut acc.due) && !armed {
            // Due now when the last flush is old enough; the timer fires at once.
            flush.as_mut().reset(next_flush.max(Instant::now()));
            armed = true;
        }
    }
}

/// One receiver's accounting, fed one text frame at a time.
struct Accounts {
    /// Per tracked channel: highest seq received, highest seq reported.
    marks: Vec<(i64, i64)>,
    out: Outcome,
    shared: Arc<Shared>,
    key: usize,
    receipts: bool,
    /// A receipt became due with the frames of this read.
    due: bool,
}

impl Accounts {
    /// Accounts one text frame that arrived by `now` (ns since the bench epoch).
    fn text(&mut self, text: &[u8], now: u64) {
        match classify(text) {
            Incoming::Delivery(d) => {
                let Some(i) = self.out.tracked.iter().position(|(c, _)| *c == d.channel) else { return };
                if self.receipts && d.seq > self.marks[i].0 {
                    self.marks[i].0 = d.seq;
                    self.due = true;
                }
                if self.out.tracked[i].1.record(d.seq) == Seen::Fresh {
                    self.out.last_delivery_ns = now;
                    self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                    if let Some(sent) = d.sent_ns {
                        self.shared.latency.record_us(self.key, ns_to_us_ceil(now.saturating_sub(sent)));
                    }
                }
            }
            Incoming::Event(id, event) => match *event {
                ServerEvent::Ack(_) => {
                    self.shared.acks.fetch_add(1, Ordering::Relaxed);
                    if let Some(sent) = id.as_deref().and_then(sent_ns_of) {
                        self.shared.ack_latency.record_us(self.key, ns_to_us_ceil(now.saturating_sub(sent)));
                    }
                }
                ServerEvent::Error(_) => {
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            },
            Incoming::Unknown => {}
            Incoming::Malformed(_) => {
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Sends one `receipt:delivered` per tracked channel whose highest received seq is above the
/// reported one. A failed write ends the flush (the connection is going away, and the next
/// read will see it).
async fn flush_receipts(ws: &mut Ws, tracked: &[(Uuid, SeqTracker)], marks: &mut [(i64, i64)], shared: &Shared) {
    for ((channel, _), (seen, reported)) in tracked.iter().zip(marks.iter_mut()) {
        if *seen > *reported {
            *reported = *seen;
            if ws.send_text(&receipt_frame(*channel, *seen)).await.is_err() {
                return;
            }
            shared.receipts.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A request id that carries its send instant, `sent_ns` (ns since the bench epoch), so the
/// `ack` echoing it gives the commit latency without a table of requests in flight.
pub fn stamped_id(sent_ns: u64) -> String {
    format!("t{sent_ns}")
}

/// The send instant in a [`stamped_id`]; `None` for any other id.
fn sent_ns_of(id: &str) -> Option<u64> {
    id.strip_prefix('t')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_ids_carry_their_send_instant() {
        assert_eq!(sent_ns_of(&stamped_id(1_234_567_890)), Some(1_234_567_890));
        assert_eq!(sent_ns_of("s12"), None);
        assert_eq!(sent_ns_of("t"), None);
        assert_eq!(sent_ns_of("tx1"), None);
    }
}
