//! `banter-bench`: a load generator for a running Banter server, over real sockets on
//! loopback only (127.0.0.0/8). Every run is bounded in time and stops by itself.
//!
//! REST setup (users, channels) goes through the SDK's [`banter_client::Client`]; WebSocket
//! sessions are the bench's own lean client ([`conn`]) over sockets this crate dials itself
//! (optionally from several source addresses), so the tool's own cost per frame stays small:
//! frames are taken straight out of one read buffer, `message:receive` frames are scanned for
//! the three fields the accounting needs instead of fully decoded, and every other frame is
//! decoded with the SDK's typed decoder.
//!
//! # Layout
//! - [`opts`]: flags common to every scenario ([`Common`]).
//! - [`clock`]: the bench's monotonic epoch and the timestamped message body.
//! - [`conn`]: the WebSocket session: upgrade, frames read out of one buffer, masked writes.
//! - [`wire`]: encoding `message:send`, the fast `message:receive` scan, typed decode of the rest.
//! - [`net`]: [`Dialer`]: source-address round robin, raw WebSocket connect, `ready`.
//! - [`setup`]: users (registered concurrently, or logged in when they exist) and channels.
//! - [`peer`]: per-connection receive loop: deliveries, latency, acks, receipts.
//! - [`seq`]: (channel, seq) loss/duplicate accounting ([`seq::SeqTracker`]).
//! - [`metrics`]: latency histograms, percentiles, the [`Report`] (table + JSON line).
//! - [`perf`]: `perf record` enabled for the measured window only (`--perf-control`).
//! - [`proc`]: `/proc` sampling of the server (RSS, CPU), the bench's own CPU, `RLIMIT_NOFILE`.
//! - [`threads`]: the server's CPU time per thread name over a window.
//! - [`calibrate`]: the machine's loopback round trip, a yardstick taken before each scenario.
//! - [`hiccup`]: a jHiccup-style meter of the bench CPU's stalls (a thread sleeping 1 ms).
//! - [`scenarios`]: `fanout`, `rooms`, `idle`, `storm`, `persist`, `ramp`.

#![warn(missing_docs)]

pub mod calibrate;
pub mod clock;
pub mod conn;
pub mod hiccup;
pub mod metrics;
pub mod net;
pub mod opts;
pub mod peer;
pub mod perf;
pub mod proc;
pub mod scenarios;
pub mod seq;
pub mod setup;
pub mod threads;
pub mod wire;

pub use metrics::Report;
pub use net::Dialer;
pub use opts::Common;
