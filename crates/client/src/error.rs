//! The SDK's one error type.

use std::time::Duration;

use banter_proto::rest::ErrorBody;
use tokio_tungstenite::tungstenite;

/// `Result` with [`ClientError`].
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything an SDK call can fail with.
///
/// Refusals by the server carry the protocol's stable snake_case `code` (see
/// `docs/protocol.md`): REST refusals and refused WebSocket upgrades as [`ClientError::Api`],
/// refusals of a gateway request as [`ClientError::Gateway`]. [`ClientError::code`] reads
/// either.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a non-success HTTP status: a REST error, or a WebSocket upgrade
    /// it refused (401 `unauthorized`, 403 `origin_not_allowed`, ...).
    ///
    /// `code` and `message` come from the `{"error": {"code", "message"}}` body; when the body
    /// is missing or not of that shape, `code` is empty and `message` holds the raw body (or
    /// the status's reason phrase when the body is empty).
    #[error("HTTP {status} {code}: {message}")]
    Api {
        /// HTTP status, e.g. 404.
        status: u16,
        /// Stable snake_case error code, e.g. `not_found`.
        code: String,
        /// Human-readable explanation; not stable.
        message: String,
    },
    /// The gateway answered a request with an `error` frame; the connection stays open.
    #[error("gateway error {code}: {message}")]
    Gateway {
        /// The request id the error echoed, if any.
        id: Option<String>,
        /// Stable snake_case error code, e.g. `invalid_body`.
        code: String,
        /// Human-readable explanation; not stable.
        message: String,
    },
    /// The WebSocket was closed (by the server, or the TCP stream ended: code 1006) while a
    /// call needed it open.
    #[error("connection closed with code {code}: {reason}")]
    Closed {
        /// WebSocket close code, e.g. 4001 (`session_revoked`) or 1012 (`server_restart`).
        code: u16,
        /// Close reason sent by the server; may be empty.
        reason: String,
    },
    /// HTTP transport failure (connect, TLS, I/O, timeout inside reqwest).
    #[error("http transport: {0}")]
    Http(#[from] reqwest::Error),
    /// WebSocket transport or protocol failure.
    #[error("websocket: {0}")]
    WebSocket(#[source] Box<tungstenite::Error>),
    /// The server sent something this SDK could not decode (a bug on one side).
    #[error("could not decode server data: {0}")]
    Decode(String),
    /// The base URL is not an absolute `http://` or `https://` URL.
    #[error("invalid base url {0:?}: expected http://host[:port] or https://...")]
    InvalidUrl(String),
    /// The call needs a session token and the client has none.
    #[error("this call needs a session token: register or log in first")]
    NoToken,
    /// A deadline given to the SDK passed before the answer arrived.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

impl ClientError {
    /// The protocol error code of an [`Api`](Self::Api) or [`Gateway`](Self::Gateway) error
    /// (`None` for other variants, and for an `Api` error whose body had no code).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } | Self::Gateway { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of an [`Api`](Self::Api) error, or of the failed request behind an
    /// [`Http`](Self::Http) error when reqwest knows it.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Http(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// The WebSocket close code of a [`Closed`](Self::Closed) error.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Closed { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Builds an [`Api`](Self::Api) error from a status and the raw response body.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => Self::Api { status, code: error.code, message: error.message },
            Err(_) => {
                let text = String::from_utf8_lossy(body).trim().to_owned();
                let message = if text.is_empty() {
                    reqwest::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("unknown status")
                        .to_owned()
                } else {
                    text
                };
                Self::Api { status, code: String::new(), message }
            }
        }
    }
}

impl From<tungstenite::Error> for ClientError {
    fn from(e: tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::Http(response) => {
                let status = response.status().as_u16();
                Self::from_response(status, response.body().as_deref().unwrap_or_default())
            }
            other => Self::WebSocket(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_error_body() {
        let e = ClientError::from_response(404, br#"{"error":{"code":"not_found","message":"no such channel"}}"#);
        assert_eq!(e.code(), Some("not_found"));
        assert_eq!(e.status(), Some(404));
        assert!(e.to_string().contains("no such channel"), "{e}");
    }

    #[test]
    fn keeps_unparseable_bodies_as_text() {
        let e = ClientError::from_response(502, b"  Bad gateway from proxy\n");
        assert_eq!(e.code(), None);
        assert_eq!(e.status(), Some(502));
        let ClientError::Api { message, .. } = &e else { panic!("{e:?}") };
        assert_eq!(message, "Bad gateway from proxy");
    }

    #[test]
    fn empty_bodies_use_the_reason_phrase() {
        let ClientError::Api { message, code, .. } = ClientError::from_response(401, b"") else { panic!() };
        assert_eq!((code.as_str(), message.as_str()), ("", "Unauthorized"));
    }

    #[test]
    fn refused_upgrades_become_api_errors() {
        let mut response = tungstenite::http::Response::new(Some(
            br#"{"error":{"code":"unauthorized","message":"sign in"}}"#.to_vec(),
        ));
        *response.status_mut() = tungstenite::http::StatusCode::UNAUTHORIZED;
        let e = ClientError::from(tungstenite::Error::Http(Box::new(response)));
        assert_eq!((e.status(), e.code()), (Some(401), Some("unauthorized")));
    }

    #[test]
    fn gateway_errors_have_a_code_but_no_status() {
        let e = ClientError::Gateway { id: Some("r1".into()), code: "invalid_body".into(), message: "empty".into() };
        assert_eq!((e.code(), e.status()), (Some("invalid_body"), None));
    }
}
