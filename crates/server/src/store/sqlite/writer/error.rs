//! The rusqlite connections' errors (the writer thread's and the inline readers') as the store reports errors: `sqlx::Error`, with SQLite's
//! failures as `Database` errors that classify constraint violations as sqlx's own do.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use rusqlite::ffi;
use sqlx::error::{DatabaseError, ErrorKind};

/// A failure SQLite reported to the writer's connection.
#[derive(Debug)]
struct SqliteFailure {
    /// The extended result code.
    code: i32,
    message: String,
}

impl fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As sqlx's own SQLite error shows itself.
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl StdError for SqliteFailure {}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// The store's error for a rusqlite one: SQLite failures as `Database`, a missing row as
/// `RowNotFound` (as sqlx's `fetch_one`), a value of the wrong type as `Decode`.
pub(in crate::store::sqlite) fn to_sqlx(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => sqlx::Error::Database(Box::new(SqliteFailure {
            code: failure.extended_code,
            message: message.unwrap_or_else(|| failure.to_string()),
        })),
        rusqlite::Error::QueryReturnedNoRows => sqlx::Error::RowNotFound,
        e @ (rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)) => sqlx::Error::Decode(Box::new(e)),
        e => sqlx::Error::Protocol(e.to_string()),
    }
}
