//! Banter Rust SDK: typed REST calls and a WebSocket connection yielding typed events.
//!
//! Built strictly against the v1 contract in `docs/protocol.md`; every wire type comes from
//! [`banter_proto`] (re-exported as [`proto`]).
//!
//! ```no_run
//! # async fn demo() -> banter_client::Result<()> {
//! use banter_client::{Client, Connection, Incoming};
//! use banter_client::proto::ws::ServerEvent;
//!
//! let (client, auth) = Client::new("http://127.0.0.1:8080")?.login("ana", "correct horse").await?;
//! let general = client.channels().await?.into_iter().find(|c| c.name == "general").unwrap();
//! let mut conn = Connection::connect(client.base_url(), &auth.token).await?;
//! let ack = conn.send_message(general.id, "hello", "c-1").await?;
//! println!("committed as seq {}", ack.seq);
//! while let Incoming::Event { event, .. } = conn.next_event().await? {
//!     if let ServerEvent::MessageReceive(m) = event {
//!         println!("{}: {}", m.sender.username, m.body);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`error`]: [`ClientError`], the one error type, with the protocol's error `code`.
//! - [`rest`]: [`Client`], one method per REST route (auth, users, channels, DMs, messages).
//! - [`page`]: [`Page`], paging parameters for message history.
//! - [`url`]: base URL checks and the `/api/ws` upgrade request (for raw WebSocket use).
//! - [`gateway`]: [`Connection`], the `/api/ws` session: reads `ready`, sends requests with
//!   auto ids, waits for their `ack`/`error` while buffering other events, and reports closes
//!   with their code.
//! - [`reliable`]: [`Reliable`], a session that reconnects with backoff, resumes every
//!   channel by `seq`, re-sends its outbox with the same `client_id`s, and yields each message
//!   exactly once in order.
//! - `bin/banter-cli.rs`: the `banter-cli` command-line client built on the above.

pub mod backoff;
pub mod error;
pub mod gateway;
mod order;
pub mod page;
pub mod reliable;
pub mod rest;
pub mod url;

pub use backoff::Backoff;
pub use banter_proto as proto;
pub use error::{ClientError, Result};
pub use gateway::{Connection, Incoming};
pub use page::Page;
pub use reliable::{Reliable, ReliableEvent};
pub use rest::Client;
