//! Reading client frames. [`FrameReader::next`] reads into a buffer on the stack of the poll
//! (not in the connection's state) and keeps only bytes of a frame that is not complete yet,
//! so an idle connection owns no read buffer. Text messages come out as `String`s (UTF-8
//! checked), fragmented messages are reassembled, pings are passed up so the writer can answer.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{opcode, MAX_CONTROL_PAYLOAD};

/// Bytes read per `read` call, on the stack.
const READ_CHUNK: usize = 8 * 1024;
/// Largest `max` a reader takes.
const MAX_LIMIT: usize = 1 << 30;

/// One message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text message.
    Text(String),
    /// A complete binary message (its payload is dropped: the gateway speaks JSON text).
    Binary,
    /// A ping with its payload (at most 125 bytes), to be answered with a pong.
    Ping(Vec<u8>),
    /// A pong (answers our heartbeat pings).
    Pong,
    /// The client started the closing handshake.
    Close,
}

/// Why reading stopped. Each maps to the close code the server answers with.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the TCP connection.
    Eof,
    /// The socket failed.
    Io(io::Error),
    /// A frame or reassembled message over the size limit (close 1009).
    TooLarge,
    /// A frame that breaks RFC 6455: unmasked, reserved bits or opcodes, bad fragmentation,
    /// an oversized or fragmented control frame (close 1002).
    Protocol,
    /// A text message that is not UTF-8 (close 1007).
    InvalidUtf8,
}

/// Parses a connection's client frames; see the module doc. Kept compact (40 bytes): every
/// connection holds one for its whole life.
pub struct FrameReader {
    /// Bytes read and not yet consumed, from `start` on (the consumed ones before it go at
    /// the next read). Freed when empty.
    buf: Vec<u8>,
    /// A fragmented message being reassembled: its opcode and payload so far (boxed: rare).
    partial: Option<Box<(u8, Vec<u8>)>>,
    start: u32,
    /// Largest frame payload and largest message, in bytes.
    max: u32,
}

/// A frame header: opcode, FIN, payload length, masking key, header length in bytes.
struct Header {
    opcode: u8,
    fin: bool,
    len: usize,
    mask: [u8; 4],
    size: usize,
}

impl FrameReader {
    /// A reader refusing frames and messages over `max` bytes of payload (at most 1 GiB).
    pub fn new(max: usize) -> Self {
        Self { buf: Vec::new(), start: 0, partial: None, max: max.min(MAX_LIMIT) as u32 }
    }

    /// Adds bytes that were read from the connection before this reader took it over (what
    /// the HTTP layer read past the upgrade request); they are parsed before anything read next.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.drain(..self.start as usize);
        self.start = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// The next message, reading from `io` as needed.
    pub async fn next<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> Result<Incoming, ReadError> {
        poll_fn(|cx| self.poll_next(cx, io)).await
    }

    /// Polls for the next message, reading from `io` as needed; each read lands in a buffer on
    /// this call's stack, and only the bytes of an incomplete frame are kept.
    pub fn poll_next<R: AsyncRead + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut R,
    ) -> Poll<Result<Incoming, ReadError>> {
        loop {
            if let Some(message) = self.parse()? {
                return Poll::Ready(Ok(message));
            }
            // Not zeroed: the read fills what it reports, nothing else is looked at.
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut out = ReadBuf::uninit(&mut chunk);
            ready!(Pin::new(&mut *io).poll_read(cx, &mut out)).map_err(ReadError::Io)?;
            if out.filled().is_empty() {
                return Poll::Ready(Err(ReadError::Eof));
            }
            // Only an unfinished frame is kept: without this, frames that keep straddling
            // reads would grow the buffer by every byte ever read.
            self.buf.drain(..self.start as usize);
            self.start = 0;
            self.buf.extend_from_slice(out.filled());
        }
    }

    /// Takes the next complete message out of the buffered bytes, if there is one.
    pub fn parse(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            let Some(header) = self.header()? else { return Ok(None) };
            let start = self.start as usize;
            if self.buf.len() - start < header.size + header.len {
                return Ok(None);
            }
            let from = start + header.size;
            let payload = &mut self.buf[from..from + header.len];
            unmask(payload, header.mask);
            let message = self.frame(&header, from);
            // Fits: what is buffered is at most one unfinished frame (≤ 1 GiB) and one read.
            self.start = (from + header.len) as u32;
            if from + header.len == self.buf.len() {
                self.buf = Vec::new();
                self.start = 0;
            }
            if let Some(message) = message? {
                return Ok(Some(message));
            }
        }
    }

    /// The header at `start`, once all of it is buffered; checks what can be checked from it.
    fn header(&self) -> Result<Option<Header>, ReadError> {
        let bytes = &self.buf[self.start as usize..];
        if bytes.len() < 2 {
            return Ok(None);
        }
        let (fin, reserved, opcode) = (bytes[0] & 0x80 != 0, bytes[0] & 0x70, bytes[0] & 0x0F);
        let (masked, len7) = (bytes[1] & 0x80 != 0, (bytes[1] & 0x7F) as usize);
        if reserved != 0 || !masked || !matches!(opcode, 0x0..=0x2 | 0x8..=0xA) {
            return Err(ReadError::Protocol);
        }
        let extra = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let size = 2 + extra + 4;
        if bytes.len() < size {
            return Ok(None);
        }
        let len = match extra {
            0 => len7 as u64,
            2 => u16::from_be_bytes([bytes[2], bytes[3]]) as u64,
            _ => u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes")),
        };
        if len >> 63 != 0 || (opcode >= opcode::CLOSE && (!fin || len > MAX_CONTROL_PAYLOAD as u64)) {
            return Err(ReadError::Protocol);
        }
        if len > self.max as u64 {
            return Err(ReadError::TooLarge);
        }
        let mask = bytes[2 + extra..size].try_into().expect("4 bytes");
        Ok(Some(Header { opcode, fin, len: len as usize, mask, size }))
    }

    /// Handles one complete, unmasked frame whose payload starts at `from`: a message when it
    /// completes one, `None` for a fragment.
    fn frame(&mut self, header: &Header, from: usize) -> Result<Option<Incoming>, ReadError> {
        let payload = &self.buf[from..from + header.len];
        match (header.opcode, self.partial.as_mut()) {
            (opcode::CLOSE, _) => close_payload(payload).map(|()| Some(Incoming::Close)),
            (opcode::PING, _) => Ok(Some(Incoming::Ping(payload.to_vec()))),
            (opcode::PONG, _) => Ok(Some(Incoming::Pong)),
            (opcode::CONTINUATION, Some(partial)) => {
                let so_far = &mut partial.1;
                if so_far.len() + payload.len() > self.max as usize {
                    return Err(ReadError::TooLarge);
                }
                so_far.extend_from_slice(payload);
                if !header.fin {
                    return Ok(None);
                }
                let (kind, whole) = *self.partial.take().expect("a partial message");
                message(kind, whole).map(Some)
            }
            (opcode::TEXT | opcode::BINARY, None) if header.fin => message(header.opcode, payload.to_vec()).map(Some),
            (opcode::TEXT | opcode::BINARY, None) => {
                self.partial = Some(Box::new((header.opcode, payload.to_vec())));
                Ok(None)
            }
            _ => Err(ReadError::Protocol),
        }
    }
}

/// A complete data message.
fn message(kind: u8, payload: Vec<u8>) -> Result<Incoming, ReadError> {
    match kind {
        opcode::TEXT => String::from_utf8(payload).map(Incoming::Text).map_err(|_| ReadError::InvalidUtf8),
        _ => Ok(Incoming::Binary),
    }
}

/// Checks a close frame's payload (RFC 6455 §5.5.1, §7.4): empty, or a code a peer may send
/// followed by a UTF-8 reason.
fn close_payload(payload: &[u8]) -> Result<(), ReadError> {
    let Some((code, reason)) = payload.split_first_chunk::<2>() else {
        return if payload.is_empty() { Ok(()) } else { Err(ReadError::Protocol) };
    };
    match u16::from_be_bytes(*code) {
        1000..=1003 | 1007..=1014 | 3000..=4999 => {}
        _ => return Err(ReadError::Protocol),
    }
    std::str::from_utf8(reason).map(drop).map_err(|_| ReadError::InvalidUtf8)
}

/// XORs `payload` with the 4-byte masking key, 8 bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
