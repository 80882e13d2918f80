//! Checkpoints off the commit path. SQLite in WAL mode copies the log back into the database
//! file (a checkpoint, ending in an `fsync`) on the commit that takes the log past 1,000
//! pages; on the writer thread that stalled every send queued behind that commit, about ten
//! times a second under steady chat traffic. The writer thread's connection therefore never
//! checkpoints (`wal_autocheckpoint = 0`); this thread does, every [`INTERVAL`] after a
//! commit, with `PASSIVE` (it never waits for the writer or for readers, and copies each page
//! once however often it was rewritten in the log meanwhile).
//!
//! Durability is unchanged: a commit is in the log (`synchronous = NORMAL`) whether or not it
//! was checkpointed yet, and readers see the log.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::to_sqlx;
use crate::store::StoreResult;

/// Longest time between a commit and the checkpoint that copies it into the database file.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// Tells the checkpoint thread that something was committed; the thread ends once every
/// handle is dropped.
#[derive(Clone)]
pub(super) struct Dirty(Arc<AtomicBool>);

impl Dirty {
    /// Marks the log as holding commits not yet checkpointed.
    pub(super) fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Opens the thread's own connection to the database at `path` and starts it. Errors: the
/// file cannot be opened, or no thread.
pub(super) fn start(path: &Path) -> StoreResult<Dirty> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(to_sqlx)?;
    let dirty = Arc::new(AtomicBool::new(false));
    let flag = dirty.clone();
    std::thread::Builder::new().name("banter-sqlite-checkpoint".into()).spawn(move || {
        // The last handle is ours: the writer is gone.
        while Arc::strong_count(&flag) > 1 {
            std::thread::sleep(INTERVAL);
            if flag.swap(false, Ordering::Relaxed) {
                checkpoint(&connection);
            }
        }
    })?;
    Ok(Dirty(dirty))
}

/// One `PASSIVE` checkpoint; a failure is logged (the next one retries, and SQLite checkpoints
/// on close anyway).
fn checkpoint(connection: &Connection) {
    let result = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match result {
        Ok((_, log, copied)) => tracing::trace!(log, copied, "checkpoint"),
        Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
    }
}
