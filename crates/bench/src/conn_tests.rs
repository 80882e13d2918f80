//! [`Conn`] against a real WebSocket server on a loopback socket: `tokio-tungstenite`'s server
//! side, which checks the upgrade request and the client frames' masking.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request as ServerRequest, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::*;

/// An owned [`Frame`], to collect what a connection read.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(usize),
    Ping(Vec<u8>),
    Close(Option<u16>),
}

/// Reads frames until a close (answering pings), returning all of them.
async fn read_all(conn: &mut Conn) -> Vec<Got> {
    let mut got = Vec::new();
    loop {
        let mut pong = None;
        while let Some(frame) = conn.next_frame().unwrap() {
            got.push(match frame {
                Frame::Text(t) => Got::Text(String::from_utf8(t.to_vec()).unwrap()),
                Frame::Binary(b) => Got::Binary(b.len()),
                Frame::Ping(p) => {
                    pong = Some(p.to_vec());
                    Got::Ping(p.to_vec())
                }
                Frame::Pong => continue,
                Frame::Close(code) => {
                    got.push(Got::Close(code));
                    return got;
                }
            });
        }
        if let Some(payload) = pong {
            conn.send_pong(&payload).await.unwrap();
        }
        assert!(conn.read().await.unwrap() > 0, "the server closed without a close frame");
    }
}

#[tokio::test]
async fn upgrades_reads_every_frame_size_and_writes_masked_frames_a_real_server_accepts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let long = "y".repeat(200);
    let server = tokio::spawn({
        let long = long.clone();
        async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut auth = None;
            // The callback's error type is tungstenite's (an HTTP response).
            #[allow(clippy::result_large_err)]
            let see_auth = |req: &ServerRequest, res: Response| -> Result<Response, ErrorResponse> {
                auth = req.headers().get("authorization").map(|v| v.to_str().unwrap().to_owned());
                Ok(res)
            };
            let mut ws = tokio_tungstenite::accept_hdr_async(tcp, see_auth).await.unwrap();
            // Sizes on each side of the 7-bit, 16-bit and 64-bit length forms.
            for message in [
                Message::text("ready"),
                Message::text(long),
                Message::binary(vec![7u8; 70_000]),
                Message::Ping(b"hb".to_vec().into()),
            ] {
                ws.send(message).await.unwrap();
            }
            let mut seen = Vec::new();
            while seen.len() < 4 {
                match ws.next().await.unwrap().unwrap() {
                    Message::Text(t) => seen.push(t.as_str().len().to_string()),
                    Message::Pong(p) => seen.push(format!("pong {}", String::from_utf8_lossy(&p))),
                    other => panic!("{other:?}"),
                }
            }
            let close = CloseFrame { code: CloseCode::from(4008), reason: "slow_consumer".into() };
            ws.close(Some(close)).await.unwrap();
            (auth, seen)
        }
    });

    let mut request = format!("ws://{addr}/api/ws").into_client_request().unwrap();
    request.headers_mut().insert("authorization", "Bearer t0k".parse().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut conn = Conn::upgrade(tcp, &request).await.unwrap();
    conn.send_text("hello").await.unwrap();
    conn.send_text(&"z".repeat(300)).await.unwrap();
    conn.send_text(&"w".repeat(70_000)).await.unwrap();
    let got = read_all(&mut conn).await;
    assert_eq!(
        got,
        [
            Got::Text("ready".into()),
            Got::Text(long),
            Got::Binary(70_000),
            Got::Ping(b"hb".to_vec()),
            Got::Close(Some(4008)),
        ]
    );
    let (auth, seen) = server.await.unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer t0k"));
    // The pong may come before or after the texts; all three texts arrive whole, in order.
    let texts: Vec<_> = seen.iter().filter(|s| !s.starts_with("pong")).collect();
    assert_eq!(texts, ["5", "300", "70000"]);
    assert!(seen.contains(&"pong hb".to_string()), "{seen:?}");
}

#[tokio::test]
async fn an_idle_session_waits_without_a_buffer_and_makes_one_when_bytes_come() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, later) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::text("ready")).await.unwrap();
        later.await.unwrap();
        ws.send(Message::text("later")).await.unwrap();
        ws
    });
    let request = format!("ws://{addr}/api/ws").into_client_request().unwrap();
    let mut conn = Conn::upgrade(TcpStream::connect(addr).await.unwrap(), &request).await.unwrap();
    while conn.next_frame().unwrap().is_none() {
        conn.read().await.unwrap();
    }
    conn.release_idle_buffer();
    let waited = tokio::time::timeout(std::time::Duration::from_millis(50), conn.read()).await;
    assert!(waited.is_err(), "nothing to read yet");
    assert_eq!(conn.buf.capacity(), 0, "an idle wait holds no buffer");
    go.send(()).unwrap();
    let mut frame = None;
    while frame.is_none() {
        assert!(conn.read().await.unwrap() > 0);
        frame = conn.next_frame().unwrap().map(|f| format!("{f:?}"));
    }
    assert_eq!(frame.as_deref(), Some(format!("{:?}", Frame::Text(b"later")).as_str()));
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_refused_upgrade_reports_its_status() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 1024];
        let _ = tcp.read(&mut head).await.unwrap();
        tcp.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n").await.unwrap();
    });
    let request = format!("ws://{addr}/api/ws").into_client_request().unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let error = Conn::upgrade(tcp, &request).await.err().expect("refused");
    assert!(error.to_string().contains("HTTP 401"), "{error:#}");
}

#[test]
fn headers_are_read_only_once_complete_and_forbidden_frames_are_errors() {
    // A text frame of 300 bytes: the 16-bit length form, cut before the length's end.
    assert_eq!(parse_header(&[0x81, 126, 0x01]).unwrap(), None);
    assert_eq!(parse_header(&[0x81, 126, 0x01, 0x2c]).unwrap(), Some((0x81, 4, 300)));
    assert_eq!(parse_header(&[0x81]).unwrap(), None);
    for (bytes, why) in [
        (&[0x81, 0x85][..], "masked"),
        (&[0x01, 0x05][..], "fragmented"),
        (&[0x80, 0x05][..], "continuation"),
        (&[0xC1, 0x05][..], "reserved bit"),
        (&[0x83, 0x05][..], "reserved opcode"),
        (&[0x89, 126, 0x00, 0x80][..], "control over 125 bytes"),
        (&[0x82, 127, 0, 0, 0, 0, 0x10, 0, 0, 0][..], "over the size limit"),
    ] {
        let error = parse_header(bytes).expect_err(why);
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{why}");
    }
}

#[test]
fn frames_are_masked_with_the_given_key() {
    let mut out = Vec::new();
    encode_frame(OP_TEXT, b"abcd", [1, 2, 3, 4], &mut out);
    assert_eq!(out, [0x81, 0x84, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3, b'd' ^ 4]);
}
