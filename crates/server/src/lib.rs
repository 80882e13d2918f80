//! Banter server: a REST API, a WebSocket gateway and the embedded web client in one binary,
//! on an embedded SQLite database by default or on PostgreSQL to run several nodes.
//!
//! # Layout
//! Data flows one way: edges parse and authenticate, services decide, the store persists,
//! the hub fans out.
//! - [`app`]: build (store, keys, listener), run, graceful shutdown.
//! - [`config`]: CLI flags and `BANTER_*` variables.
//! - [`http`]: REST routers per feature, extractors, error responses, the web client.
//! - [`ws`]: the gateway: upgrade with auth, one task per session (reads, handles, writes).
//! - [`service`]: rules and authorization (accounts, sessions, channels, messages).
//! - [`store`]: the persistence traits, the SQLite and PostgreSQL backends and what they
//!   share ([`store::sql`]); assigns `seq`.
//! - [`hub`]: the connection registry and encode-once fan-out into bounded outboxes; with
//!   Redis, the bridge that publishes each event once per node and reorders remote ones.
//! - [`domain`]: valid-by-construction input values; [`error`]: the stable error codes.

// These docs are for the crate's own developers: module docs link to private items on
// purpose, and resolve with `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

pub mod app;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod service;
pub mod state;
pub mod store;
pub mod ws;

pub use app::{Application, StartupError};
pub use config::Config;

/// Installs the global `tracing` subscriber writing to stderr with `filter` (e.g. `info`).
pub fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
