//! Registration, login and user lookup.

use banter_proto::rest::{AuthResponse, LoginRequest, RegisterRequest};
use std::net::IpAddr;

use banter_proto::User;
use uuid::Uuid;

use crate::clock::now_ms;
use crate::domain::{DisplayName, Email, Password, Username};
use crate::error::AppError;
use crate::service::sessions;
use crate::state::AppState;
use crate::store::NewUser;

/// Creates an account (joined to `#general`) and a session for it. Errors: `invalid_*`,
/// `username_taken`.
pub async fn register(state: &AppState, ip: IpAddr, req: RegisterRequest) -> Result<AuthResponse, AppError> {
    state.limits.auth(ip)?;
    let username = Username::parse(&req.username)?;
    let password = Password::parse(req.password)?;
    let email = Email::parse_optional(req.email.as_deref())?;
    let display_name = DisplayName::parse_or(req.display_name.as_deref(), username.as_str())?;
    let password_hash = state.hasher.hash(password.expose().to_owned()).await?;
    let new = NewUser {
        id: Uuid::now_v7(),
        username: username.as_str().to_owned(),
        display_name: display_name.into_string(),
        email: email.map(Email::into_string),
        password_hash,
        created_at: now_ms(),
    };
    let me = state
        .store
        .create_user(new, state.general_id)
        .await?
        .ok_or(AppError::Conflict("username_taken", "that username is taken"))?;
    let (token, session_id) = sessions::start(state, me.user.id).await?;
    Ok(AuthResponse { user: me, token, session_id })
}

/// Checks credentials and starts a session. Error: `invalid_credentials`, the same whether
/// the user is unknown or the password wrong (and taking the same time); `rate_limited` when
/// `ip` tried too often or the account is in its growing failure delay.
pub async fn login(state: &AppState, ip: IpAddr, req: LoginRequest) -> Result<AuthResponse, AppError> {
    state.limits.auth(ip)?;
    state.limits.login_allowed(&req.username)?;
    let found = match Username::parse(&req.username) {
        Ok(username) => state.store.credentials(username.as_str()).await?,
        Err(_) => None,
    };
    let (me, hash) = match found {
        Some(c) => (Some(c.me), Some(c.password_hash)),
        None => (None, None),
    };
    let password = req.password.chars().take(256).collect();
    let ok = state.hasher.verify(password, hash).await?;
    let Some(me) = me.filter(|_| ok) else {
        state.limits.login_failed(&req.username);
        return Err(AppError::InvalidCredentials);
    };
    state.limits.login_succeeded(&req.username);
    let (token, session_id) = sessions::start(state, me.user.id).await?;
    Ok(AuthResponse { user: me, token, session_id })
}

/// Users whose username or display name starts with `q`, at most 20.
pub async fn search(state: &AppState, q: &str) -> Result<Vec<User>, AppError> {
    let q: String = q.trim().chars().take(64).collect();
    Ok(state.store.search_users(&q, 20).await?)
}

/// One user's public profile. Error: `not_found`.
pub async fn profile(state: &AppState, id: Uuid) -> Result<User, AppError> {
    state.store.user(id).await?.map(|me| me.user).ok_or(AppError::NotFound)
}
