//! The SQLite writer: every message of this SQLite database is committed by one dedicated
//! thread ([`thread`]) with its own connection and prepared statements, with group commit.
//! Sends queue here; a task takes whatever has queued (up to [`MAX_BATCH`]) and hands it to
//! the thread, which commits it in ONE transaction in one blocking call (a failed batch is
//! retried there one message at a time, so one bad send cannot fail the others). The task then
//! runs each new message's commit hook in `seq` order and answers each sender. A send is
//! acknowledged when its batch has committed.
//!
//! The thread never checkpoints on commit: a thread of its own copies the WAL back into the
//! database file in the background ([`checkpoint`]), so no send waits for a checkpoint's `fsync`.
//!
//! The receipt flusher's delivered watermarks ([`MessageWriter::advance_delivered`]) are
//! written by the same thread, in the order given and in transactions of at most
//! [`DELIVERED_CHUNK`] moves; sends that queued meanwhile commit between two of them, so a
//! large flush holds a send up for one part at most.
//!
//! One writer assigning seqs makes `head_seq + 1` gap-free and the idempotency check
//! race-free; running the hooks before taking the next batch keeps broadcasts in `seq` order.
//! While the thread commits, the task holds the store's write gate ([`super::gate`]), so the
//! store's other writes wait for the gate and never meet a second writer in SQLite (where a
//! transaction that read first would fail with `SQLITE_BUSY` instead of waiting).

mod checkpoint;
pub(super) mod error;
pub mod gather;
#[cfg(test)]
mod gather_tests;
#[cfg(test)]
mod restart_tests;
#[cfg(test)]
mod tests;
mod thread;

use std::path::Path;
use std::sync::mpsc as std_mpsc;

use banter_proto::{MemberReceipt, Message};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::gate::Writes;
use crate::store::{CommitHook, NewMessage, StoreResult};

/// Most messages committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Most delivered-watermark moves written in one transaction: a larger flush is split, and
/// the sends queued meanwhile commit between the parts.
pub const DELIVERED_CHUNK: usize = 128;
/// Sends that may wait for the writer before senders wait to enqueue.
const QUEUE: usize = 4096;

/// One queued send.
struct Write {
    message: NewMessage,
    hook: CommitHook,
    reply: oneshot::Sender<Outcome>,
}

/// What the thread answers for one write: `None` if the sender is not a member.
type Outcome = StoreResult<Option<(Message, bool)>>;

/// A delivered watermark to move: `(channel, user, seq)`.
type Move = (Uuid, Uuid, i64);

/// What the thread answers for some moves: per move (in order), its watermark if it moved.
type Moved = StoreResult<Vec<Option<MemberReceipt>>>;

/// One queued call of [`MessageWriter::advance_delivered`].
struct Advance {
    moves: Vec<Move>,
    reply: oneshot::Sender<StoreResult<Vec<(Uuid, MemberReceipt)>>>,
}

/// Work for the thread, and where it sends the result.
enum Job {
    /// A batch of sends; each comes back with its outcome.
    Commit { writes: Vec<Write>, done: oneshot::Sender<Vec<(Write, Outcome)>> },
    /// Delivered watermarks to move in one transaction.
    Advance { moves: Vec<Move>, done: oneshot::Sender<Moved> },
}

/// Handle to the writer; cheap to clone. The task and the thread end when every handle is
/// dropped.
#[derive(Clone)]
pub struct MessageWriter {
    queue: mpsc::Sender<Write>,
    advances: mpsc::Sender<Advance>,
}

impl MessageWriter {
    /// Opens the writer's own connection to the database file at `path` (already created
    /// and migrated, with the store's PRAGMAs), starts its thread, and starts the task on the
    /// current runtime; `writes` is the store's write gate, held while each batch commits.
    /// Errors: the file cannot be opened.
    pub fn spawn(writes: Writes, path: &Path) -> StoreResult<Self> {
        let jobs = thread::start(path)?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let (advances, advance_rx) = mpsc::channel(4);
        tokio::spawn(run(writes, jobs, rx, advance_rx));
        Ok(Self { queue, advances })
    }

    /// Queues `message` and waits for its batch to commit: the committed (or, for a known
    /// idempotency key, the original) message, and whether it is new; `None` (nothing
    /// written) if the sender is not a member of the channel, as the batch's transaction
    /// reads it. `hook` runs once, for a new message, right after the commit. Errors: the
    /// database's, or `WorkerCrashed` if the writer is gone.
    pub async fn write(&self, message: NewMessage, hook: CommitHook) -> Outcome {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Write { message, hook, reply }).await.map_err(|_| sqlx::Error::WorkerCrashed)?;
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Moves each `(channel, user)`'s `delivered_seq` forward to `min(seq, head_seq)` unless
    /// `max(delivered_seq, read_seq)` is already there (non-members skipped), in the given
    /// order (callers sort by `(channel, user)`, the members table's key, for locality), in
    /// transactions of at most [`DELIVERED_CHUNK`] moves. Returns the watermarks that moved, with their channel,
    /// in the order of `moves`. Errors: the database's (the parts before the failing one stay
    /// written), or `WorkerCrashed` if the writer is gone.
    pub async fn advance_delivered(&self, moves: &[Move]) -> StoreResult<Vec<(Uuid, MemberReceipt)>> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let advance = Advance { moves: moves.to_vec(), reply };
        self.advances.send(advance).await.map_err(|_| sqlx::Error::WorkerCrashed)?;
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// Takes whatever has queued, has the thread commit it while holding the write gate, then runs
/// the hooks and answers the senders; while a delivered flush is in progress, each turn commits
/// the sends queued meanwhile (if any) and then one part of the flush. Again until every
/// handle is dropped.
async fn run(
    writes: Writes,
    jobs: std_mpsc::Sender<Job>,
    mut rx: mpsc::Receiver<Write>,
    mut advances: mpsc::Receiver<Advance>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut flush: Option<Flush> = None;
    loop {
        if flush.is_none() {
            tokio::select! {
                biased;
                n = rx.recv_many(&mut batch, MAX_BATCH) => if n == 0 { return },
                advance = advances.recv() => match advance {
                    Some(advance) => flush = Some(Flush::new(advance)),
                    None => return,
                },
            }
            // A flush waiting behind this batch starts right after it: sends never starve it.
            if flush.is_none() {
                flush = advances.try_recv().ok().map(Flush::new);
            }
        } else {
            while batch.len() < MAX_BATCH {
                let Ok(write) = rx.try_recv() else { break };
                batch.push(write);
            }
        }
        if !batch.is_empty() {
            let taken = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
            send_batch(&writes, &jobs, taken).await;
        }
        if let Some(mut current) = flush.take() {
            if current.step(&writes, &jobs).await {
                current.finish();
            } else {
                flush = Some(current);
            }
        }
    }
}

/// Commits one batch of sends while holding the write gate, then (the gate open again) runs
/// the hooks and answers the senders.
async fn send_batch(writes: &Writes, jobs: &std_mpsc::Sender<Job>, batch: Vec<Write>) {
    let done = {
        let _gate = writes.exclusive().await;
        commit(jobs, batch).await
    };
    done.into_iter().for_each(|(write, result)| finish(write, result));
}

/// A delivered flush in progress: how many of its moves are written, and what moved so far.
struct Flush {
    advance: Advance,
    written: usize,
    moved: Vec<(Uuid, MemberReceipt)>,
    failed: Option<sqlx::Error>,
}

impl Flush {
    /// Starts `advance`.
    fn new(advance: Advance) -> Self {
        Self { advance, written: 0, moved: Vec::new(), failed: None }
    }

    /// Writes the next part in one transaction while holding the write gate; `true` when
    /// nothing is left (or a part failed).
    async fn step(&mut self, writes: &Writes, jobs: &std_mpsc::Sender<Job>) -> bool {
        let all = &self.advance.moves;
        let part = all[self.written..(self.written + DELIVERED_CHUNK).min(all.len())].to_vec();
        self.written += part.len();
        let result = {
            let _gate = writes.exclusive().await;
            advance(jobs, part.clone()).await
        };
        match result {
            Ok(moved) => {
                self.moved.extend(part.iter().zip(moved).filter_map(|(&(channel, ..), r)| r.map(|r| (channel, r))))
            }
            Err(e) => self.failed = Some(e),
        }
        self.failed.is_some() || self.written == self.advance.moves.len()
    }

    /// Answers the caller: the moved watermarks in the order of its moves, or the error.
    fn finish(self) {
        let result = match self.failed {
            Some(e) => Err(e),
            None => Ok(self.moved),
        };
        let _ = self.advance.reply.send(result);
    }
}

/// Has the thread commit `writes`; each comes back with its outcome (in order).
async fn commit(jobs: &std_mpsc::Sender<Job>, writes: Vec<Write>) -> Vec<(Write, Outcome)> {
    let (done, answer) = oneshot::channel();
    // Without the thread, or if it panicked, the writes are dropped and their senders see
    // `WorkerCrashed`.
    if jobs.send(Job::Commit { writes, done }).is_err() {
        return Vec::new();
    }
    answer.await.unwrap_or_default()
}

/// Has the thread move `moves` in one transaction.
async fn advance(jobs: &std_mpsc::Sender<Job>, moves: Vec<Move>) -> Moved {
    let (done, answer) = oneshot::channel();
    jobs.send(Job::Advance { moves, done }).map_err(|_| sqlx::Error::WorkerCrashed)?;
    answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
}

/// Runs the hook of a new message, then answers its sender.
fn finish(write: Write, result: Outcome) {
    if let Ok(Some((message, true))) = &result {
        (write.hook)(message);
    }
    let _ = write.reply.send(result);
}
