//! The PostgreSQL backend, for running several nodes against one database.
//!
//! Same traits and same wire output as [`super::sqlite`]; its schema lives in
//! `migrations/postgres` and is applied at start-up (sqlx takes an advisory lock, so nodes
//! starting together migrate once). One pool of at most [`MAX_CONNECTIONS`] connections serves
//! reads and writes; every transaction runs at READ COMMITTED, the PostgreSQL default.
//!
//! # Concurrency
//! - `seq`: a send runs `UPDATE channels SET head_seq = head_seq + 1 ... RETURNING head_seq`
//!   and inserts the message in the same transaction. The UPDATE takes the channel row's lock
//!   until commit, so concurrent senders to one channel — from any node — serialize there, and
//!   a send that rolls back also rolls back its increment: `seq` stays gap-free.
//! - Idempotency: the insert is `ON CONFLICT (sender_id, client_id) DO NOTHING`, which waits
//!   for a concurrent insert of the same key; when it inserted nothing, the transaction rolls
//!   back (undoing the increment) and the committed original is read and returned.
//! - Commit hook order: within this process, a striped set of async mutexes keyed by channel
//!   is held from before the UPDATE until the hook returned (see `messages.rs`).
//! - DMs: `INSERT ... ON CONFLICT (dm_a, dm_b) DO NOTHING` makes the pair's unique key decide
//!   concurrent `open_dm` calls; the loser reads the winner's channel.
//! - Member counts change in the transaction that adds or removes the member row.
//! - Watermarks: `GREATEST` under the member row's lock, so they only move forward; a batch of
//!   delivered moves locks its rows in `(channel, user)` order (see `receipts.rs`).
//! - Reactions: an add locks the message row first, so the distinct-emoji limit holds across
//!   nodes (see `reactions.rs`); edits and deletes re-check `deleted_at` under the same lock.

mod channels;
mod messages;
mod reactions;
mod receipts;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};

use self::messages::ChannelLocks;
use super::{Store, StoreResult};

/// Largest number of connections one node keeps to the database (fixed for now; several nodes
/// multiply it, so keep `max_connections` on the server above nodes × this).
pub const MAX_CONNECTIONS: u32 = 16;

/// A PostgreSQL database: one connection pool, plus this node's per-channel send locks.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Orders commit hooks per channel within this process; see `messages.rs`.
    locks: Arc<ChannelLocks>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) and applies the migrations in
    /// `migrations/postgres`. Errors: the server is unreachable, refuses the login, or the
    /// migrations fail.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new().max_connections(MAX_CONNECTIONS).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool, locks: Arc::new(ChannelLocks::default()) })
    }

    /// Closes the pool's connections (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}
