//! REST error responses: every [`AppError`] becomes `{"error": {"code", "message"}}` with its
//! status; internal causes are logged and replaced by a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use banter_proto::rest::ErrorBody;

use crate::error::AppError;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody { error: self.to_info() })).into_response()
    }
}

/// A REST error with a status and code outside [`AppError`]'s set (body limits, origins).
pub fn custom(status: StatusCode, code: &str, message: &str) -> Response {
    let error = banter_proto::rest::ErrorInfo { code: code.to_owned(), message: message.to_owned() };
    (status, Json(ErrorBody { error })).into_response()
}
