//! REST error responses: every [`AppError`] becomes `{"error": {"code", "message"}}` with its
//! status; internal causes are logged and replaced by a generic message.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use banter_proto::rest::ErrorBody;

use crate::error::AppError;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = match &self {
            AppError::RateLimited(wait) => Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
            _ => None,
        };
        let mut response = (status, Json(ErrorBody { error: self.to_info() })).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

/// A REST error with a status and code outside [`AppError`]'s set (body limits, origins).
pub fn custom(status: StatusCode, code: &str, message: &str) -> Response {
    let error = banter_proto::rest::ErrorInfo::new(code, message);
    (status, Json(ErrorBody { error })).into_response()
}
