//! `/api/auth`: register, log in, log out. Sets and clears the session cookie.

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use banter_proto::rest::{AuthResponse, LoginRequest, RegisterRequest};
use cookie::time::Duration;

use crate::error::AppError;
use crate::http::extract::{ApiJson, SESSION_COOKIE};
use crate::http::peer::Peer;
use crate::service::accounts;
use crate::service::sessions::{self, Auth};
use crate::state::AppState;

/// Routes under `/api/auth`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
}

fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .max_age(Duration::days(30))
        .build()
}

async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    jar: CookieJar,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, AppError> {
    let answer: AuthResponse = accounts::register(&state, peer.addr.ip(), req).await?;
    let jar = jar.add(session_cookie(&state, answer.token.clone()));
    Ok((StatusCode::CREATED, jar, Json(answer)))
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    jar: CookieJar,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, AppError> {
    let answer = accounts::login(&state, peer.addr.ip(), req).await?;
    let jar = jar.add(session_cookie(&state, answer.token.clone()));
    Ok((jar, Json(answer)))
}

async fn logout(State(state): State<AppState>, auth: Auth, jar: CookieJar) -> Result<impl IntoResponse, AppError> {
    sessions::revoke(&state, auth.session_id).await?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((StatusCode::NO_CONTENT, jar))
}
