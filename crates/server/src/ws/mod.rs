//! The WebSocket gateway at `/api/ws`: authenticates BEFORE accepting the upgrade, then hands
//! the socket to a [`session`]. Frames are decoded and answered in [`dispatch`].

mod dispatch;
mod duplex;
pub mod heartbeat;
mod session;
pub mod socket;

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::AppError;
use crate::http::error::custom;
use crate::http::extract::{token, TokenSource};
use crate::http::peer::Peer;
use crate::service::sessions;
use crate::state::AppState;
use socket::upgrade::{Upgrade, UpgradeRejection};

/// The gateway route. Its sessions share one handle to `state` (8 bytes each, not a copy).
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new().route("/api/ws", get(upgrade)).with_state(Arc::new(state.clone()))
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    ws: Result<Upgrade, UpgradeRejection>,
) -> Response {
    if let Err(e) = state.limits.upgrade(peer.addr.ip()) {
        return e.into_response();
    }
    let Some((token, source)) = token(&headers) else { return AppError::Unauthorized.into_response() };
    let auth = match sessions::authenticate(&state, &token).await {
        Ok(auth) => auth,
        Err(e) => return e.into_response(),
    };
    if source == TokenSource::Cookie && !origin_allowed(&headers, &state.config.allowed_origins) {
        return custom(StatusCode::FORBIDDEN, "origin_not_allowed", "this origin may not open a session socket");
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if state.hub.connection_count() >= state.config.max_connections {
        return custom(StatusCode::SERVICE_UNAVAILABLE, "server_full", "this server holds all the connections it can");
    }
    if state.hub.user_connection_count(auth.user.user.id) >= state.config.max_connections_per_user {
        return custom(StatusCode::TOO_MANY_REQUESTS, "too_many_connections", "close another connection first");
    }
    // The `101` waits in the kernel for the `ready` frame (the session lets both go), so the
    // client gets them in one segment.
    socket::write::hold_segments(peer.socket, true);
    ws.accept(move |socket, early| session::run(state, socket, early, auth))
}

/// A cookie-authenticated upgrade must come from a page of this host or a configured origin.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return true;
    }
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    origin_host.is_some() && origin_host == host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_host_or_configured_origins_only() {
        assert!(origin_allowed(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"), &[]));
        assert!(!origin_allowed(&headers(Some("http://evil.example"), "127.0.0.1:8080"), &[]));
        assert!(!origin_allowed(&headers(None, "127.0.0.1:8080"), &[]));
        let allowed = vec!["https://chat.example.com".to_owned()];
        assert!(origin_allowed(&headers(Some("https://chat.example.com"), "10.0.0.1:8080"), &allowed));
    }
}
