//! The server's integration test program: every test starts its own server on port 0 with a
//! fresh SQLite database and talks to it through real sockets, with the Rust SDK for typed
//! calls and raw tokio-tungstenite where a test needs misbehaving clients.
//!
//! # Layout
//! - [`helpers`]: `TestApp` (spawn, users, connections, shutdown) and assertion helpers.
//! - [`auth`]: register, login, logout (REST 401 and WebSocket 4001), `me`, health.
//! - [`messaging`]: live exchange, gap-free `seq`, `ready`, read watermarks, users.
//! - [`access`]: private channels and DMs: reads, posts and live events for non-members.
//! - [`channels`]: public channels: create, browse, join, leave, names.
//! - [`idempotency`]: resends with the same `client_id`, body and key limits.
//! - [`limits`]: rate limits, login lockout, connection caps, text rules, CORS, headers.
//! - [`history`]: paging boundaries and reassembly.
//! - [`gateway`]: upgrade auth, malformed frames, size limits, heartbeats.
//! - [`backpressure`]: a slow consumer is cut off without stalling a fast one.
//! - [`shutdown`]: graceful shutdown closes sockets with 1012.
//! - [`store_conformance`]: the same store-level cases on SQLite and PostgreSQL.
//! - [`crash`]: SIGKILL during a send storm, restart, nothing acknowledged lost or doubled.
//! - [`cluster`]: three nodes on PostgreSQL + Redis: ordering, revocation, node and Redis loss.
//! - [`resume`]: reconnect, `sync` replay and the gap marker, the client outbox, lost acks.
//! - [`receipts`]: delivered/read watermarks, unread and mention counts across devices.
//! - [`reactions`]: emoji validation, live updates, per-viewer aggregates, the cap.
//! - [`edits`]: edit and delete permissions, tombstones, replies and their quotes.
//! - [`presence`]: best status over devices, grace period, who hears it, `ready`, profiles.
//! - [`typing`]: indicators without the recipient, throttle, expiry, stop/send/disconnect.

mod access;
mod auth;
mod backpressure;
mod channels;
mod cluster;
mod crash;
mod edits;
mod gateway;
mod helpers;
mod history;
mod idempotency;
mod limits;
mod messaging;
mod presence;
mod reactions;
mod receipts;
mod resume;
mod shutdown;
mod store_conformance;
mod typing;
mod wire;
