//! The write gate: one async lock in front of everything that writes to the SQLite file, so
//! that the store's sqlx writes and the message writer's thread ([`super::writer`]) never meet
//! in SQLite, where a transaction that read first would fail with `SQLITE_BUSY` instead of
//! waiting for the other writer.
//!
//! A sqlx write takes the gate, then the write pool's only connection ([`Writes::acquire`]),
//! and gives back both when its [`WriteConnection`] is dropped. The message writer takes only
//! the gate ([`Writes::exclusive`]) while its thread commits a batch or a part of a receipt
//! flush. Taking the gate costs no round trip to sqlx's worker thread, whereas holding the
//! pool's connection did: sqlx pings a SQLite connection (a hand-off to its worker thread and
//! back) whenever the pool hands it out and takes it back, twice per committed batch.
//!
//! When a [`WriteConnection`] is dropped, its connection goes back to the pool in a task
//! of sqlx's (which first runs whatever the connection still has queued: the rollback of a
//! dropped transaction, the rest of a cancelled query), so the gate may open before that has
//! run. That is safe: the next sqlx write waits for the pool to get the connection back, and
//! the message writer's thread begins with `BEGIN IMMEDIATE`, which waits (busy timeout) for a
//! lock still held rather than failing; a leftover of a cancelled query that meets the thread
//! can fail, but nobody waits for its result any more.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

use crate::store::StoreResult;

/// The store's write pool (one connection) behind the write gate; cheap to clone (the clones
/// share the gate).
#[derive(Clone)]
pub struct Writes {
    pool: SqlitePool,
    /// Held by whoever writes: a [`WriteConnection`] or the message writer.
    gate: Arc<Mutex<()>>,
}

impl Writes {
    /// Puts the gate in front of `pool`, the store's write pool; nothing else may write
    /// through `pool` from now on.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool, gate: Arc::new(Mutex::new(())) }
    }

    /// Waits for the gate (in turn with the other writers), then for the pool's connection.
    /// Errors: the pool's (closed, or no connection within its acquire timeout).
    pub async fn acquire(&self) -> StoreResult<WriteConnection> {
        let gate = Arc::clone(&self.gate).lock_owned().await;
        let connection = self.pool.acquire().await?;
        Ok(WriteConnection { connection, _gate: gate })
    }

    /// Waits for the gate and holds it, without the pool's connection, until the guard is
    /// dropped: no sqlx write runs meanwhile.
    pub async fn exclusive(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().await
    }
}

/// The write pool's connection, held with the gate; a `SqliteConnection` to run writes on
/// (`&mut *connection` is an executor; `connection.begin()` starts a transaction). Dropping it
/// returns the connection to the pool, then opens the gate.
pub struct WriteConnection {
    // Fields drop in order: the connection is handed back before the gate opens.
    connection: PoolConnection<Sqlite>,
    _gate: OwnedMutexGuard<()>,
}

impl Deref for WriteConnection {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.connection
    }
}

impl DerefMut for WriteConnection {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.connection
    }
}
