//! Banter wire types, shared by the server, the Rust SDK and the bench tool.
//!
//! This crate owns the v1 contract documented in `docs/protocol.md`: every REST request and
//! response body and every WebSocket frame is a type here. It has no I/O dependencies.
//!
//! # Layout
//! - [`model`]: resources as they appear on the wire (`User`, `Channel`, `Message`, ...).
//! - [`rest`]: REST request bodies, list wrappers and the error body.
//! - [`time`]: how timestamps are written on the wire.
//! - [`ws`]: WebSocket frames: [`ws::ClientEvent`] (client → server), [`ws::ServerEvent`]
//!   (server → client) and the envelope codec.
//!
//! Changes within v1 are additive: new optional fields, new event types.

pub mod model;
pub mod rest;
pub mod time;
pub mod ws;

pub use model::*;
