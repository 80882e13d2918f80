//! The envelope a hub event travels in between nodes over Redis.
//!
//! One Redis message = one JSON header line, a `\n`, then the event's frame exactly as the
//! publishing node encoded it for its own sockets (possibly empty):
//!
//! ```text
//! {"v":1,"node":"0193…","action":{"kind":"message","channel":"0193…","seq":42}}\n{"type":"message:receive","data":{…}}
//! ```
//!
//! The frame is neither parsed nor re-encoded on the way: a receiving node slices it out of
//! the payload and hands the same bytes to every local outbox. A header with an unknown `v`
//! or `kind` is skipped (logged), so a newer node can add kinds during a rolling upgrade.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Frame;

/// Version of the header this build writes and reads.
pub const VERSION: u8 = 1;

/// What an envelope asks every other node to do with its frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Deliver the frame (a `message:receive`) to `channel`'s subscribers in `seq` order.
    Message {
        /// The channel.
        channel: Uuid,
        /// The message's per-channel position.
        seq: i64,
    },
    /// Deliver the frame (a channel event without `seq`) to `channel`'s subscribers now.
    Channel {
        /// The channel.
        channel: Uuid,
    },
    /// Subscribe every connection of `user` to `channel`, then send them the frame.
    Join {
        /// The member.
        user: Uuid,
        /// The channel joined.
        channel: Uuid,
        /// The channel's head as the frame (`channel:joined`) announces it.
        #[serde(default)]
        head_seq: Option<i64>,
    },
    /// Unsubscribe every connection of `user` from `channel`, then send them the frame.
    Leave {
        /// The former member.
        user: Uuid,
        /// The channel left.
        channel: Uuid,
    },
    /// Deliver the frame to every connection of each listed user (presence changes, a user's
    /// own read position).
    Users {
        /// The recipients.
        users: Vec<Uuid>,
    },
    /// Deliver the frame to `channel`'s subscribers except the connections of `except`
    /// (typing indicators).
    ChannelExcept {
        /// The channel.
        channel: Uuid,
        /// The user whose connections skip it.
        except: Uuid,
    },
    /// `user`'s typing state in `channel` started, was refreshed, or ended on the publishing
    /// node: update the local mirror, then deliver the frame (a `typing:indicator`; empty for
    /// a refresh) to `channel`'s subscribers except the connections of the `except` users.
    Typing {
        /// The channel.
        channel: Uuid,
        /// The typer.
        user: Uuid,
        /// `true` for a counted `typing:start`, `false` when the state ended.
        typing: bool,
        /// Users whose connections skip the frame (the typer and everyone in the set).
        #[serde(default)]
        except: Vec<Uuid>,
    },
    /// Close every connection of `session` with WebSocket close `code` and `reason`.
    Close {
        /// The session (e.g. revoked by logout).
        session: Uuid,
        /// WebSocket close code (4001 for a revoked session).
        code: u16,
        /// Close reason (`session_revoked`).
        reason: String,
    },
    /// The publishing node could not publish some events: the listed channels' subscribers
    /// (every connection when `channels` is `None`) may have missed them and must resume.
    Resync {
        /// Affected channels; `None` means all.
        channels: Option<Vec<Uuid>>,
    },
}

/// The header line.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    v: u8,
    node: Uuid,
    action: Action,
}

/// Why a payload was skipped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// No `\n` after the header.
    #[error("no header line")]
    NoHeader,
    /// The header is not JSON of a known shape (e.g. a newer `kind`).
    #[error("header: {0}")]
    Header(#[from] serde_json::Error),
    /// A header version this build does not read.
    #[error("unknown envelope version {0}")]
    Version(u8),
    /// The frame is not UTF-8.
    #[error("frame is not UTF-8")]
    Frame,
}

/// Encodes one envelope: header line, `\n`, then `frame` copied verbatim.
pub fn encode(node: Uuid, action: &Action, frame: &str) -> Vec<u8> {
    let header = Header { v: VERSION, node, action: action.clone() };
    let mut out = serde_json::to_vec(&header).expect("a header always serializes");
    out.reserve_exact(1 + frame.len());
    out.push(b'\n');
    out.extend_from_slice(frame.as_bytes());
    out
}

/// Decodes a payload into `(origin node, action, frame)`; the frame shares `payload`'s bytes.
/// Errors: see [`WireError`].
pub fn decode(payload: Bytes) -> Result<(Uuid, Action, Frame), WireError> {
    let newline = payload.iter().position(|&b| b == b'\n').ok_or(WireError::NoHeader)?;
    let header: Header = serde_json::from_slice(&payload[..newline])?;
    if header.v != VERSION {
        return Err(WireError::Version(header.v));
    }
    let frame = Frame::try_from(payload.slice(newline + 1..)).map_err(|_| WireError::Frame)?;
    Ok((header.node, header.action, frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_with_its_frame_untouched() {
        let (node, channel) = (Uuid::now_v7(), Uuid::now_v7());
        let frame = "{\"type\":\"message:receive\",\"data\":{\"body\":\"a\\nb\"}}";
        let action = Action::Message { channel, seq: 42 };
        let bytes = encode(node, &action, frame);
        let (from, decoded, out) = decode(Bytes::from(bytes)).unwrap();
        assert_eq!((from, decoded, out.as_str()), (node, action, frame));

        let close = Action::Close { session: channel, code: 4001, reason: "session_revoked".into() };
        let (_, decoded, out) = decode(Bytes::from(encode(node, &close, ""))).unwrap();
        assert_eq!((decoded, out.as_str()), (close, ""));
    }

    #[test]
    fn unknown_versions_kinds_and_garbage_are_refused() {
        let node = Uuid::now_v7();
        let newer = format!("{{\"v\":2,\"node\":\"{node}\",\"action\":{{\"kind\":\"resync\",\"channels\":null}}}}\n");
        assert!(matches!(decode(Bytes::from(newer)), Err(WireError::Version(2))));
        let kind = format!("{{\"v\":1,\"node\":\"{node}\",\"action\":{{\"kind\":\"presence\"}}}}\n{{}}");
        assert!(matches!(decode(Bytes::from(kind)), Err(WireError::Header(_))));
        assert!(matches!(decode(Bytes::from_static(b"no newline")), Err(WireError::NoHeader)));
        let mut bad = encode(node, &Action::Resync { channels: None }, "");
        bad.push(0xff);
        assert!(matches!(decode(Bytes::from(bad)), Err(WireError::Frame)));
    }
}
