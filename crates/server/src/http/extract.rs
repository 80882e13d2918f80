//! Request extractors that turn malformed input into our stable error codes: JSON bodies,
//! query strings, path ids, and the authenticated caller.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::AppError;
use crate::http::error::custom;
use crate::service::sessions::{self, Auth};
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "banter_session";

/// A JSON body; a malformed one is `400 invalid_json`, an oversized one `413 payload_too_large`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::BytesRejection(_)) => {
                Err(custom(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body is too large"))
            }
            Err(rejection) => Err(custom(StatusCode::BAD_REQUEST, "invalid_json", &rejection.body_text())),
        }
    }
}

/// A query string; a malformed one is `400 invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|_| AppError::Invalid("invalid_query", "query parameters are not valid"))
    }
}

/// Parses a path segment as an id. Error: `invalid_id`.
pub fn parse_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::Invalid("invalid_id", "not a valid id"))
}

/// Where a request's session token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer`.
    Bearer,
    /// The session cookie (browsers): WebSocket upgrades must then pass the origin check.
    Cookie,
}

/// The session token in a request, bearer header first.
pub fn token(headers: &HeaderMap) -> Option<(String, TokenSource)> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| (t.trim().to_owned(), TokenSource::Bearer));
    bearer.or_else(|| {
        CookieJar::from_headers(headers).get(SESSION_COOKIE).map(|c| (c.value().to_owned(), TokenSource::Cookie))
    })
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (token, _) = token(&parts.headers).ok_or_else(|| AppError::Unauthorized.into_response())?;
        sessions::authenticate(state, &token).await.map_err(IntoResponse::into_response)
    }
}
