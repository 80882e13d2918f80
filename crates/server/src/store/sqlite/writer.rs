//! The message writer: one task commits every message of this SQLite database, with group
//! commit. Sends queue here; the task takes whatever has queued (up to [`MAX_BATCH`]) and
//! commits it in ONE transaction, then runs each new message's commit hook in `seq` order and
//! answers each sender. A send is acknowledged when its batch has committed.
//!
//! One task assigning seqs makes `head_seq + 1` gap-free and the idempotency check race-free;
//! running the hooks before taking the next batch keeps broadcasts in `seq` order.

use banter_proto::Message;
use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::store::sql::{MessageRow, MESSAGE_SELECT};
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

/// Handle to the writer task; cheap to clone. The task ends when every handle is dropped.
#[derive(Clone)]
pub struct MessageWriter {
    queue: mpsc::Sender<Write>,
}

impl MessageWriter {
    /// Starts the writer task on the current runtime, writing through `pool`.
    pub fn spawn(pool: SqlitePool) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx));
        Self { queue }
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

async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&pool, &batch).await {
            Ok(results) => batch.drain(..).zip(results).for_each(|(write, result)| finish(write, Ok(result))),
            // A failed batch is retried one by one, so one bad send cannot fail the others.
            Err(_) => {
                for write in batch.drain(..) {
                    let result = commit(&pool, std::slice::from_ref(&write)).await.map(|mut r| r.remove(0));
                    finish(write, result);
                }
            }
        }
    }
}

/// Runs the hook of a new message, then answers its sender.
fn finish(write: Write, result: StoreResult<(Message, bool)>) {
    if let Ok((message, true)) = &result {
        (write.hook)(message);
    }
    let _ = write.reply.send(result);
}

/// Inserts every message of `batch` in one transaction.
async fn commit(pool: &SqlitePool, batch: &[Write]) -> StoreResult<Vec<(Message, bool)>> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for write in batch {
        results.push(insert(&mut tx, &write.message).await?);
    }
    tx.commit().await?;
    Ok(results)
}

/// One message inside the batch's transaction: the original if the idempotency key is known
/// (including from earlier in this batch), otherwise the next `seq` and the insert.
async fn insert(tx: &mut Transaction<'_, Sqlite>, message: &NewMessage) -> StoreResult<(Message, bool)> {
    let sql = format!("{MESSAGE_SELECT} WHERE m.sender_id = ? AND m.client_id = ?");
    let original: Option<MessageRow> =
        sqlx::query_as(&sql).bind(message.sender.id).bind(&message.client_id).fetch_optional(&mut **tx).await?;
    if let Some(original) = original {
        return Ok((original.into(), false));
    }
    let seq: i64 = sqlx::query_scalar("UPDATE channels SET head_seq = head_seq + 1 WHERE id = ? RETURNING head_seq")
        .bind(message.channel_id)
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO messages (id, channel_id, seq, sender_id, client_id, body, created_at, reply_to) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(message.id)
    .bind(message.channel_id)
    .bind(seq)
    .bind(message.sender.id)
    .bind(&message.client_id)
    .bind(&message.body)
    .bind(message.created_at)
    .bind(message.reply_to.as_ref().map(|r| r.message_id))
    .execute(&mut **tx)
    .await?;
    for user in &message.mentions {
        sqlx::query("INSERT OR IGNORE INTO mentions (channel_id, user_id, seq) VALUES (?, ?, ?)")
            .bind(message.channel_id)
            .bind(user)
            .bind(seq)
            .execute(&mut **tx)
            .await?;
    }
    // Sending shows the sender has seen the channel up to their own message.
    sqlx::query(
        "UPDATE members SET read_seq = MAX(read_seq, ?3), delivered_seq = MAX(delivered_seq, ?3) \
         WHERE channel_id = ?1 AND user_id = ?2",
    )
    .bind(message.channel_id)
    .bind(message.sender.id)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    Ok((message.committed(seq), true))
}
