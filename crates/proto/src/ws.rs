//! WebSocket frames on `/api/ws`.
//!
//! Every frame is a JSON text frame `{"type": "noun:verb", "id": "...", "data": {...}}`. `id` is
//! optional and chosen by the client; the server echoes it on the `ack` or `error` answering
//! that request. Server-initiated events carry no `id`. The events and their payloads live in
//! `ws/client.rs` ([`ClientEvent`]) and `ws/server.rs` ([`ServerEvent`]), re-exported here;
//! this module owns the envelope, [`encode`] and [`decode`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod client;
mod server;

pub use client::*;
pub use server::*;

/// Names one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The channel's id.
    pub channel_id: Uuid,
}

/// The envelope fields every frame has, read without knowing the event type.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// The event type, `noun:verb`.
    #[serde(rename = "type", borrow)]
    pub kind: std::borrow::Cow<'a, str>,
    /// The request id to echo, if any.
    #[serde(default)]
    pub id: Option<String>,
}

/// Serializes `{"type", "id"?, "data"?}` for one event.
#[derive(Serialize)]
struct Frame<'a, E> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(flatten)]
    event: &'a E,
}

/// Encodes an event as a frame's JSON text, with `id` when it answers a request.
pub fn encode<E: Serialize>(id: Option<&str>, event: &E) -> String {
    serde_json::to_string(&Frame { id, event }).expect("wire types always serialize")
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON, or no string `type`.
    Malformed,
    /// A `type` this side does not know; carries the frame's `id`.
    UnknownType(Option<String>),
    /// A known `type` whose `data` does not fit; carries the frame's `id` and serde's reason.
    InvalidData(Option<String>, String),
}

/// Decodes a frame's text into its `id` and typed event. `known` lists the accepted types
/// ([`ClientEvent::TYPES`] on the server).
pub fn decode<E: serde::de::DeserializeOwned>(text: &str, known: &[&str]) -> Result<(Option<String>, E), DecodeError> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|_| DecodeError::Malformed)?;
    if !known.contains(&envelope.kind.as_ref()) {
        return Err(DecodeError::UnknownType(envelope.id));
    }
    match serde_json::from_str::<E>(text) {
        Ok(event) => Ok((envelope.id, event)),
        Err(e) => Err(DecodeError::InvalidData(envelope.id, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_id() {
        let text = r#"{"type":"message:send","id":"r1","data":{"channel_id":"0190e0a0-0000-7000-8000-000000000001","body":"hi","client_id":"c1"}}"#;
        let (id, event): (_, ClientEvent) = decode(text, ClientEvent::TYPES).unwrap();
        assert_eq!(id.as_deref(), Some("r1"));
        let ClientEvent::MessageSend(send) = &event else { panic!("{event:?}") };
        assert_eq!(send.body, "hi");
        let again = encode(Some("r1"), &event);
        let (id2, event2): (_, ClientEvent) = decode(&again, ClientEvent::TYPES).unwrap();
        assert_eq!((id2, event2), (id, event));
    }

    #[test]
    fn unit_events_have_no_data() {
        assert_eq!(encode(Some("p"), &ClientEvent::Ping), r#"{"id":"p","type":"ping"}"#);
        let (_, e): (_, ClientEvent) = decode(r#"{"type":"ping"}"#, ClientEvent::TYPES).unwrap();
        assert_eq!(e, ClientEvent::Ping);
    }

    #[test]
    fn decode_errors_are_classified() {
        let d = |t| decode::<ClientEvent>(t, ClientEvent::TYPES).unwrap_err();
        assert_eq!(d("not json"), DecodeError::Malformed);
        assert_eq!(d(r#"{"id":"x"}"#), DecodeError::Malformed);
        assert_eq!(d(r#"{"type":"nope","id":"x"}"#), DecodeError::UnknownType(Some("x".into())));
        assert!(matches!(
            d(r#"{"type":"message:send","id":"y","data":{"body":1}}"#),
            DecodeError::InvalidData(Some(id), _) if id == "y"
        ));
    }
}
