//! Writing server frames (unmasked, never fragmented). A batch is laid out into one buffer
//! allocated for the write and freed once it is written, so a connection keeps no write buffer
//! between writes; the event payloads themselves are the shared encode-once bytes. A write
//! cut short (the task waiting on it was cancelled) keeps its place, so the rest of the batch,
//! and only then anything else, such as a close frame, goes out next: frames never interleave.
//!
//! [`send_text`] writes one frame straight to a socket without waiting (the outbox's direct
//! writes) in one system call.

use std::io::{self, IoSlice};
use std::os::fd::{BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncWrite;

use super::{opcode, MAX_CONTROL_PAYLOAD};

/// Longest frame header the server writes: 2 bytes plus an 8-byte length.
const MAX_HEADER: usize = 10;
/// Largest frame (wire bytes) [`send_text`] copies into one contiguous buffer so that it
/// goes out with `send` rather than a two-slice `sendmsg`: the kernel's `sendto` path skips
/// copying in and checking a `msghdr` and an iovec array, which was ~3% of the server's CPU
/// in a fan-out of chat-sized frames; copying a frame this small costs far less.
const SMALL_FRAME: usize = 2048;

/// Frames laid out for one socket write.
#[derive(Default)]
pub struct Batch {
    bytes: Vec<u8>,
    /// Bytes of `bytes` already written.
    written: usize,
}

impl Batch {
    /// Appends a text frame carrying `text`.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.frame(opcode::TEXT, text.as_bytes())
    }

    /// Appends a ping with no payload (heartbeat).
    pub fn ping(&mut self) -> &mut Self {
        self.frame(opcode::PING, &[])
    }

    /// Appends a pong echoing `payload` (cut to 125 bytes, the control frame limit).
    pub fn pong(&mut self, payload: &[u8]) -> &mut Self {
        self.frame(opcode::PONG, &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)])
    }

    /// Appends a close frame with `code` and `reason` (cut to fit 125 bytes at a char boundary).
    pub fn close(&mut self, code: u16, reason: &str) -> &mut Self {
        let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..2].copy_from_slice(&code.to_be_bytes());
        payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
        self.frame(opcode::CLOSE, &payload[..2 + end])
    }

    /// Appends bytes already framed (the rest of a frame a direct write began).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// Appends one frame: FIN set, no mask, the shortest length encoding.
    fn frame(&mut self, opcode: u8, payload: &[u8]) -> &mut Self {
        let mut header = [0; MAX_HEADER];
        let n = header_into(&mut header, opcode, payload.len());
        self.bytes.extend_from_slice(&header[..n]);
        self.bytes.extend_from_slice(payload);
        self
    }

    /// Reserves room for `frames` more frames with `payload_bytes` of payload in all.
    pub fn reserve(&mut self, frames: usize, payload_bytes: usize) {
        self.bytes.reserve(frames * MAX_HEADER + payload_bytes);
    }

    /// Whether nothing is left to write.
    pub fn is_empty(&self) -> bool {
        self.written == self.bytes.len()
    }

    /// Writes what is left of the batch to `io` in as few calls as the socket accepts, then
    /// releases the buffer. Cancel-safe: cancelled, it resumes where it stopped.
    pub async fn write_to<W: AsyncWrite + Unpin>(&mut self, io: &mut W) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_write_to(cx, io)).await
    }

    /// Polls [`Batch::write_to`]: `Pending` keeps the place reached.
    pub fn poll_write_to<W: AsyncWrite + Unpin>(&mut self, cx: &mut Context<'_>, io: &mut W) -> Poll<io::Result<()>> {
        while self.written < self.bytes.len() {
            let n = ready!(Pin::new(&mut *io).poll_write(cx, &self.bytes[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        *self = Self::default();
        Poll::Ready(Ok(()))
    }
}

/// Writes a frame header (FIN set, no mask, the shortest length encoding for a payload of
/// `len` bytes) into `out`; returns its length, 2 to [`MAX_HEADER`] bytes.
fn header_into(out: &mut [u8; MAX_HEADER], opcode: u8, len: usize) -> usize {
    out[0] = 0x80 | opcode;
    match len {
        0..=125 => {
            out[1] = len as u8;
            2
        }
        126..=0xFFFF => {
            out[1] = 126;
            out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            out[1] = 127;
            out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    }
}

/// What [`send_text`] or [`Batch::send_now`] did with its bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// All of them are in the socket's send buffer.
    All,
    /// Not all (or none: the send buffer is full): these are the unwritten wire bytes, to
    /// write next.
    Part(Vec<u8>),
    /// The socket failed (the peer is gone).
    Failed,
}

/// Writes a text frame carrying `text` to the non-blocking stream socket `fd` without waiting,
/// in one system call: a frame of up to [`SMALL_FRAME`] bytes is laid out on the stack and
/// written with `send`, a larger one with a `sendmsg` of two slices (header, payload). The
/// caller guarantees `fd` is open for the duration of the call and that nothing else writes
/// to it meanwhile (see `Outbox::attach`).
pub fn send_text(fd: RawFd, text: &[u8]) -> Sent {
    let mut header = [0; MAX_HEADER];
    let n = header_into(&mut header, opcode::TEXT, text.len());
    let (header, total) = (&header[..n], n + text.len());
    let result = if total <= SMALL_FRAME {
        let mut wire = [0u8; SMALL_FRAME];
        wire[..n].copy_from_slice(header);
        wire[n..total].copy_from_slice(text);
        send_now(fd, &[IoSlice::new(&wire[..total])])
    } else {
        send_now(fd, &[IoSlice::new(header), IoSlice::new(text)])
    };
    sent(result, total, |sent| {
        let mut rest = Vec::with_capacity(total - sent);
        if sent < n {
            rest.extend_from_slice(&header[sent..]);
        }
        rest.extend_from_slice(&text[sent.saturating_sub(n)..]);
        rest
    })
}

impl Batch {
    /// Writes the batch to the non-blocking stream socket `fd` without waiting, in one
    /// `send`, and releases its buffer; the caller guarantees `fd` as for [`send_text`].
    pub fn send_now(&mut self, fd: RawFd) -> Sent {
        let bytes = std::mem::take(self).bytes;
        sent(send_now(fd, &[IoSlice::new(&bytes)]), bytes.len(), |sent| bytes[sent..].to_vec())
    }
}

/// Holds back (`hold`) or lets go of partial segments on the TCP socket `fd` (`TCP_CORK`):
/// while held, what is written queues in the kernel, and leaves in as few segments as possible
/// once let go (or 200 ms after it was written, the kernel's ceiling). The handshake holds
/// the `101` until the `ready` frame is written, so the peer gets both in one segment: one
/// loopback transmission and one wake-up of the peer instead of two. A failure (not TCP)
/// changes nothing and costs only that segment. The caller guarantees `fd` is open for the
/// call.
pub fn hold_segments(fd: RawFd, hold: bool) {
    // SAFETY: the caller keeps `fd` open for this call; the borrow does not outlive it.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    if let Err(e) = socket2::SockRef::from(&fd).set_tcp_cork(hold) {
        tracing::debug!(error = %e, "TCP_CORK not changed");
    }
}

/// One `send` (one slice) or `sendmsg` (several) of `slices` on `fd` without waiting
/// (retried if interrupted).
fn send_now(fd: RawFd, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: the caller keeps `fd` open for this call; the borrow does not outlive it.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let socket = socket2::SockRef::from(&fd);
    loop {
        let result = match slices {
            [one] => socket.send(one),
            _ => socket.send_vectored(slices),
        };
        match result {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// What a send of `total` bytes did; `rest(n)` gives the bytes after the first `n`.
fn sent(result: io::Result<usize>, total: usize, rest: impl FnOnce(usize) -> Vec<u8>) -> Sent {
    match result {
        Ok(n) if n == total => Sent::All,
        Ok(n) => Sent::Part(rest(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Sent::Part(rest(0)),
        Err(_) => Sent::Failed,
    }
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
