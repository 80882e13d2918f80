//! The service-level error: every refusal has a stable code and a status. Edges translate it
//! (REST: [`crate::http::error`], gateway: an `error` frame); internal causes are logged there
//! and never shown to clients.

use banter_proto::rest::ErrorInfo;

/// Why a request was refused. `code()` is the stable snake_case code of `docs/protocol.md`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input failed validation (400): `(code, message)`.
    #[error("{1}")]
    Invalid(&'static str, &'static str),
    /// No valid session (401 `unauthorized`).
    #[error("authentication required")]
    Unauthorized,
    /// Login failed; same answer for unknown users and wrong passwords (401).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Authenticated but not allowed (403): `(code, message)`.
    #[error("{1}")]
    Forbidden(&'static str, &'static str),
    /// No such resource, or one the caller may not know exists (404 `not_found`).
    #[error("not found")]
    NotFound,
    /// Conflicts with existing state (409): `(code, message)`.
    #[error("{1}")]
    Conflict(&'static str, &'static str),
    /// Too many requests (429 `rate_limited`): try again after the duration.
    #[error("too many requests; try again in {} ms", .0.as_millis())]
    RateLimited(std::time::Duration),
    /// A fault inside the server (500 `internal`); the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// The stable code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(code, _) | AppError::Forbidden(code, _) | AppError::Conflict(code, _) => code,
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::NotFound => "not_found",
            AppError::RateLimited(_) => "rate_limited",
            AppError::Internal(_) => "internal",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(..) => 400,
            AppError::Unauthorized | AppError::InvalidCredentials => 401,
            AppError::Forbidden(..) => 403,
            AppError::NotFound => 404,
            AppError::Conflict(..) => 409,
            AppError::RateLimited(_) => 429,
            AppError::Internal(_) => 500,
        }
    }

    /// The wire form; logs internal causes (which are replaced by a generic message).
    pub fn to_info(&self) -> ErrorInfo {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = %cause, "internal error");
        }
        let mut info = ErrorInfo::new(self.code(), self.to_string());
        if let AppError::RateLimited(wait) = self {
            info.retry_after_ms = Some(wait.as_millis().max(1) as u64);
        }
        info
    }

    /// `403 not_a_member`: the caller may see the channel but has not joined it.
    pub fn not_a_member() -> Self {
        AppError::Forbidden("not_a_member", "join the channel first")
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(Box::new(e))
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(Box::new(e))
    }
}
