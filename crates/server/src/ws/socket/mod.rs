//! The WebSocket wire (RFC 6455) for gateway sessions, owned here rather than borrowed from a
//! general-purpose library, because it is the hot path of every delivery and every idle
//! connection's memory:
//!
//! - [`upgrade`]: checks the handshake headers and answers `101 Switching Protocols`; the
//!   socket is then handed over by hyper.
//! - [`read`]: parses the client's (masked) frames from bytes read into a stack buffer, so an
//!   idle connection holds no read buffer at all; only a frame split across reads is kept.
//! - [`write`](mod@write): server frames (unmasked) are a header of 2–10 bytes and the shared payload;
//!   a batch of queued frames becomes one buffer and one `write` call.
//!
//! No extensions (no `permessage-deflate`) and no subprotocols are negotiated.

pub mod read;
pub mod upgrade;
pub mod write;

/// Frame opcodes (RFC 6455 §5.2).
pub mod opcode {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// A text message (UTF-8).
    pub const TEXT: u8 = 0x1;
    /// A binary message.
    pub const BINARY: u8 = 0x2;
    /// Close, with an optional 2-byte code and a UTF-8 reason.
    pub const CLOSE: u8 = 0x8;
    /// Ping; the peer answers with a pong carrying the same payload.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// Largest payload of a control frame (close, ping, pong), in bytes.
pub const MAX_CONTROL_PAYLOAD: usize = 125;
