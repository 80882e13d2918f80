//! Valid-by-construction input values. Each `parse` is the one place its rule lives; the
//! error is the stable code the edge reports. Free text is Unicode-normalized to NFC and may
//! not contain control characters (message bodies may contain newline and tab).

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::error::AppError;

/// `raw` in NFC, or `None` if it holds a control character other than `\n`/`\t` (those only
/// when `multiline`).
fn normalized(raw: &str, multiline: bool) -> Option<String> {
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if raw.chars().any(|c| c.is_control() && !allowed(c)) {
        return None;
    }
    // Most text (all ASCII, for one) is NFC already, which the quick check tells without
    // decomposing and recomposing every char (that was ~2% of the server's CPU per send).
    if is_nfc_quick(raw.chars()) == IsNormalized::Yes {
        return Some(raw.to_owned());
    }
    Some(raw.nfc().collect())
}

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

/// A display name: trimmed, NFC, 1–64 chars, no control characters.
pub struct DisplayName(String);

impl DisplayName {
    /// Validates; `None` or blank falls back to `default`. Error: `invalid_display_name`.
    pub fn parse_or(raw: Option<&str>, default: &str) -> Result<Self, AppError> {
        let name = raw.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(default);
        match normalized(name, false) {
            Some(name) if name.chars().count() <= 64 => Ok(Self(name)),
            _ => Err(AppError::Invalid(
                "invalid_display_name",
                "display name must be at most 64 characters, without control characters",
            )),
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

/// A channel topic: trimmed, NFC, at most 256 chars, one line.
pub struct Topic(String);

impl Topic {
    /// Trims and validates; `None` is the empty topic. Error: `invalid_topic`.
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        match normalized(raw.unwrap_or("").trim(), false) {
            Some(topic) if topic.chars().count() <= 256 => Ok(Self(topic)),
            _ => Err(AppError::Invalid("invalid_topic", "topic must be at most 256 characters on one line")),
        }
    }
    /// The topic.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A message body: NFC, 1..=`max` chars, newlines and tabs allowed, no other control
/// characters; otherwise kept as sent (never trimmed, never interpreted as markup).
/// Whitespace-only bodies are refused.
pub struct MessageBody(String);

impl MessageBody {
    /// Normalizes and validates against `max` chars. Error: `invalid_body`.
    pub fn parse(raw: String, max: usize) -> Result<Self, AppError> {
        match normalized(&raw, true) {
            Some(body) if !body.trim().is_empty() && body.chars().count() <= max => Ok(Self(body)),
            Some(_) => {
                Err(AppError::Invalid("invalid_body", "message body must be 1 to the configured maximum of characters"))
            }
            None => Err(AppError::Invalid(
                "invalid_body",
                "message body may not contain control characters other than newline and tab",
            )),
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

/// One emoji as the Unicode emoji list knows it (skin-tone variants included), e.g. `"👍"`;
/// a missing variation selector is added back (`"❤"` becomes `"❤️"`).
pub struct Emoji(&'static str);

impl Emoji {
    /// Validates. Error: `invalid_emoji`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match emojis::get(raw) {
            Some(emoji) => Ok(Self(emoji.as_str())),
            None => Err(AppError::Invalid("invalid_emoji", "a reaction is exactly one emoji")),
        }
    }
    /// The emoji in its fully qualified form.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji() {
        assert_eq!(Emoji::parse("👍").unwrap().as_str(), "👍");
        assert_eq!(Emoji::parse("👍🏽").unwrap().as_str(), "👍🏽");
        for bad in ["", "a", "👍👍", "👍 ", ":+1:"] {
            assert!(Emoji::parse(bad).is_err(), "{bad:?}");
        }
    }

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
    fn text_is_nfc_and_free_of_control_characters() {
        let decomposed = "e\u{301}t\u{e9}"; // "é" as e + combining acute, then a precomposed é
        assert_eq!(MessageBody::parse(decomposed.into(), 10).unwrap().into_string(), "\u{e9}t\u{e9}");
        assert!(MessageBody::parse("line one\n\tline two".into(), 100).is_ok());
        for bad in ["bell\u{7}", "nul\u{0}", "cr\r\n", "esc\u{1b}[31m", "del\u{7f}", "c1\u{85}"] {
            assert!(MessageBody::parse(bad.into(), 100).is_err(), "{bad:?}");
        }
        assert!(DisplayName::parse_or(Some("two\nlines"), "x").is_err());
        assert_eq!(DisplayName::parse_or(Some("Zoe\u{308}"), "x").unwrap().into_string(), "Zo\u{eb}");
        assert!(Topic::parse(Some("tab\tinside")).is_err());
    }

    #[test]
    fn emails_are_optional() {
        assert!(Email::parse_optional(None).unwrap().is_none());
        assert!(Email::parse_optional(Some("  ")).unwrap().is_none());
        assert!(Email::parse_optional(Some("ana@example.com")).unwrap().is_some());
        assert!(Email::parse_optional(Some("nope")).is_err());
    }
}
