//! Valid-by-construction input values. Each `parse` is the one place its rule lives; the
//! error is the stable code the edge reports.

use crate::error::AppError;

/// A username: 3–32 chars of ASCII letters, digits, `_`, `-`, `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Validates `raw` (not trimmed: surrounding spaces are refused). Error: `invalid_username`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let ok = (3..=32).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AppError::Invalid(
                "invalid_username",
                "username must be 3-32 characters of letters, digits, '_', '-' or '.'",
            ))
        }
    }
    /// The username as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password: 8–256 chars.
pub struct Password(String);

impl Password {
    /// Validates length in chars. Error: `invalid_password`.
    pub fn parse(raw: String) -> Result<Self, AppError> {
        if (8..=256).contains(&raw.chars().count()) {
            Ok(Self(raw))
        } else {
            Err(AppError::Invalid("invalid_password", "password must be 8-256 characters"))
        }
    }
    /// The secret, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// An email address as checked by the `email_address` crate, at most 254 chars.
#[derive(Debug, Clone)]
pub struct Email(String);

impl Email {
    /// Trims and validates; an empty string means "no email" (`Ok(None)`). Error: `invalid_email`.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, AppError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
        if raw.len() <= 254 && email_address::EmailAddress::is_valid(raw) {
            Ok(Some(Self(raw.to_owned())))
        } else {
            Err(AppError::Invalid("invalid_email", "email address is not valid"))
        }
    }
    /// The address.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A display name: trimmed, 1–64 chars, no control characters.
pub struct DisplayName(String);

impl DisplayName {
    /// Validates; `None` or empty falls back to `default`. Error: `invalid_display_name`.
    pub fn parse_or(raw: Option<&str>, default: &str) -> Result<Self, AppError> {
        let name = raw.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(default);
        if name.chars().count() <= 64 && !name.chars().any(char::is_control) {
            Ok(Self(name.to_owned()))
        } else {
            Err(AppError::Invalid("invalid_display_name", "display name must be 1-64 characters"))
        }
    }
    /// The name.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A channel name: 1–64 chars of `a-z`, `0-9`, `-`, `_`; upper case is folded to lower case.
#[derive(Debug, Clone)]
pub struct ChannelName(String);

impl ChannelName {
    /// Trims, lower-cases, strips one leading `#`, validates. Error: `invalid_channel_name`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim().trim_start_matches('#').to_ascii_lowercase();
        let ok = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(name))
        } else {
            Err(AppError::Invalid(
                "invalid_channel_name",
                "channel name must be 1-64 characters of a-z, 0-9, '-' or '_'",
            ))
        }
    }
    /// The normalized name.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A channel topic: at most 256 chars.
pub struct Topic(String);

impl Topic {
    /// Trims and validates; `None` is the empty topic. Error: `invalid_topic`.
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        let topic = raw.unwrap_or("").trim();
        if topic.chars().count() <= 256 {
            Ok(Self(topic.to_owned()))
        } else {
            Err(AppError::Invalid("invalid_topic", "topic must be at most 256 characters"))
        }
    }
    /// The topic.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A message body: 1..=`max` chars, stored verbatim; whitespace-only bodies are refused.
pub struct MessageBody(String);

impl MessageBody {
    /// Validates against `max` chars. Error: `invalid_body`.
    pub fn parse(raw: String, max: usize) -> Result<Self, AppError> {
        if raw.trim().is_empty() || raw.chars().count() > max {
            Err(AppError::Invalid("invalid_body", "message body must be 1 to the configured maximum of characters"))
        } else {
            Ok(Self(raw))
        }
    }
    /// The body.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An idempotency key chosen by the client: 1–64 chars, no control characters.
pub struct ClientId(String);

impl ClientId {
    /// Validates. Error: `invalid_client_id`.
    pub fn parse(raw: String) -> Result<Self, AppError> {
        if (1..=64).contains(&raw.chars().count()) && !raw.chars().any(char::is_control) {
            Ok(Self(raw))
        } else {
            Err(AppError::Invalid("invalid_client_id", "client_id must be 1-64 characters"))
        }
    }
    /// The key.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("ana").is_ok());
        assert!(Username::parse("a.b-c_9").is_ok());
        for bad in ["ab", "", "with space", "ünï", &"x".repeat(33), " ana"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn channel_names_fold_case_and_hash() {
        assert_eq!(ChannelName::parse("#Rust-Lang").unwrap().into_string(), "rust-lang");
        assert!(ChannelName::parse("no spaces").is_err());
        assert!(ChannelName::parse("#").is_err());
    }

    #[test]
    fn bodies_and_keys() {
        assert!(MessageBody::parse("  ".into(), 10).is_err());
        assert!(MessageBody::parse("ééééé".into(), 5).is_ok());
        assert!(MessageBody::parse("éééééé".into(), 5).is_err());
        assert!(ClientId::parse(String::new()).is_err());
        assert!(ClientId::parse("x".repeat(65)).is_err());
    }

    #[test]
    fn emails_are_optional() {
        assert!(Email::parse_optional(None).unwrap().is_none());
        assert!(Email::parse_optional(Some("  ")).unwrap().is_none());
        assert!(Email::parse_optional(Some("ana@example.com")).unwrap().is_some());
        assert!(Email::parse_optional(Some("nope")).is_err());
    }
}
