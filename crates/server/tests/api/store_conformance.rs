//! The store conformance suite: ONE set of store-level cases, each an `async fn(Arc<dyn
//! Store>)`, run against every backend: `sqlite::<case>` on a fresh SQLite file and
//! `postgres::<case>` on a fresh PostgreSQL database (see [`backends`] for the server used and
//! `BANTER_SKIP_POSTGRES`). A backend conforms when it passes the same cases.
//!
//! # Layout
//! - [`backends`]: fresh SQLite files and PostgreSQL databases, created and dropped per test.
//! - [`fixtures`]: users, channels, sends, and a commit hook that records its calls.
//! - [`accounts`]: users (create, taken, credentials, search) and sessions.
//! - [`channels`]: `#general`, creation and visibility, membership and counts, DMs, read marks.
//! - [`messages`]: gap-free `seq` under concurrent writers, hook order, idempotency, paging.
//! - [`live_state`]: last seen, unread and mention counts, delivered/read watermarks, receipt
//!   lists and counts, presence peers.
//! - [`lifecycle`]: a message by id, edits, deletes (tombstones), replies, mention resolution.
//! - [`reactions`]: add/remove with counts, the distinct-emoji limit, `me`, first-use order.
//! - [`postgres_only`]: two nodes on one database; the application booted on PostgreSQL.

mod accounts;
pub(crate) mod backends;
mod channels;
mod fixtures;
mod lifecycle;
mod live_state;
mod messages;
mod postgres_only;
mod reactions;

/// Declares one test per case and backend: `$backend::$case` runs `$module::$case` through
/// `backends::on_$backend`.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        conformance!(@backend sqlite, on_sqlite, $($module::$case),*);
        conformance!(@backend postgres, on_postgres, $($module::$case),*);
    };
    (@backend $backend:ident, $runner:ident, $($module:ident :: $case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::backends::$runner(super::$module::$case).await;
                }
            )*
        }
    };
}

conformance! {
    accounts::users,
    accounts::user_search,
    accounts::sessions,
    channels::ensure_channel,
    channels::create_and_visibility,
    channels::membership,
    channels::direct_messages,
    channels::mark_read,
    messages::concurrent_writers,
    messages::idempotent_replay,
    messages::only_members_send,
    messages::paging,
    live_state::last_seen,
    live_state::unread_and_mentions,
    live_state::advance_delivered,
    live_state::receipts,
    live_state::presence_peers,
    live_state::ready_snapshot,
    lifecycle::message_by_id,
    lifecycle::edit_and_delete,
    lifecycle::replies,
    lifecycle::resolve_mentions,
    reactions::add_and_remove,
    reactions::order_and_range,
    reactions::distinct_limit_under_concurrency,
}
