//! Server-side sessions: bearer tokens, their keyed hashes, authentication and revocation.

use banter_proto::Me;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

use crate::clock::now_ms;
use crate::error::AppError;
use crate::hub::SESSION_REVOKED;
use crate::state::AppState;

/// The server secret that keys token hashes: a leaked database alone cannot forge or
/// recognize tokens, and rotating the secret revokes every session.
pub struct TokenKey(Vec<u8>);

impl TokenKey {
    /// Wraps secret bytes (at least 32).
    pub fn new(secret: &[u8]) -> Self {
        Self(secret.to_vec())
    }

    /// HMAC-SHA256 of a token: what the store keeps and looks up.
    pub fn hash(&self, token: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// An authenticated caller: their session and account.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The server-side session.
    pub session_id: Uuid,
    /// The account.
    pub user: Me,
}

/// A new random token: `bnt_` and 43 base64url chars (256 bits).
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("bnt_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Starts a session for `user`; returns `(token, session id)`.
pub async fn start(state: &AppState, user: Uuid) -> Result<(String, Uuid), AppError> {
    let token = new_token();
    let id = Uuid::now_v7();
    state.store.create_session(id, user, &state.token_key.hash(&token), now_ms()).await?;
    Ok((token, id))
}

/// The live session a token belongs to. Error: `unauthorized` (unknown, malformed or revoked).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Auth, AppError> {
    if !token.starts_with("bnt_") || token.len() > 128 {
        return Err(AppError::Unauthorized);
    }
    match state.store.session(&state.token_key.hash(token)).await? {
        Some((session_id, user)) => Ok(Auth { session_id, user }),
        None => Err(AppError::Unauthorized),
    }
}

/// Revokes a session and closes its sockets with 4001 `session_revoked`.
pub async fn revoke(state: &AppState, session_id: Uuid) -> Result<(), AppError> {
    state.store.revoke_session(session_id, now_ms()).await?;
    state.hub.close_session(session_id, SESSION_REVOKED);
    Ok(())
}
