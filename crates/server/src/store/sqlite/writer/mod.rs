//! The message writer: every message of this SQLite database is committed by one dedicated
//! thread ([`thread`]) with its own connection and prepared statements, with group commit.
//! Sends queue here; a task takes whatever has queued (up to [`MAX_BATCH`]) and hands it to
//! the thread, which commits it in ONE transaction in one blocking call (a failed batch is
//! retried there one message at a time, so one bad send cannot fail the others). The task then
//! runs each new message's commit hook in `seq` order and answers each sender. A send is
//! acknowledged when its batch has committed.
//!
//! One writer assigning seqs makes `head_seq + 1` gap-free and the idempotency check
//! race-free; running the hooks before taking the next batch keeps broadcasts in `seq` order.
//! While a batch commits, the task holds the store's write pool's only connection, so the
//! store's other writes wait for the pool as they did when batches ran on that connection and
//! never meet a second writer in SQLite (where a transaction that read first would fail with
//! `SQLITE_BUSY` instead of waiting).

mod error;
#[cfg(test)]
mod tests;
mod thread;

use std::path::Path;
use std::sync::mpsc as std_mpsc;

use banter_proto::Message;
use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::store::{CommitHook, NewMessage, StoreResult};

/// Most messages committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Sends that may wait for the writer before senders wait to enqueue.
const QUEUE: usize = 4096;

/// One queued send.
struct Write {
    message: NewMessage,
    hook: CommitHook,
    reply: oneshot::Sender<StoreResult<(Message, bool)>>,
}

/// What the thread answers for one write.
type Outcome = StoreResult<(Message, bool)>;

/// A batch for the thread, and where it sends each write back with its outcome.
struct Job {
    writes: Vec<Write>,
    done: oneshot::Sender<Vec<(Write, Outcome)>>,
}

/// Handle to the writer; cheap to clone. The task and the thread end when every handle is
/// dropped.
#[derive(Clone)]
pub struct MessageWriter {
    queue: mpsc::Sender<Write>,
}

impl MessageWriter {
    /// Opens the writer's own connection to the database file at `path` (already created
    /// and migrated through `pool`, with the pool's PRAGMAs), starts its thread, and starts the
    /// task on the current runtime; `pool` is the store's write pool (one connection), held
    /// while each batch commits. Errors: the file cannot be opened.
    pub fn spawn(pool: SqlitePool, path: &Path) -> StoreResult<Self> {
        let jobs = thread::start(path)?;
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, jobs, rx));
        Ok(Self { queue })
    }

    /// Queues `message` and waits for its batch to commit: the committed (or, for a known
    /// idempotency key, the original) message, and whether it is new. `hook` runs once, for a
    /// new message, right after the commit. Errors: the database's, or `WorkerCrashed` if the
    /// writer is gone.
    pub async fn write(&self, message: NewMessage, hook: CommitHook) -> StoreResult<(Message, bool)> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Write { message, hook, reply }).await.map_err(|_| sqlx::Error::WorkerCrashed)?;
        answer.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// Takes whatever has queued, has the thread commit it while holding the write pool, then runs
/// the hooks and answers the senders; again until every handle is dropped.
async fn run(pool: SqlitePool, jobs: std_mpsc::Sender<Job>, mut rx: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let writes = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        let done = match lock(&pool).await {
            Ok(_held) => commit(&jobs, writes).await,
            // As when the batch's transaction could not begin: each write tries on its own.
            Err(_) => {
                let mut done = Vec::with_capacity(writes.len());
                for write in writes {
                    match lock(&pool).await {
                        Ok(_held) => done.extend(commit(&jobs, vec![write]).await),
                        Err(e) => done.push((write, Err(e))),
                    }
                }
                done
            }
        };
        done.into_iter().for_each(|(write, result)| finish(write, result));
    }
}

/// The write pool's connection, kept idle while a batch commits so that no other write runs.
async fn lock(pool: &SqlitePool) -> StoreResult<PoolConnection<Sqlite>> {
    match pool.try_acquire() {
        Some(connection) => Ok(connection),
        None => pool.acquire().await,
    }
}

/// Has the thread commit `writes`; each comes back with its outcome (in order).
async fn commit(jobs: &std_mpsc::Sender<Job>, writes: Vec<Write>) -> Vec<(Write, Outcome)> {
    let (done, answer) = oneshot::channel();
    if let Err(std_mpsc::SendError(job)) = jobs.send(Job { writes, done }) {
        return job.writes.into_iter().map(|w| (w, Err(sqlx::Error::WorkerCrashed))).collect();
    }
    // A panicked thread dropped the writes, whose senders then see `WorkerCrashed`.
    answer.await.unwrap_or_default()
}

/// Runs the hook of a new message, then answers its sender.
fn finish(write: Write, result: Outcome) {
    if let Ok((message, true)) = &result {
        (write.hook)(message);
    }
    let _ = write.reply.send(result);
}
