//! URLs: the REST base URL and the gateway's `/api/ws` upgrade request.

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::error::{ClientError, Result};

/// Checks that `base_url` is absolute http(s) and strips trailing slashes.
pub fn normalize_base(base_url: &str) -> Result<String> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| ClientError::InvalidUrl(base_url.into()))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ClientError::InvalidUrl(base_url.into()));
    }
    Ok(trimmed.to_owned())
}

/// The upgrade request for `/api/ws` on `base_url` (`http`/`https` become `ws`/`wss`) with
/// `Authorization: Bearer <token>`; for callers that drive tokio-tungstenite themselves.
pub fn ws_request(base_url: &str, token: &str) -> Result<Request> {
    let mut req = ws_url(base_url)?.into_client_request()?;
    let value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ClientError::Decode("token is not a valid header value".into()))?;
    req.headers_mut().insert("authorization", value);
    Ok(req)
}

/// `ws://host/api/ws` (or `wss://`) for an `http://host` (or `https://`) base URL.
pub fn ws_url(base_url: &str) -> Result<String> {
    let base = normalize_base(base_url)?;
    let ws = match base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", &base["http://".len()..]),
    };
    Ok(format!("{ws}/api/ws"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalized() {
        assert_eq!(normalize_base("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(normalize_base(" https://chat.example.com ").unwrap(), "https://chat.example.com");
        for bad in ["127.0.0.1:8080", "ftp://x", "http://", "http:///x", ""] {
            assert!(matches!(normalize_base(bad), Err(ClientError::InvalidUrl(_))), "{bad}");
        }
    }

    #[test]
    fn ws_urls_follow_the_scheme() {
        assert_eq!(ws_url("http://127.0.0.1:8080/").unwrap(), "ws://127.0.0.1:8080/api/ws");
        assert_eq!(ws_url("https://chat.example.com").unwrap(), "wss://chat.example.com/api/ws");
        assert!(ws_url("localhost:8080").is_err());
    }

    #[test]
    fn the_request_carries_the_bearer_token() {
        let req = ws_request("http://h:1", "bnt_abc").unwrap();
        assert_eq!(req.uri().to_string(), "ws://h:1/api/ws");
        assert_eq!(req.headers()["authorization"], "Bearer bnt_abc");
    }
}
