//! A minimal RFC 6455 client over a raw TCP stream, for sending what a client library would
//! refuse to: the upgrade request written by hand, masked (or unmasked) client frames, and a
//! reader of server frames that checks what every server frame must satisfy (no mask, no
//! reserved bits, text frames whole and valid JSON).

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{within, TestApp};

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// The key of RFC 6455 §1.3's example handshake.
pub const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The masking key of every client frame (RFC 6455 §5.7's example).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The header lines of a version-`version` upgrade with `key`.
pub fn upgrade(key: &str, version: &str) -> Vec<String> {
    vec![
        "Connection: keep-alive, Upgrade".into(),
        "Upgrade: websocket".into(),
        format!("Sec-WebSocket-Version: {version}"),
        format!("Sec-WebSocket-Key: {key}"),
    ]
}

/// A `GET /api/ws` with a bearer `token` and the header lines `headers`.
pub fn get(token: &str, headers: &[String]) -> Vec<u8> {
    let mut req = format!("GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n");
    for line in headers {
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// A frame header announcing `len` payload bytes, with the mask bit and key.
pub fn header(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
    let mut out = unmasked_header(fin, opcode, len);
    out[1] |= 0x80;
    out.extend_from_slice(&MASK);
    out
}

fn unmasked_header(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 | opcode } else { opcode }];
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => out.extend([126, (len >> 8) as u8, len as u8]),
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out
}

/// A masked client frame.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(fin, opcode, payload.len());
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// A client frame WITHOUT a mask, which RFC 6455 §5.1 forbids.
pub fn unmasked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = unmasked_header(true, opcode, payload.len());
    out.extend_from_slice(payload);
    out
}

/// `{"type":"ping","id":ID}` as one masked text frame.
pub fn ping_request(id: &str) -> Vec<u8> {
    frame(true, TEXT, format!(r#"{{"type":"ping","id":"{id}"}}"#).as_bytes())
}

/// A server frame.
#[derive(Debug)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub header_len: usize,
    pub payload: Vec<u8>,
}

/// An HTTP response: status, headers (names lowercased), body.
pub struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The `error.code` of a JSON error body.
    pub fn error_code(&self) -> String {
        let body: Value = serde_json::from_slice(&self.body).expect("a JSON error body");
        body["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}")).to_owned()
    }
}

/// A raw connection: the TCP stream and the bytes read from it but not parsed yet.
pub struct Wire {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    /// A TCP connection to `app` (Nagle off, so each `send` is its own segment).
    /// Segments carrying data that this end's TCP has received so far (`TCP_INFO`'s
    /// `tcpi_data_segs_in`, Linux).
    pub fn data_segments_in(&self) -> u32 {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.tcp);
        // SAFETY: a zeroed `tcp_info` is valid; the kernel fills at most `len` bytes of it.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `fd` is this open socket; `info` and `len` outlive the call.
        let done =
            unsafe { libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, (&raw mut info).cast(), &raw mut len) };
        assert_eq!(done, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
        info.tcpi_data_segs_in
    }

    pub async fn connect(app: &TestApp) -> Self {
        let addr = app.base_url.trim_start_matches("http://");
        let tcp = within("tcp connect", TcpStream::connect(addr)).await.expect("tcp connect");
        tcp.set_nodelay(true).expect("nodelay");
        Self { tcp, buf: Vec::new() }
    }

    /// Connects, upgrades with `token` (asserting the 101) and reads `ready`; returns its data.
    pub async fn open(app: &TestApp, token: &str) -> (Self, Value) {
        let mut wire = Self::connect(app).await;
        wire.send(&get(token, &upgrade(RFC_KEY, "13"))).await;
        assert_eq!(wire.response().await.status, 101);
        let ready = wire.next_json().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (wire, ready["data"].clone())
    }

    /// Writes `bytes` in one write call.
    pub async fn send(&mut self, bytes: &[u8]) {
        within("write", self.tcp.write_all(bytes)).await.expect("write");
    }

    /// Reads once into the buffer; the count read (0 at EOF).
    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = within("read", self.tcp.read(&mut chunk)).await.expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    async fn fill_some(&mut self, what: &str) {
        assert!(self.fill().await > 0, "the connection ended while reading {what}");
    }

    /// Reads an HTTP response head, and the body of any status but 101 (by Content-Length).
    pub async fn response(&mut self) -> Response {
        let end = loop {
            match self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(end) => break end,
                None => self.fill_some("a response head").await,
            }
        };
        let head = String::from_utf8(self.buf.drain(..end + 4).collect()).expect("an ASCII head");
        let mut lines = head.trim_end().split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok());
        let headers = lines.filter_map(|l| l.split_once(':'));
        let headers = headers.map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
        let mut response = Response { status: status.expect("a status line"), headers, body: Vec::new() };
        if response.status != 101 {
            let len = response.header("content-length").expect("a sized body").parse().expect("a length");
            while self.buf.len() < len {
                self.fill_some("a response body").await;
            }
            response.body = self.buf.drain(..len).collect();
        }
        response
    }

    /// The next server frame.
    pub async fn next_frame(&mut self) -> Frame {
        loop {
            if let Some(frame) = self.parse() {
                return frame;
            }
            self.fill_some("a frame").await;
        }
    }

    fn parse(&mut self) -> Option<Frame> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        assert_eq!(b[0] & 0x70, 0, "reserved bits set in a server frame: {:#04x}", b[0]);
        assert_eq!(b[1] & 0x80, 0, "a server frame must not be masked");
        let (size, len) = match b[1] & 0x7F {
            126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
            127 if b.len() >= 10 => (10, u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize),
            126 | 127 => return None,
            n => (2, n as usize),
        };
        if b.len() < size + len {
            return None;
        }
        let (fin, opcode) = (b[0] & 0x80 != 0, b[0] & 0x0F);
        let payload = b[size..size + len].to_vec();
        self.buf.drain(..size + len);
        Some(Frame { fin, opcode, header_len: size, payload })
    }

    /// The next frame other than heartbeat pings (empty) and ambient live state
    /// (`presence:change`, `receipt:update`). Text frames must be whole, valid JSON.
    pub async fn next_significant(&mut self) -> Frame {
        loop {
            let frame = self.next_frame().await;
            if frame.opcode == PING && frame.payload.is_empty() {
                continue;
            }
            if frame.opcode == TEXT {
                assert!(frame.fin, "the server does not fragment");
                let json: Value = serde_json::from_slice(&frame.payload)
                    .unwrap_or_else(|e| panic!("a server text frame is not JSON ({e}): {:?}", frame.payload));
                if matches!(json["type"].as_str(), Some("presence:change" | "receipt:update")) {
                    continue;
                }
            }
            return frame;
        }
    }

    /// The next significant frame, which must be text; its JSON.
    pub async fn next_json(&mut self) -> Value {
        let frame = self.next_significant().await;
        assert_eq!(frame.opcode, TEXT, "expected a text frame, got {frame:?}");
        serde_json::from_slice(&frame.payload).expect("checked JSON")
    }

    /// Reads to the close frame, which must carry `code` and `reason`; then the server must end
    /// the TCP connection (a read returns 0).
    pub async fn expect_close(&mut self, code: u16, reason: &str) {
        let frame = self.next_significant().await;
        assert_eq!(frame.opcode, CLOSE, "expected a close frame, got {frame:?}");
        assert!(frame.payload.len() >= 2, "a close frame without a code: {frame:?}");
        let got = (u16::from_be_bytes([frame.payload[0], frame.payload[1]]), std::str::from_utf8(&frame.payload[2..]));
        assert_eq!(got, (code, Ok(reason)));
        assert!(self.buf.is_empty(), "bytes after the close frame: {:?}", self.buf);
        assert_eq!(self.fill().await, 0, "the server must end the connection after its close frame");
    }
}
