//! The SQLite backend (the default): one file under the data dir, WAL journal.
//!
//! Messages are committed with group commit by one writer thread on its own connection
//! ([`writer`]); other writes go through a single-connection pool. Both take the write gate
//! ([`gate`]) first, so writes never contend for SQLite's lock;
//! reads proceed concurrently under WAL: the hot point reads (every connect, every send) run
//! inline on the calling thread ([`read`]), the others through a sqlx reader pool. `synchronous = NORMAL` in WAL
//! mode makes a committed transaction survive a process crash (an OS crash or power loss may
//! lose the last few commits, never corrupt the file).

mod channels;
mod gate;
mod messages;
#[cfg(test)]
mod migration_tests;
mod read;
mod users;
pub mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::{Store, StoreResult};

/// A SQLite database: a writer pool of one connection behind the write gate, a reader pool, and
/// inline readers.
#[derive(Clone)]
pub struct SqliteStore {
    writer: gate::Writes,
    reader: SqlitePool,
    /// The hot point reads, run on the calling thread.
    inline: Arc<read::Readers>,
    messages: writer::MessageWriter,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`) and applies the
    /// migrations in `migrations/sqlite`. Errors: the file cannot be opened or migrated.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("temp_store", "memory");
        // Unlike sqlx's default, no ping when the pool hands out its connection, saving a round
        // trip to sqlx's worker thread per write: the pool pings the connection as it takes it back
        // (which cannot be turned off), so an idle connection was checked when it went idle, and
        // nothing can break a local SQLite connection while it sits idle in the pool (should
        // its worker thread be gone anyway, the next write fails and that release ping drops
        // the connection for a new one).
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let writer = gate::Writes::new(pool);
        let messages = writer::MessageWriter::spawn(writer.clone(), options.get_filename())?;
        let inline = Arc::new(read::Readers::open(options.get_filename())?);
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(Self { writer, reader, inline, messages })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map(|_| ())
    }
}
