//! [`Connection`]: one WebSocket session on `/api/ws`, yielding typed [`ServerEvent`]s.

use std::collections::VecDeque;
use std::time::Duration;

use banter_proto::ws::{
    self, Ack, ClientEvent, DecodeError, MessageSend, Ready, ServerEvent, SyncDone, SyncPosition, SyncRequest,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use crate::error::{ClientError, Result};
use crate::url::ws_request;

/// Every server → client `type` this SDK decodes; frames of other (newer) types are skipped.
pub const SERVER_TYPES: &[&str] = ServerEvent::TYPES;

/// Close code the SDK reports when the stream ends without a close frame.
pub const ABNORMAL_CLOSE: u16 = 1006;

/// Close code the SDK reports for a close frame without a code.
pub const NO_STATUS_CLOSE: u16 = 1005;

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What [`Connection::next_event`] yields.
// Nearly every value is an `Event`, so boxing it would add an allocation per frame to save
// space only in the rare `Closed`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A server event, with the request id it echoes (`ack`, `pong`, `error`) if any.
    Event {
        /// The echoed request id; `None` for server-initiated events.
        id: Option<String>,
        /// The event.
        event: ServerEvent,
    },
    /// The connection is closed; every later call yields this again. `code` is the close
    /// frame's code (e.g. 4001 `session_revoked`, 4008 `slow_consumer`, 1012
    /// `server_restart`), or 1006 when the stream ended without one.
    Closed {
        /// WebSocket close code.
        code: u16,
        /// The server's close reason; may be empty.
        reason: String,
    },
}

/// One authenticated WebSocket session.
///
/// Read it with [`next_event`](Self::next_event) (which also answers the server's WebSocket
/// pings); events that arrive while [`request`](Self::request) or
/// [`send_message`](Self::send_message) waits for an answer are buffered and yielded later in
/// arrival order.
#[derive(Debug)]
pub struct Connection {
    stream: WsStream,
    ready: Ready,
    /// Frames read while waiting for a request's answer, not yet handed out.
    pending: VecDeque<Incoming>,
    next_id: u64,
    /// Set once the connection is closed; later reads yield it again.
    closed: Option<(u16, String)>,
}

impl Connection {
    /// Connects to `/api/ws` on `base_url` with `token`, and reads the `ready` frame.
    ///
    /// Errors: a refused upgrade as [`ClientError::Api`] with its status (401
    /// `unauthorized`, 403 `origin_not_allowed`); [`ClientError::Closed`] or
    /// [`ClientError::Decode`] when the first frame is not `ready`.
    pub async fn connect(base_url: &str, token: &str) -> Result<Self> {
        let (mut stream, _response) = tokio_tungstenite::connect_async(ws_request(base_url, token)?).await?;
        let ready = match read_incoming(&mut stream).await? {
            Incoming::Event { event: ServerEvent::Ready(ready), .. } => *ready,
            Incoming::Closed { code, reason } => return Err(ClientError::Closed { code, reason }),
            other => return Err(ClientError::Decode(format!("expected ready first, got {other:?}"))),
        };
        Ok(Self { stream, ready, pending: VecDeque::new(), next_id: 0, closed: None })
    }

    /// The `ready` frame: the user, session, channels, limits and heartbeat interval.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// Sends `event` with a fresh request id (`r1`, `r2`, ...) and returns that id.
    pub async fn send(&mut self, event: &ClientEvent) -> Result<String> {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        self.send_raw_text(&ws::encode(Some(&id), event)).await?;
        Ok(id)
    }

    /// Sends `event` and waits for the answer echoing its id: the `ack` or `pong` event, or
    /// the `error` as [`ClientError::Gateway`]. Other events read meanwhile stay queued for
    /// [`next_event`](Self::next_event). Errors: [`ClientError::Closed`] if the connection
    /// closes first.
    pub async fn request(&mut self, event: &ClientEvent) -> Result<ServerEvent> {
        let id = self.send(event).await?;
        loop {
            match self.read_frame().await? {
                Incoming::Event { id: Some(got), event } if got == id => {
                    return match event {
                        ServerEvent::Error(e) => {
                            Err(ClientError::Gateway { id: Some(got), code: e.code, message: e.message })
                        }
                        other => Ok(other),
                    };
                }
                Incoming::Closed { code, reason } => {
                    self.pending.push_back(Incoming::Closed { code, reason: reason.clone() });
                    return Err(ClientError::Closed { code, reason });
                }
                other => self.pending.push_back(other),
            }
        }
    }

    /// Sends `message:send` and waits for its `ack`. Errors: the gateway's refusal
    /// (`invalid_body`, `not_a_member`, `not_found`, ...) as [`ClientError::Gateway`].
    pub async fn send_message(&mut self, channel_id: Uuid, body: &str, client_id: &str) -> Result<Ack> {
        let event = ClientEvent::MessageSend(MessageSend {
            channel_id,
            body: body.into(),
            client_id: client_id.into(),
            reply_to: None,
        });
        match self.request(&event).await? {
            ServerEvent::Ack(ack) => Ok(ack),
            other => Err(ClientError::Decode(format!("expected ack, got {other:?}"))),
        }
    }

    /// Sends `sync` with the client's positions and waits for `sync:done`. The replay itself
    /// (`sync:gap`, `sync:messages`) and live events that arrived meanwhile stay queued, in
    /// arrival order, for [`next_event`](Self::next_event). Errors: the gateway's refusal as
    /// [`ClientError::Gateway`], [`ClientError::Closed`].
    pub async fn sync(&mut self, positions: Vec<SyncPosition>) -> Result<SyncDone> {
        match self.request(&ClientEvent::Sync(SyncRequest { channels: positions })).await? {
            ServerEvent::SyncDone(done) => Ok(done),
            other => Err(ClientError::Decode(format!("expected sync:done, got {other:?}"))),
        }
    }

    /// Sends an application-level `ping` and waits for its `pong`.
    pub async fn ping(&mut self) -> Result<()> {
        match self.request(&ClientEvent::Ping).await? {
            ServerEvent::Pong => Ok(()),
            other => Err(ClientError::Decode(format!("expected pong, got {other:?}"))),
        }
    }

    /// The next event, buffered ones first. Once the connection has closed this yields
    /// [`Incoming::Closed`] every time. Waits without limit; see
    /// [`next_event_timeout`](Self::next_event_timeout).
    pub async fn next_event(&mut self) -> Result<Incoming> {
        match self.pending.pop_front() {
            Some(incoming) => Ok(incoming),
            None => self.read_frame().await,
        }
    }

    /// Like [`next_event`](Self::next_event), but `Ok(None)` when nothing arrived within
    /// `timeout`. Cancel-safe: nothing is lost when the deadline passes.
    pub async fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<Incoming>> {
        match tokio::time::timeout(timeout, self.next_event()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Sends `text` as one text frame, unchecked (for testing the server's frame handling).
    pub async fn send_raw_text(&mut self, text: &str) -> Result<()> {
        Ok(self.stream.send(WsMessage::text(text)).await?)
    }

    /// Sends `bytes` as one binary frame (which the server refuses with `malformed_frame`).
    pub async fn send_raw_binary(&mut self, bytes: Vec<u8>) -> Result<()> {
        Ok(self.stream.send(WsMessage::binary(bytes)).await?)
    }

    /// Closes with code 1000 and waits up to 2 s for the server's close frame.
    pub async fn close(mut self) -> Result<()> {
        if self.closed.is_some() {
            return Ok(());
        }
        match self.stream.close(None).await {
            Ok(()) | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {}
            Err(e) => return Err(e.into()),
        }
        let drain = async { while let Some(Ok(_)) = self.stream.next().await {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        Ok(())
    }

    /// The next frame as an [`Incoming`], remembering a close so later reads repeat it.
    async fn read_frame(&mut self) -> Result<Incoming> {
        if let Some((code, reason)) = &self.closed {
            return Ok(Incoming::Closed { code: *code, reason: reason.clone() });
        }
        let incoming = read_incoming(&mut self.stream).await?;
        if let Incoming::Closed { code, reason } = &incoming {
            self.closed = Some((*code, reason.clone()));
        }
        Ok(incoming)
    }
}

/// Reads frames until one yields an [`Incoming`]: decodes text frames and skips unknown
/// types, binary frames and control frames (tungstenite answers pings while we read).
async fn read_incoming(stream: &mut WsStream) -> Result<Incoming> {
    use tungstenite::error::ProtocolError::ResetWithoutClosingHandshake;
    loop {
        let frame = match stream.next().await {
            None => Err(tungstenite::Error::ConnectionClosed),
            Some(frame) => frame,
        };
        let (code, reason) = match frame {
            Ok(WsMessage::Text(text)) => match decode_server_frame(&text)? {
                Some((id, event)) => return Ok(Incoming::Event { id, event }),
                None => continue,
            },
            Ok(WsMessage::Close(Some(f))) => (u16::from(f.code), f.reason.to_string()),
            Ok(WsMessage::Close(None)) => (NO_STATUS_CLOSE, String::new()),
            Ok(_) => continue,
            Err(
                tungstenite::Error::ConnectionClosed
                | tungstenite::Error::AlreadyClosed
                | tungstenite::Error::Protocol(ResetWithoutClosingHandshake),
            ) => (ABNORMAL_CLOSE, String::new()),
            Err(tungstenite::Error::Io(e)) => (ABNORMAL_CLOSE, e.to_string()),
            Err(e) => return Err(e.into()),
        };
        return Ok(Incoming::Closed { code, reason });
    }
}

/// Decodes one server frame; `Ok(None)` for a type this SDK does not know (newer server).
pub fn decode_server_frame(text: &str) -> Result<Option<(Option<String>, ServerEvent)>> {
    match ws::decode::<ServerEvent>(text, SERVER_TYPES) {
        Ok(decoded) => Ok(Some(decoded)),
        Err(DecodeError::UnknownType(_)) => {
            tracing::debug!(frame = %text, "skipping a frame of an unknown type");
            Ok(None)
        }
        Err(DecodeError::Malformed) => Err(ClientError::Decode(format!("malformed frame: {text}"))),
        Err(DecodeError::InvalidData(_, why)) => Err(ClientError::Decode(format!("{why}: {text}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_decode_with_their_id() {
        let (id, event) = decode_server_frame(r#"{"type":"pong","id":"r3"}"#).unwrap().unwrap();
        assert_eq!((id.as_deref(), event), (Some("r3"), ServerEvent::Pong));
        let (id, event) = decode_server_frame(r#"{"type":"error","data":{"code":"malformed_frame","message":"x"}}"#)
            .unwrap()
            .unwrap();
        assert!(id.is_none());
        assert!(matches!(event, ServerEvent::Error(e) if e.code == "malformed_frame"));
    }

    #[test]
    fn unknown_types_are_skipped_and_bad_data_is_an_error() {
        assert!(decode_server_frame(r#"{"type":"future:event","data":{}}"#).unwrap().is_none());
        assert!(matches!(decode_server_frame(r#"{"type":"ack","data":{}}"#), Err(ClientError::Decode(_))));
        assert!(matches!(decode_server_frame("nope"), Err(ClientError::Decode(_))));
    }
}
