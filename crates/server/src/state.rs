//! The one cheap-to-clone state every handler and session gets.

use std::sync::Arc;

use uuid::Uuid;

use crate::config::Config;
use crate::hub::Hub;
use crate::service::limits::RateLimits;
use crate::service::passwords::Hasher;
use crate::service::sessions::TokenKey;
use crate::store::Store;

/// Shared state: configuration, persistence, fan-out and keys. Clone freely (all `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// Configuration in force.
    pub config: Arc<Config>,
    /// Persistence backend.
    pub store: Arc<dyn Store>,
    /// Local fan-out.
    pub hub: Hub,
    /// Keys session-token hashes.
    pub token_key: Arc<TokenKey>,
    /// Argon2id hashing with the configured parameters.
    pub hasher: Arc<Hasher>,
    /// Rate limiters (auth, sends, upgrades).
    pub limits: Arc<RateLimits>,
    /// Id of `#general`, which every account joins.
    pub general_id: Uuid,
    /// Presence of the users connected to this node (and, with Redis, their leases).
    pub presence: crate::service::presence::Tracker,
    /// Who is typing where.
    pub typing: crate::service::typing::Tracker,
    /// Delivered receipts waiting for the next coalesced flush.
    pub receipts: crate::service::receipts::Buffer,
    /// Cancelled when the application stops (or is dropped unrun): the background tasks (the
    /// receipt flusher, the presence worker, the typing ticker, the heartbeat ticker) then end
    /// at their next turn and release their clones of this state, so the store closes.
    pub stop: tokio_util::sync::CancellationToken,
}
