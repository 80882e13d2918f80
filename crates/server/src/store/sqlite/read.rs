//! Point reads on the calling thread: a few rusqlite read-only connections to the database
//! file, used for the reads every connect and every send make (the session, the `ready`
//! snapshot, the sender's role). A read takes an idle connection (opening one if none is
//! free), runs its query synchronously through a cached prepared statement, and puts the
//! connection back.
//!
//! Why inline, on the async worker: every sqlx SQLite query is a round trip to sqlx's worker
//! thread (plus a ping when a connection is acquired and when it is released), and on a
//! server with one core each hop is a context switch; that costs ~20–30 µs of CPU per query,
//! while a point lookup on a warm page cache takes a few µs. Blocking the worker that long is
//! cheaper than handing the work off. This holds only for small, indexed reads: scans whose
//! size the client controls (history pages, search, member lists) stay on the sqlx reader
//! pool, where they cannot stall the worker. Under WAL a reader never waits for the writer;
//! the busy timeout (as on the other connections) only matters in rare cases such as WAL
//! recovery after a crash.
//!
//! The connections are opened read-only with `query_only` set; the WAL journal mode is the
//! file's own (set by the write pool, it persists), as for the sqlx readers.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, Row};

use super::writer::error::to_sqlx;
use crate::store::sql::{ChannelReceiptRow, ChannelRow, MessageRow, ReceiptRow, UserRow};
use crate::store::StoreResult;

/// How long a statement waits for another connection's lock (as the pools do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// PRAGMAs of each connection: it never writes, and temporary tables stay in memory.
const PRAGMAS: &str = "PRAGMA query_only = ON; PRAGMA temp_store = memory;";
/// Idle connections kept; more are opened when reads overlap (several runtime workers) and
/// closed on return.
const MAX_IDLE: usize = 4;
/// Prepared statements cached per connection (the hot reads, with room to spare).
const STATEMENTS: usize = 32;

/// The inline readers of one database file.
pub(super) struct Readers {
    path: PathBuf,
    /// std lock: held only to pop or push a connection, never while a query runs and never
    /// across an `.await` (reads are synchronous).
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Opens one reader of the database at `path` (already created and migrated). Errors: the
    /// file cannot be opened or configured.
    pub(super) fn open(path: &Path) -> StoreResult<Self> {
        let first = connect(path)?;
        Ok(Self { path: path.to_owned(), idle: Mutex::new(vec![first]) })
    }

    /// The first row `sql` returns for `params`, mapped by `map`, if any.
    pub(super) fn optional<T, P, F>(&self, sql: &str, params: P, map: F) -> StoreResult<Option<T>>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.with(|c| Reads(c).optional(sql, params, map))
    }

    /// Every row `sql` returns for `params`, mapped by `map`.
    pub(super) fn all<T, P, F>(&self, sql: &str, params: P, map: F) -> StoreResult<Vec<T>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.with(|c| Reads(c).all(sql, params, map))
    }

    /// Runs `reads` on one connection, each statement its own transaction.
    pub(super) fn read<T>(&self, reads: impl FnOnce(&Reads<'_>) -> rusqlite::Result<T>) -> StoreResult<T> {
        self.with(|c| reads(&Reads(c)))
    }

    /// Runs several reads in one read transaction: they see one state of the database, and
    /// the database file is locked and unlocked once instead of once per statement.
    pub(super) fn transaction<T>(&self, reads: impl FnOnce(&Reads<'_>) -> rusqlite::Result<T>) -> StoreResult<T> {
        self.with(|c| {
            c.prepare_cached("BEGIN")?.execute([])?;
            let result = reads(&Reads(c));
            let end = c.prepare_cached(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })?.execute([]);
            let value = result?;
            end?;
            Ok(value)
        })
    }

    /// Runs `read` on an idle connection (or a new one), on this thread.
    fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        // A statement of its own, so the lock is released before the query (or an open) runs.
        let idle = self.idle().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => connect(&self.path)?,
        };
        let result = read(&connection).map_err(to_sqlx);
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
        result
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads on one connection, alone or inside [`Readers::transaction`].
pub(super) struct Reads<'c>(&'c Connection);

impl Reads<'_> {
    /// The first row `sql` returns for `params`, mapped by `map`, if any.
    pub(super) fn optional<T, P, F>(&self, sql: &str, params: P, map: F) -> rusqlite::Result<Option<T>>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.0.prepare_cached(sql)?.query_row(params, map).optional()
    }

    /// Every row `sql` returns for `params`, mapped by `map`.
    pub(super) fn all<T, P, F>(&self, sql: &str, params: P, map: F) -> rusqlite::Result<Vec<T>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.0.prepare_cached(sql)?.query_map(params, map)?.collect()
    }
}

/// A new read-only connection to `path`.
fn connect(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(to_sqlx)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(to_sqlx)?;
    connection.execute_batch(PRAGMAS).map_err(to_sqlx)?;
    connection.set_prepared_statement_cache_capacity(STATEMENTS);
    Ok(connection)
}

/// A [`crate::store::sql::USER_COLUMNS`] row, read by column name as sqlx's `FromRow` reads it.
pub(super) fn user_row(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get("id")?,
        username: row.get("username")?,
        display_name: row.get("display_name")?,
        email: row.get("email")?,
        created_at: row.get("created_at")?,
    })
}

/// A [`crate::store::sql::CHANNEL_SELECT_SQLITE`] row.
pub(super) fn channel_row(row: &Row<'_>) -> rusqlite::Result<ChannelRow> {
    Ok(ChannelRow {
        id: row.get("id")?,
        kind: row.get("kind")?,
        name: row.get("name")?,
        topic: row.get("topic")?,
        head_seq: row.get("head_seq")?,
        member_count: row.get("member_count")?,
        created_at: row.get("created_at")?,
        role: row.get("role")?,
        read_seq: row.get("read_seq")?,
        delivered_seq: row.get("delivered_seq")?,
        joined_at: row.get("joined_at")?,
        mention_count: row.get("mention_count")?,
        peer_id: row.get("peer_id")?,
        peer_username: row.get("peer_username")?,
        peer_display_name: row.get("peer_display_name")?,
        peer_created_at: row.get("peer_created_at")?,
    })
}

/// A `channel_id, user_id, delivered_seq, read_seq` row.
pub(super) fn channel_receipt_row(row: &Row<'_>) -> rusqlite::Result<ChannelReceiptRow> {
    Ok(ChannelReceiptRow {
        channel_id: row.get("channel_id")?,
        receipt: ReceiptRow {
            user_id: row.get("user_id")?,
            delivered_seq: row.get("delivered_seq")?,
            read_seq: row.get("read_seq")?,
        },
    })
}

/// A [`crate::store::sql::MESSAGE_SELECT`] row.
pub(in crate::store::sqlite) fn message_row(row: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: row.get("id")?,
        channel_id: row.get("channel_id")?,
        seq: row.get("seq")?,
        client_id: row.get("client_id")?,
        body: row.get("body")?,
        created_at: row.get("created_at")?,
        edited_at: row.get("edited_at")?,
        deleted_at: row.get("deleted_at")?,
        sender_id: row.get("sender_id")?,
        username: row.get("username")?,
        display_name: row.get("display_name")?,
        sender_created_at: row.get("sender_created_at")?,
        reply_id: row.get("reply_id")?,
        reply_seq: row.get("reply_seq")?,
        reply_body: row.get("reply_body")?,
        reply_deleted_at: row.get("reply_deleted_at")?,
        reply_sender_id: row.get("reply_sender_id")?,
        reply_username: row.get("reply_username")?,
        reply_display_name: row.get("reply_display_name")?,
        reply_sender_created_at: row.get("reply_sender_created_at")?,
    })
}
