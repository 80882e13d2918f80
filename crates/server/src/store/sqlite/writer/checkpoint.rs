//! Checkpoints off the commit path, and a log that stays bounded under a steady stream of
//! commits.
//!
//! SQLite in WAL mode copies the log back into the database file (a checkpoint, ending in an
//! `fsync`) on the commit that takes the log past 1,000 pages; on the writer thread that
//! stalled every send queued behind that commit, about ten times a second under steady chat
//! traffic. The writer thread's connection therefore never checkpoints on commit
//! (`wal_autocheckpoint = 0`); this thread does, every [`INTERVAL`] after a commit, with
//! `PASSIVE` (it never waits for the writer or for readers, and copies each page once however
//! often it was rewritten in the log meanwhile).
//!
//! A checkpoint alone never shortens the log: SQLite writes the log from its start again only
//! when a write transaction begins with every frame copied back and no reader still in the
//! log. Under a steady stream of commits this thread never gets there (frames arrive while it
//! copies), and the log grew without bound: 1.9 GB in a 10 s `persist` run over a 43 MB
//! database, every frame a fresh page of the page cache and a fresh block of the disk. So when
//! a checkpoint leaves a log of [`RESTART_FRAMES`] or more, this thread checkpoints again,
//! until a pass copied at most [`HANDOFF_FRAMES`] (at most [`MAX_PASSES`] passes), then asks
//! the writer thread for the last pass, which it runs between two of its transactions
//! ([`Checkpoints::finish_if_asked`]): no commit comes between that pass and the writer's next
//! transaction, which then starts the log over (unless a reader is still in it; the next
//! round tries again). The last pass copies a few hundred frames at most; with its two
//! `fsync`s it took 4–10 ms here under the `persist` load (the disk busy writing back the
//! log). `journal_size_limit` on the writer's connection trims a log that grew past it (say
//! while a long read kept it from starting over).
//!
//! Durability is unchanged: a commit is in the log (`synchronous = NORMAL`) whether or not it
//! was checkpointed yet, readers see the log, and a checkpoint syncs the database file before
//! the log is written over.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::to_sqlx;
use crate::store::StoreResult;

/// Longest time between a commit and the checkpoint that copies it into the database file.
pub const INTERVAL: Duration = Duration::from_millis(250);
/// A log of at least this many frames (4 KiB pages, so 64 MiB) is started over after its
/// checkpoint. Each restart costs the writer its last pass (a few ms of held sends); at 4,096
/// frames `persist` restarted about 4 times a second, and this threshold gave 5% more acked
/// messages/s and an ack p99 of 10.3 instead of 13.0 ms (6 interleaved pairs), for a log of up to
/// ~140 MB instead of ~90 MB at full load.
pub const RESTART_FRAMES: i64 = 16384;
/// `journal_size_limit` of the writer's connection, in bytes: a log that grew past twice the
/// restart size (say while a long read kept it from starting over) is trimmed back to this
/// when it starts over (4 KiB pages: 128 MiB).
pub const LOG_LIMIT_BYTES: i64 = 2 * RESTART_FRAMES * 4096;
/// This thread hands the last pass to the writer thread once one of its passes copied at most
/// this many frames (about as many as the writer's pass will find).
pub const HANDOFF_FRAMES: i64 = 256;
/// Most passes this thread makes per round before handing off whatever is left.
pub const MAX_PASSES: usize = 4;

/// What the checkpoint thread and the writer thread share; the checkpoint thread ends once
/// every handle is dropped.
#[derive(Clone)]
pub(super) struct Checkpoints(Arc<Shared>);

struct Shared {
    /// The log holds commits not yet checkpointed.
    dirty: AtomicBool,
    /// The writer thread should run the last pass before a restart.
    restart: AtomicBool,
}

impl Checkpoints {
    /// Marks the log as holding commits not yet checkpointed.
    pub(super) fn mark(&self) {
        self.0.dirty.store(true, Ordering::Relaxed);
    }

    /// On the writer thread, between two transactions: if the checkpoint thread asked for it,
    /// the last pass before the log starts over, on the writer's `connection`.
    pub(super) fn finish_if_asked(&self, connection: &Connection) {
        if self.0.restart.swap(false, Ordering::Relaxed) {
            passive(connection);
        }
    }
}

/// Opens the thread's own connection to the database at `path` and starts it. Errors: the
/// file cannot be opened, or no thread.
pub(super) fn start(path: &Path) -> StoreResult<Checkpoints> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(to_sqlx)?;
    let shared = Arc::new(Shared { dirty: AtomicBool::new(false), restart: AtomicBool::new(false) });
    let ours = shared.clone();
    std::thread::Builder::new().name("banter-sqlite-checkpoint".into()).spawn(move || {
        // The last handle is ours: the writer is gone.
        while Arc::strong_count(&ours) > 1 {
            std::thread::sleep(INTERVAL);
            if ours.dirty.swap(false, Ordering::Relaxed) && round(&connection) {
                ours.restart.store(true, Ordering::Relaxed);
            }
        }
    })?;
    Ok(Checkpoints(shared))
}

/// One round of checkpoints; `true` if the log is long enough to start over and the last
/// pass here copied few enough frames that the writer thread's pass will be as short (the
/// frames a pass leaves are those committed while it ran, and it runs as long as it copies).
fn round(connection: &Connection) -> bool {
    let Some(mut log) = passive(connection) else { return false };
    if log < RESTART_FRAMES {
        return false;
    }
    for _ in 1..MAX_PASSES {
        let Some(now) = passive(connection) else { return false };
        if now < log {
            // Started over meanwhile (a commit found the log all copied back).
            return false;
        }
        let copied = now - log;
        log = now;
        if copied <= HANDOFF_FRAMES {
            break;
        }
    }
    true
}

/// One `PASSIVE` checkpoint, which copies back every frame committed before it began (that no
/// reader still needs): the frames in the log when it began. A failure is logged (the next
/// one retries, and SQLite checkpoints on close anyway) and gives `None`.
fn passive(connection: &Connection) -> Option<i64> {
    let started = std::time::Instant::now();
    let result = connection
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?)));
    match result {
        Ok((log, copied)) => {
            let micros = started.elapsed().as_micros();
            tracing::trace!(log, copied, micros, "checkpoint");
            Some(log)
        }
        Err(e) => {
            tracing::warn!(error = %e, "checkpoint failed");
            None
        }
    }
}
