//! The writer thread: owns one connection to the database file (opened through the
//! log-gathering VFS, [`super::gather`], so each commit reaches the log in a few writes) and
//! commits each batch (or part of a delivered flush) it is handed in one blocking call,
//! through prepared statements cached on that connection, so a batch costs one hand-off
//! between threads and back instead of one per statement.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use banter_proto::{MemberReceipt, Message};
use rusqlite::{CachedStatement, Connection, OpenFlags, OptionalExtension, Row};
use uuid::Uuid;

use super::error::to_sqlx;
use super::{checkpoint, gather};
use super::{Job, Move, Moved, Outcome, Write};
use crate::store::sql::{ReceiptRow, MESSAGE_SELECT};
use crate::store::sqlite::read::message_row;
use crate::store::{NewMessage, StoreResult};

/// The PRAGMAs the store's pools set on each connection (see `SqliteStore::connect`), the busy
/// timeout set apart, and no checkpoints on commit ([`super::checkpoint`] runs them; the log's
/// size limit, [`checkpoint::LOG_LIMIT_BYTES`], is set next to them).
const PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA temp_store = memory; PRAGMA wal_autocheckpoint = 0;";
/// How long a statement waits for another connection's lock (as the pools do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Takes the channel's next `seq` (then read with [`HEAD`]) only if the sender is a member:
/// checked inside the batch's transaction, so a removal committed before it is seen, and none
/// can come between the check and the insert. No row changed: not a member (or no such
/// channel). No `RETURNING` here or in [`ADVANCE`]: SQLite gathers returned rows in a temporary
/// B-tree it opens and closes on every execution, which cost more than a second statement
/// (`persist`, 3 pairs: the writer 14.5 -> 12.8 µs per message).
const NEXT_SEQ: &str = "UPDATE channels SET head_seq = head_seq + 1 WHERE id = ?1 \
     AND EXISTS (SELECT 1 FROM members WHERE channel_id = ?1 AND user_id = ?2)";
/// Gives back the `seq` just taken, when the idempotency key turned out to be known.
const UNDO_SEQ: &str = "UPDATE channels SET head_seq = head_seq - 1 WHERE id = ?";
/// Inserts nothing if `(sender_id, client_id)` is known: the idempotency check is the insert's
/// own probe of that unique index.
const INSERT: &str =
    "INSERT OR IGNORE INTO messages (id, channel_id, seq, sender_id, client_id, body, created_at, reply_to) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
const MENTION: &str = "INSERT OR IGNORE INTO mentions (channel_id, user_id, seq) VALUES (?, ?, ?)";
/// Sending shows the sender has seen the channel up to their own message.
const SENDER_SEEN: &str = "UPDATE members SET read_seq = MAX(read_seq, ?3), delivered_seq = MAX(delivered_seq, ?3) \
     WHERE channel_id = ?1 AND user_id = ?2";
/// A channel's head: the `seq` [`NEXT_SEQ`] just took, and read once per channel of a flush.
const HEAD: &str = "SELECT head_seq FROM channels WHERE id = ?";
/// A delivered watermark moves to `?3 = min(seq, head)` only if that is past both
/// `delivered_seq` and `read_seq` (read implies delivered), so never backwards; a move that
/// changed a row reads it back with [`MARKS`].
const ADVANCE: &str = "UPDATE members SET delivered_seq = ?3 \
     WHERE channel_id = ?1 AND user_id = ?2 AND MAX(delivered_seq, read_seq) < ?3";
/// A member's watermarks, as [`ReceiptRow`] reads them.
const MARKS: &str = "SELECT user_id, delivered_seq, read_seq FROM members WHERE channel_id = ?1 AND user_id = ?2";

/// Opens the connection and starts the thread, which commits each job it is sent until the
/// sender is dropped. Errors: the file cannot be opened or configured, or no thread.
pub(super) fn start(path: &Path) -> StoreResult<mpsc::Sender<Job>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    gather::register().map_err(|code| {
        sqlx::Error::Configuration(format!("registering the SQLite log-gathering VFS failed (code {code})").into())
    })?;
    let connection = Connection::open_with_flags_and_vfs(path, flags, gather::NAME).map_err(to_sqlx)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(to_sqlx)?;
    connection.execute_batch(PRAGMAS).map_err(to_sqlx)?;
    connection.pragma_update(None, "journal_size_limit", checkpoint::LOG_LIMIT_BYTES).map_err(to_sqlx)?;
    let original = format!("{MESSAGE_SELECT} WHERE m.sender_id = ? AND m.client_id = ?");
    let checkpoints = checkpoint::start(path)?;
    let committer = Committer { connection, original, checkpoints };
    let (jobs, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new().name("banter-sqlite-writer".into()).spawn(move || {
        while let Ok(job) = rx.recv() {
            match job {
                Job::Commit { writes, done } => {
                    let results = committer.commit(&writes);
                    let _ = done.send(writes.into_iter().zip(results).collect());
                }
                Job::Advance { moves, done } => _ = done.send(committer.advance(&moves)),
            }
            committer.checkpoints.finish_if_asked(&committer.connection);
        }
    })?;
    Ok(jobs)
}

/// The thread's connection and the statement that reads an original message back.
struct Committer {
    connection: Connection,
    /// [`MESSAGE_SELECT`] by idempotency key.
    original: String,
    /// Asks for a checkpoint after each commit; runs the last pass before a restart.
    checkpoints: checkpoint::Checkpoints,
}

impl Committer {
    /// Commits `writes` in one transaction; if that fails, each in its own.
    fn commit(&self, writes: &[Write]) -> Vec<Outcome> {
        match self.transaction(writes) {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(_) => writes.iter().map(|w| self.commit_one(w)).collect(),
        }
    }

    /// Commits one write in its own transaction.
    fn commit_one(&self, write: &Write) -> Outcome {
        self.transaction(std::slice::from_ref(write)).map(|mut r| r.remove(0)).map_err(to_sqlx)
    }

    /// One transaction holding every write of `writes`: all of them, or none. The statements
    /// every send runs are taken from the cache once per batch.
    fn transaction(&self, writes: &[Write]) -> rusqlite::Result<Vec<Option<(Message, bool)>>> {
        self.atomically(|| {
            let c = &self.connection;
            let mut hot = Hot {
                next_seq: c.prepare_cached(NEXT_SEQ)?,
                head: c.prepare_cached(HEAD)?,
                insert: c.prepare_cached(INSERT)?,
                sender_seen: c.prepare_cached(SENDER_SEEN)?,
            };
            writes.iter().map(|w| self.insert(&mut hot, &w.message)).collect()
        })
    }

    /// Moves `moves` in one transaction, in the given order (callers group them by channel):
    /// each channel's head is read once, then one execution of the cached [`ADVANCE`] per
    /// move, and [`MARKS`] for one that moved. Per move, its watermark if it moved (a move into
    /// an unknown channel does not).
    fn advance(&self, moves: &[Move]) -> Moved {
        self.atomically(|| {
            let mut head = self.connection.prepare_cached(HEAD)?;
            let mut update = self.connection.prepare_cached(ADVANCE)?;
            let mut marks = self.connection.prepare_cached(MARKS)?;
            let mut moved = Vec::with_capacity(moves.len());
            let mut current: Option<(Uuid, Option<i64>)> = None;
            for &(channel, user, seq) in moves {
                let channel_head = match current {
                    Some((c, h)) if c == channel => h,
                    _ => {
                        let h = head.query_row([channel], |row| row.get(0)).optional()?;
                        current = Some((channel, h));
                        h
                    }
                };
                let row = match channel_head {
                    Some(h) if update.execute((channel, user, seq.min(h)))? == 1 => {
                        Some(marks.query_row((channel, user), receipt_row)?)
                    }
                    _ => None,
                };
                moved.push(row.map(MemberReceipt::from));
            }
            Ok(moved)
        })
        .map_err(to_sqlx)
    }

    /// Runs `body` in one transaction: committed if it succeeds, rolled back if anything fails.
    fn atomically<T>(&self, body: impl FnOnce() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let c = &self.connection;
        c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let done = body().and_then(|result| c.prepare_cached("COMMIT")?.execute([]).map(|_| result));
        self.checkpoints.mark();
        if done.is_err() && !c.is_autocommit() {
            let _ = c.prepare_cached("ROLLBACK").and_then(|mut s| s.execute([]));
        }
        done
    }

    /// One message inside the transaction: nothing if its sender is not a member of the
    /// channel; otherwise the next `seq` and the insert, or, if the idempotency key is known
    /// (including from earlier in this batch), that `seq` given back and the original. A new
    /// message costs four statements: [`NEXT_SEQ`], [`HEAD`], [`INSERT`] and [`SENDER_SEEN`].
    fn insert(&self, hot: &mut Hot<'_>, message: &NewMessage) -> rusqlite::Result<Option<(Message, bool)>> {
        let c = &self.connection;
        let channel = message.channel_id;
        if hot.next_seq.execute((channel, message.sender.id))? == 0 {
            return Ok(None);
        }
        let seq: i64 = hot.head.query_row([channel], |row| row.get(0))?;
        let inserted = hot.insert.execute((
            message.id,
            channel,
            seq,
            message.sender.id,
            &message.client_id,
            &message.body,
            message.created_at,
            message.reply_to.as_ref().map(|r| r.message_id),
        ))?;
        if inserted == 0 {
            c.prepare_cached(UNDO_SEQ)?.execute([channel])?;
            let original =
                c.prepare_cached(&self.original)?.query_row((message.sender.id, &message.client_id), message_row)?;
            return Ok(Some((original.into(), false)));
        }
        if !message.mentions.is_empty() {
            let mut mention = c.prepare_cached(MENTION)?;
            for user in &message.mentions {
                mention.execute((channel, user, seq))?;
            }
        }
        hot.sender_seen.execute((channel, message.sender.id, seq))?;
        Ok(Some((message.committed(seq), true)))
    }
}

/// The statements every send runs, held for one batch.
struct Hot<'c> {
    next_seq: CachedStatement<'c>,
    head: CachedStatement<'c>,
    insert: CachedStatement<'c>,
    sender_seen: CachedStatement<'c>,
}

/// A [`MARKS`] row, as sqlx reads [`ReceiptRow`].
fn receipt_row(row: &Row<'_>) -> rusqlite::Result<ReceiptRow> {
    Ok(ReceiptRow { user_id: row.get(0)?, delivered_seq: row.get(1)?, read_seq: row.get(2)? })
}
