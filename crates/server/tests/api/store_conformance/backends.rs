//! Where the suite's stores come from: a fresh SQLite file per test, or a fresh PostgreSQL
//! database per test (created on the server named by `BANTER_TEST_POSTGRES_URL`, default
//! [`DEFAULT_ADMIN_URL`], and dropped afterwards, also when the test fails).
//!
//! An unreachable PostgreSQL FAILS the PostgreSQL variants: CI starts one. Set
//! `BANTER_SKIP_POSTGRES=1` to skip them on a machine without it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use banter_server::store::postgres::PostgresStore;
use banter_server::store::Store;
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

/// The server the PostgreSQL variants use unless `BANTER_TEST_POSTGRES_URL` names another.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The longest one case may run.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// Bounds how many PostgreSQL test databases exist at once, so that parallel tests (each
/// store pools up to 16 connections) stay under the server's `max_connections`.
static POSTGRES_SLOTS: Semaphore = Semaphore::const_new(4);

/// Runs `case` on a store over a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("banter.db").display());
    let store = banter_server::store::connect(&url).await.expect("sqlite store opens").expect("sqlite: is known");
    bounded(case(store)).await;
}

/// Runs `case` on a store over a fresh PostgreSQL database (nothing if skipped).
pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store().await;
    bounded(case(Arc::new(store.clone()))).await;
    store.close().await;
}

async fn bounded(case: impl Future<Output = ()>) {
    if tokio::time::timeout(CASE_TIMEOUT, case).await.is_err() {
        panic!("the case did not finish within {CASE_TIMEOUT:?}");
    }
}

/// A fresh PostgreSQL database, dropped (with its connections) when this value is.
pub struct TestDatabase {
    /// URL of the new database.
    pub url: String,
    name: String,
    admin_url: String,
    _slot: SemaphorePermit<'static>,
}

impl TestDatabase {
    /// Creates `banter_test_<uuid>`; `None` when `BANTER_SKIP_POSTGRES=1`. Panics when the
    /// server cannot be reached.
    pub async fn create() -> Option<TestDatabase> {
        Self::create_for(1).await
    }

    /// Like [`create`](Self::create), for `nodes` servers (each with its own pool) sharing the
    /// database: it takes one slot per node.
    pub async fn create_for(nodes: u32) -> Option<TestDatabase> {
        if std::env::var("BANTER_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("BANTER_SKIP_POSTGRES=1: skipping a PostgreSQL test");
            return None;
        }
        let admin_url = std::env::var("BANTER_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
        let slot = POSTGRES_SLOTS.acquire_many(nodes).await.expect("the semaphore is never closed");
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin_url} is unreachable ({e}); start it, or set BANTER_SKIP_POSTGRES=1 to skip")
        });
        let name = format!("banter_test_{}", Uuid::now_v7().simple());
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create the test database");
        let _ = admin.close().await;
        Some(TestDatabase { url: with_database(&admin_url, &name), name, admin_url, _slot: slot })
    }

    /// A store (one pool, like one node) on this database; migrations applied.
    pub async fn store(&self) -> PostgresStore {
        PostgresStore::connect(&self.url).await.expect("postgres store opens")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and may run while a failed test unwinds: drop the database from a
        // thread with its own runtime. FORCE ends connections a store still holds.
        let (admin_url, sql) = (self.admin_url.clone(), format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin.execute(sql.as_str()).await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `url` with its database (path) replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
    assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
    assert_eq!(with_database("postgresql://h/db?sslmode=disable", "x"), "postgresql://h/x?sslmode=disable");
}

#[tokio::test]
async fn connect_picks_the_backend_by_scheme() {
    for url in ["mysql://root@127.0.0.1/test", "banter.db", ""] {
        assert!(banter_server::store::connect(url).await.unwrap().is_none(), "{url:?} is not supported");
    }
    let Some(db) = TestDatabase::create().await else { return };
    let url = db.url.replacen("postgres://", "postgresql://", 1);
    let store = banter_server::store::connect(&url).await.expect("connects").expect("postgresql: is known");
    store.ping().await.expect("ping");
}
