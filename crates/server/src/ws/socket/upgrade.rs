//! The opening handshake (RFC 6455 §4.2) over HTTP/1.1: [`Upgrade`] extracts and checks a
//! WebSocket upgrade request; [`Upgrade::accept`] answers `101` and runs a session on the
//! socket hyper hands over once the response is written.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::http::error::custom;

/// The socket of an accepted upgrade: the TCP connection itself, taken back from hyper (the
/// server's loop, [`crate::http::serve`], serves plain TCP connections).
pub type Socket = TcpStream;

/// A checked WebSocket upgrade request, not yet accepted.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a request is not a WebSocket upgrade this server accepts. Answered as a JSON error
/// with a stable code: 400 `not_websocket` or 426 `unsupported_websocket_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeRejection {
    /// Not a `GET` with `Connection: upgrade`, `Upgrade: websocket` and a
    /// `Sec-WebSocket-Key`, or the connection cannot be upgraded (not HTTP/1.1).
    NotWebSocket,
    /// `Sec-WebSocket-Version` is not 13.
    UnsupportedVersion,
}

impl IntoResponse for UpgradeRejection {
    fn into_response(self) -> Response {
        match self {
            Self::NotWebSocket => {
                custom(StatusCode::BAD_REQUEST, "not_websocket", "this route only accepts WebSocket upgrades")
            }
            Self::UnsupportedVersion => {
                let mut response =
                    custom(StatusCode::UPGRADE_REQUIRED, "unsupported_websocket_version", "use WebSocket version 13");
                response.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                response
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let upgrading = parts.method == axum::http::Method::GET
            && has_token(headers, CONNECTION, "upgrade")
            && has_token(headers, UPGRADE, "websocket");
        let key = headers.get(SEC_WEBSOCKET_KEY).filter(|_| upgrading).ok_or(UpgradeRejection::NotWebSocket)?.clone();
        if !has_token(headers, SEC_WEBSOCKET_VERSION, "13") {
            return Err(UpgradeRejection::UnsupportedVersion);
        }
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(UpgradeRejection::NotWebSocket)?;
        Ok(Self { key, on_upgrade })
    }
}

impl Upgrade {
    /// Answers `101 Switching Protocols` and, once hyper hands the socket over, runs `session`
    /// on it in a task of its own, with the bytes hyper read past the request (usually none:
    /// a client waits for the `101`). A failed hand-over (the peer left) is logged at debug
    /// level; a socket of another type than the server's loop serves is logged as an error
    /// and closed.
    pub fn accept<F, Fut>(self, session: F) -> Response
    where
        F: FnOnce(Socket, Bytes) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = tungstenite::handshake::derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        // The session gets a task of its own once the socket is there, so the long-lived task
        // holds only the session's future, not this hand-over's state as well.
        tokio::spawn(async move {
            match on_upgrade.await.map(|upgraded| upgraded.downcast::<TokioIo<TcpStream>>()) {
                Ok(Ok(parts)) => drop(tokio::spawn(session(parts.io.into_inner(), parts.read_buf))),
                Ok(Err(_)) => tracing::error!("websocket upgrade of a connection that is not a plain TCP stream"),
                Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
            }
        });
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&accept).expect("base64 is a header value"));
        response
    }
}

/// Whether the comma-separated header `name` lists `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: axum::http::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_header_tokens_are_matched_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert!(has_token(&headers, CONNECTION, "upgrade"));
        assert!(!has_token(&headers, CONNECTION, "close"));
    }

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        let accept = tungstenite::handshake::derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
