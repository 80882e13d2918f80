//! Frames on the wire: encoding `message:send`, a fast scan of `message:receive`, and the
//! SDK's typed decoder for everything else.
//!
//! At a million deliveries a second, fully decoding each `message:receive` (a `Message` with
//! its sender, timestamps and ids) would make the bench the bottleneck. [`scan_receive`] reads
//! only `channel_id`, `seq` and the body's stamp by searching for their keys in the frame the
//! server encodes from `banter_proto` types (the unit tests check it against that encoder); a
//! frame it does not recognise falls back to the typed decoder, so correctness never depends
//! on the fast path.

use std::sync::LazyLock;

use banter_client::gateway::decode_server_frame;
use banter_proto::ws::{self, ClientEvent, MessageSend, ReceiptRequest, ServerEvent};
use memchr::memmem::Finder;
use uuid::Uuid;

use crate::clock::{leading_number, parse_body, parse_body_bytes};

/// What the bench needs from one `message:receive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The message's channel.
    pub channel: Uuid,
    /// Its per-channel position.
    pub seq: i64,
    /// Send instant from the body (ns since the bench epoch); `None` for foreign messages.
    pub sent_ns: Option<u64>,
}

/// One server frame, as the bench sees it.
#[derive(Debug)]
pub enum Incoming {
    /// A `message:receive`.
    Delivery(Delivery),
    /// Any other known event, with the request id it echoes.
    Event(Option<String>, Box<ServerEvent>),
    /// A frame of a type this SDK does not know (a newer server): ignored.
    Unknown,
    /// A frame that could not be decoded.
    Malformed(String),
}

/// The `message:send` frame for `body` in `channel`, with request id `id` and idempotency key
/// `client_id`.
pub fn send_frame(id: &str, channel: Uuid, body: String, client_id: String) -> String {
    ws::encode(
        Some(id),
        &ClientEvent::MessageSend(MessageSend { channel_id: channel, body, client_id, reply_to: None }),
    )
}

/// A fresh idempotency key, time-ordered as the SDK and the web client make them (a UUIDv7).
/// Unique across runs, which reuse their users.
pub fn client_id() -> String {
    Uuid::now_v7().to_string()
}

/// The `receipt:delivered` frame for `seq` in `channel`, without a request id (the server
/// answers nothing unless it fails).
pub fn receipt_frame(channel: Uuid, seq: i64) -> String {
    ws::encode(None, &ClientEvent::ReceiptDelivered(ReceiptRequest { channel_id: channel, seq }))
}

/// Classifies a server text frame's payload: the fast scan for `message:receive`, the typed
/// decoder otherwise (which checks the payload is UTF-8: `Malformed` if not).
pub fn classify(text: &[u8]) -> Incoming {
    if let Some(delivery) = scan_receive(text) {
        return Incoming::Delivery(delivery);
    }
    let Ok(text) = std::str::from_utf8(text) else {
        return Incoming::Malformed("a text frame that is not UTF-8".into());
    };
    match decode_server_frame(text) {
        Ok(Some((_, ServerEvent::MessageReceive(m)))) => {
            Incoming::Delivery(Delivery { channel: m.channel_id, seq: m.seq, sent_ns: parse_body(&m.body) })
        }
        Ok(Some((id, event))) => Incoming::Event(id, Box::new(event)),
        Ok(None) => Incoming::Unknown,
        Err(e) => Incoming::Malformed(e.to_string()),
    }
}

/// How every `message:receive` frame the server encodes begins (no request id, then the type).
const RECEIVE_PREFIX: &[u8] = br#"{"type":"message:receive","data":{"#;

/// Reads `channel_id`, `seq` and the body stamp from a `message:receive` frame without
/// decoding the rest; `None` when the frame is not one in the expected shape. The keys are
/// searched in the order `Message` serializes them, so a display name cannot shadow them (its
/// quotes would be escaped anyway).
pub fn scan_receive(text: &[u8]) -> Option<Delivery> {
    let rest = text.strip_prefix(RECEIVE_PREFIX)?;
    let rest = after(rest, &CHANNEL_KEY)?;
    let channel = Uuid::try_parse_ascii(rest.get(..36)?).ok()?;
    let rest = after(rest, &SEQ_KEY)?;
    let (seq, _) = leading_number(rest)?;
    let sent_ns = after(rest, &BODY_KEY).and_then(parse_body_bytes);
    Some(Delivery { channel, seq: i64::try_from(seq).ok()?, sent_ns })
}

/// Searchers for the keys [`scan_receive`] reads, built once (a profile showed building a
/// searcher per frame cost more than the search).
static CHANNEL_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(r#""channel_id":""#));
static SEQ_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(r#""seq":"#));
static BODY_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(r#""body":""#));

/// The bytes after the first occurrence of `key` in `text`.
fn after<'a>(text: &'a [u8], key: &Finder<'_>) -> Option<&'a [u8]> {
    key.find(text).map(|at| &text[at + key.needle().len()..])
}

#[cfg(test)]
mod tests {
    use banter_proto::ws::Ack;
    use banter_proto::{Message, User};

    use super::*;
    use crate::clock::body;

    fn message(display_name: &str, body_text: String) -> Message {
        let now = chrono_now();
        Message {
            id: Uuid::now_v7(),
            channel_id: Uuid::now_v7(),
            seq: 1234,
            sender: User {
                id: Uuid::now_v7(),
                username: "bench-b-1".into(),
                display_name: display_name.into(),
                created_at: now,
            },
            client_id: "c-1".into(),
            body: body_text,
            created_at: now,
            edited_at: None,
            deleted_at: None,
            reply_to: None,
            mentions: Vec::new(),
            reactions: Vec::new(),
        }
    }

    fn chrono_now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    #[test]
    fn the_scan_reads_what_the_server_encodes() {
        let m = message(r#"x","seq":9,"body":"t=1;"#, body(987_654_321, 64));
        let text = ws::encode(None, &ServerEvent::MessageReceive(m.clone()));
        let expected = Delivery { channel: m.channel_id, seq: 1234, sent_ns: Some(987_654_321) };
        assert_eq!(scan_receive(text.as_bytes()), Some(expected));
        assert!(matches!(classify(text.as_bytes()), Incoming::Delivery(d) if d == expected));
    }

    #[test]
    fn other_frames_use_the_typed_decoder() {
        let m = message("Ana", "hello".into());
        let foreign = ws::encode(None, &ServerEvent::MessageReceive(m.clone()));
        assert!(matches!(classify(foreign.as_bytes()), Incoming::Delivery(Delivery { sent_ns: None, seq: 1234, .. })));
        let ack = ServerEvent::Ack(Ack {
            message_id: m.id,
            channel_id: m.channel_id,
            seq: 7,
            client_id: "c-1".into(),
            created_at: m.created_at,
        });
        let text = ws::encode(Some("s3"), &ack);
        assert!(scan_receive(text.as_bytes()).is_none());
        match classify(text.as_bytes()) {
            Incoming::Event(Some(id), event) => assert_eq!((id.as_str(), *event), ("s3", ack)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify(br#"{"type":"future:event","data":{}}"#), Incoming::Unknown));
        assert!(matches!(classify(b"nope"), Incoming::Malformed(_)));
        assert!(matches!(classify(b"{\"type\":\"ack\",\xff}"), Incoming::Malformed(_)), "not UTF-8");
    }

    #[test]
    fn send_frames_are_typed_message_sends() {
        let channel = Uuid::now_v7();
        let text = send_frame("s1", channel, "t=5;".into(), "k1".into());
        let (id, event) = ws::decode::<ClientEvent>(&text, ClientEvent::TYPES).unwrap();
        assert_eq!(id.as_deref(), Some("s1"));
        let ClientEvent::MessageSend(send) = event else { panic!("{event:?}") };
        assert_eq!((send.channel_id, send.body.as_str(), send.client_id.as_str()), (channel, "t=5;", "k1"));
    }

    #[test]
    fn receipt_frames_are_typed_receipts_without_an_id() {
        let channel = Uuid::now_v7();
        let text = receipt_frame(channel, 42);
        let (id, event) = ws::decode::<ClientEvent>(&text, ClientEvent::TYPES).unwrap();
        assert_eq!(id, None);
        assert_eq!(event, ClientEvent::ReceiptDelivered(ReceiptRequest { channel_id: channel, seq: 42 }));
    }
}
