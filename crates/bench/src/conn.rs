//! A lean WebSocket client session (RFC 6455) over a socket the [`crate::net::Dialer`] opened:
//! the upgrade, the server's frames parsed straight out of one read buffer, and masked frames
//! written with one `write` each.
//!
//! Why not `tokio-tungstenite` here: at 1,000,000 deliveries/s the bench's receive path is the
//! limit of a run (`ramp` failed at λ=2,142 with the bench at 98% of its core and the server at
//! 73% of its own), and `perf` of the bench put ~23% of its CPU in what the stream layer adds
//! per frame: its waker proxies (6.5%), the frame codec and one `Bytes` split per frame (~12%),
//! the zero-filled read buffer before every read (2%) and a UTF-8 check of every text frame
//! (2%). Here a read lands in the buffer's spare room (never zeroed), and the caller takes every
//! complete frame out of it as a borrowed slice, without a future per frame, a copy or a
//! refcount; text is left as bytes for [`crate::wire::classify`] (which validates UTF-8 only
//! for the frames it decodes in full). The caller also reads the clock once per read instead of
//! once per frame.
//!
//! Scope: what a Banter server sends. Its frames are never fragmented (a continuation frame is
//! an error here) and never masked; control frames are handed to the caller (who answers a
//! ping with [`Conn::send_pong`]). No extensions, no TLS (the bench targets loopback).

use std::io;

use anyhow::{anyhow, bail, ensure, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::Request;

/// Spare room made in the read buffer before each read, bytes: a channel flush of ~20 chat
/// frames (~9 KiB) fits in one read.
pub const READ_CHUNK: usize = 16 * 1024;
/// Largest frame payload accepted from the server, bytes (a larger one is a protocol error).
pub const MAX_PAYLOAD: u64 = 16 << 20;
/// Longest upgrade response head accepted, bytes.
const MAX_HEAD: usize = 16 * 1024;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// One frame from the server, borrowed from the connection's read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A text message's payload (UTF-8 not checked here).
    Text(&'a [u8]),
    /// A binary message's payload.
    Binary(&'a [u8]),
    /// A ping, with the payload its pong must echo (at most 125 bytes).
    Ping(&'a [u8]),
    /// A pong.
    Pong,
    /// A close frame, with its status code when it has one.
    Close(Option<u16>),
}

/// An open WebSocket session: the socket and the bytes read from it but not yet taken as
/// frames.
pub struct Conn {
    stream: TcpStream,
    /// Read buffer: `buf[start..]` holds bytes not yet taken as frames.
    buf: Vec<u8>,
    start: usize,
}

impl Conn {
    /// Upgrades `stream` with `request` (a client request with the WebSocket headers, as
    /// `banter_client::url::ws_request` builds it: `Host`, `Upgrade`, `Sec-WebSocket-Key`,
    /// `Authorization`...). Errors: the socket's, a response other than `101 Switching
    /// Protocols` (with its status), or a wrong `Sec-WebSocket-Accept`.
    pub async fn upgrade(mut stream: TcpStream, request: &Request<()>) -> anyhow::Result<Self> {
        let key = request.headers().get("sec-websocket-key").context("the request has no Sec-WebSocket-Key")?;
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!("GET {path} HTTP/1.1\r\n");
        for (name, value) in request.headers() {
            let value = value.to_str().with_context(|| format!("header {name} is not text"))?;
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.context("write the upgrade request")?;
        let mut buf = Vec::with_capacity(4096);
        let head_len = loop {
            if let Some(at) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            ensure!(buf.len() < MAX_HEAD, "upgrade response head over {MAX_HEAD} bytes");
            buf.reserve(4096);
            if stream.read_buf(&mut buf).await.context("read the upgrade response")? == 0 {
                bail!("connection closed during the upgrade");
            }
        };
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        response.parse(&buf[..head_len]).context("parse the upgrade response")?;
        let status = response.code.unwrap_or(0);
        ensure!(status == 101, "websocket upgrade refused: HTTP {status}");
        let accept = response.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"));
        let expected = derive_accept_key(key.as_bytes());
        ensure!(accept.is_some_and(|h| h.value == expected.as_bytes()), "wrong Sec-WebSocket-Accept");
        Ok(Self { stream, buf, start: head_len })
    }

    /// Waits for the socket to be readable and reads what it holds into the buffer (up to the
    /// spare room, at least [`READ_CHUNK`]), after the bytes not yet taken; returns how many
    /// bytes arrived, 0 at the end of the stream. A session without a buffer (see
    /// [`Conn::release_idle_buffer`]) makes one only once bytes are there, so an idle one waits
    /// without it. Cancel-safe: cancelled, nothing was read.
    pub async fn read(&mut self) -> io::Result<usize> {
        if self.buf.capacity() == 0 {
            self.stream.readable().await?;
        }
        if self.start == self.buf.len() {
            self.buf.clear();
        } else if self.start > 0 {
            self.buf.drain(..self.start);
        }
        self.start = 0;
        self.buf.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Takes the next complete frame out of the buffer; `None` when the buffer holds none (read
    /// more). Errors (`InvalidData`): a frame a server must not send (masked, fragmented,
    /// reserved bits or opcode, a control frame over 125 bytes) or a payload over
    /// [`MAX_PAYLOAD`]; the connection is then unusable.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        let rest = &self.buf[self.start..];
        let Some((b0, header, len)) = parse_header(rest)? else { return Ok(None) };
        if rest.len() - header < len {
            return Ok(None);
        }
        let at = self.start + header;
        self.start = at + len;
        let payload = &self.buf[at..self.start];
        Ok(Some(match b0 & 0x0f {
            OP_TEXT => Frame::Text(payload),
            OP_BINARY => Frame::Binary(payload),
            OP_PING => Frame::Ping(payload),
            OP_PONG => Frame::Pong,
            _ => Frame::Close(payload.get(..2).map(|code| u16::from_be_bytes([code[0], code[1]]))),
        }))
    }

    /// Drops the read buffer if it holds nothing (a connection held open idle then costs no
    /// buffer; the next [`Conn::read`] makes one again).
    pub fn release_idle_buffer(&mut self) {
        if self.start == self.buf.len() {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    /// Writes one text frame (masked with a fresh random key).
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(OP_TEXT, text.as_bytes()).await
    }

    /// Writes the pong answering a ping with `payload`.
    pub async fn send_pong(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send(OP_PONG, payload).await
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        encode_frame(opcode, payload, rand::random(), &mut frame);
        self.stream.write_all(&frame).await
    }
}

/// Reads a server frame's header at the start of `bytes`: `(first byte, header length, payload
/// length)`, or `None` until the whole header is there. Errors as for [`Conn::next_frame`].
fn parse_header(bytes: &[u8]) -> io::Result<Option<(u8, usize, usize)>> {
    let [b0, b1, ..] = *bytes else { return Ok(None) };
    let opcode = b0 & 0x0f;
    let invalid = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidData, anyhow!("{what} from the server")));
    if b0 & 0x70 != 0 {
        return invalid("reserved bits");
    }
    if b1 & 0x80 != 0 {
        return invalid("a masked frame");
    }
    let control = opcode >= OP_CLOSE;
    match opcode {
        OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG if b0 & 0x80 != 0 => {}
        OP_CONTINUATION | OP_TEXT | OP_BINARY => return invalid("a fragmented message"),
        _ => return invalid("a reserved opcode or a fragmented control frame"),
    }
    let (header, len) = match b1 & 0x7f {
        126 => match bytes.get(2..4) {
            Some(n) => (4, u64::from(u16::from_be_bytes([n[0], n[1]]))),
            None => return Ok(None),
        },
        127 => match bytes.get(2..10) {
            Some(n) => (10, u64::from_be_bytes(n.try_into().expect("8 bytes"))),
            None => return Ok(None),
        },
        n => (2, u64::from(n)),
    };
    if control && len > 125 {
        return invalid("a control frame over 125 bytes");
    }
    if len > MAX_PAYLOAD {
        return invalid("a frame over the size limit");
    }
    Ok(Some((b0, header, len as usize)))
}

/// Appends a final client frame with `opcode` and `payload`, masked with `mask` (RFC 6455 §5.3),
/// to `out`.
pub fn encode_frame(opcode: u8, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
