use super::*;

/// A client frame: FIN flag, opcode, payload masked with a fixed key.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= u16::MAX as usize => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads every message from `bytes` delivered in reads of `step` bytes.
async fn read_all(bytes: Vec<u8>, step: usize, max: usize) -> (Vec<Incoming>, ReadError) {
    let mut mock = tokio_test_reader(bytes, step);
    let mut reader = FrameReader::new(max);
    let mut out = Vec::new();
    loop {
        match reader.next(&mut mock).await {
            Ok(m) => out.push(m),
            Err(e) => return (out, e),
        }
    }
}

/// An in-memory stream returning at most `step` bytes per read, then EOF.
fn tokio_test_reader(bytes: Vec<u8>, step: usize) -> impl AsyncRead + Unpin {
    struct Chunked(std::io::Cursor<Vec<u8>>, usize);
    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let step = self.1.min(buf.remaining());
            let pos = self.0.position() as usize;
            let data = self.0.get_ref();
            let end = (pos + step).min(data.len());
            buf.put_slice(&data[pos..end]);
            self.0.set_position(end as u64);
            Poll::Ready(Ok(()))
        }
    }
    Chunked(std::io::Cursor::new(bytes), step)
}

#[tokio::test]
async fn text_pings_and_close_in_any_read_sizes() {
    let long = "é".repeat(40_000);
    let mut bytes = client_frame(true, opcode::TEXT, br#"{"type":"ping"}"#);
    bytes.extend(client_frame(true, opcode::PING, b"hi"));
    bytes.extend(client_frame(true, opcode::TEXT, long.as_bytes()));
    bytes.extend(client_frame(true, opcode::BINARY, b"\x00\x01"));
    bytes.extend(client_frame(true, opcode::CLOSE, &1000u16.to_be_bytes()));
    for step in [1, 3, 7, 4096, 1 << 20] {
        let (messages, end) = read_all(bytes.clone(), step, 1 << 20).await;
        assert_eq!(
            messages,
            vec![
                Incoming::Text(r#"{"type":"ping"}"#.into()),
                Incoming::Ping(b"hi".to_vec()),
                Incoming::Text(long.clone()),
                Incoming::Binary,
                Incoming::Close
            ],
            "read {step} bytes at a time"
        );
        assert!(matches!(end, ReadError::Eof));
    }
}

#[tokio::test]
async fn fragments_are_reassembled_around_control_frames() {
    let mut bytes = client_frame(false, opcode::TEXT, b"hel");
    bytes.extend(client_frame(true, opcode::PING, b""));
    bytes.extend(client_frame(false, opcode::CONTINUATION, b"lo "));
    bytes.extend(client_frame(true, opcode::CONTINUATION, "wörld".as_bytes()));
    let (messages, _) = read_all(bytes, 5, 1024).await;
    assert_eq!(messages, vec![Incoming::Ping(vec![]), Incoming::Text("hello wörld".into())]);
}

#[tokio::test]
async fn over_the_limit_frames_and_messages_are_refused() {
    let (messages, end) = read_all(client_frame(true, opcode::TEXT, &[b'a'; 101]), 4096, 100).await;
    assert!(messages.is_empty());
    assert!(matches!(end, ReadError::TooLarge));
    let mut bytes = client_frame(false, opcode::TEXT, &[b'a'; 60]);
    bytes.extend(client_frame(true, opcode::CONTINUATION, &[b'a'; 60]));
    assert!(matches!(read_all(bytes, 4096, 100).await.1, ReadError::TooLarge));
}

#[tokio::test]
async fn protocol_violations_and_bad_utf8_are_refused() {
    let unmasked = vec![0x81, 0x02, b'h', b'i'];
    let reserved_bit = {
        let mut f = client_frame(true, opcode::TEXT, b"hi");
        f[0] |= 0x40;
        f
    };
    let fragmented_ping = client_frame(false, opcode::PING, b"");
    let stray_continuation = client_frame(true, opcode::CONTINUATION, b"x");
    let mut interleaved = client_frame(false, opcode::TEXT, b"a");
    interleaved.extend(client_frame(true, opcode::TEXT, b"b"));
    let unknown_opcode = client_frame(true, 0x3, b"");
    let long_ping = client_frame(true, opcode::PING, &[0; 126]);
    let huge_length = vec![0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let one_byte_close = client_frame(true, opcode::CLOSE, &[3]);
    let reserved_close_code = client_frame(true, opcode::CLOSE, &1005u16.to_be_bytes());
    let low_close_code = client_frame(true, opcode::CLOSE, &999u16.to_be_bytes());
    for bytes in [
        unmasked,
        reserved_bit,
        fragmented_ping,
        stray_continuation,
        interleaved,
        unknown_opcode,
        long_ping,
        huge_length,
        one_byte_close,
        reserved_close_code,
        low_close_code,
    ] {
        let (messages, end) = read_all(bytes, 4096, 1024).await;
        assert!(messages.is_empty());
        assert!(matches!(end, ReadError::Protocol), "{end:?}");
    }
    let (_, end) = read_all(client_frame(true, opcode::TEXT, &[0xff, 0xfe]), 4096, 1024).await;
    assert!(matches!(end, ReadError::InvalidUtf8));
    let (_, end) = read_all(client_frame(true, opcode::CLOSE, &[0x03, 0xe8, 0xff]), 4096, 1024).await;
    assert!(matches!(end, ReadError::InvalidUtf8), "close reason not UTF-8");
    let (messages, _) = read_all(client_frame(true, opcode::CLOSE, &[0x0f, 0xa0, b'o', b'k']), 4096, 1024).await;
    assert_eq!(messages, vec![Incoming::Close], "4000 with a reason is fine");
}

#[test]
fn unmasking_matches_the_bytewise_definition() {
    let mask = [1, 2, 3, 250];
    for len in 0..40 {
        let original: Vec<u8> = (0..len as u8).collect();
        let mut fast = original.clone();
        unmask(&mut fast, mask);
        let slow: Vec<u8> = original.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        assert_eq!(fast, slow);
    }
}

#[test]
fn an_idle_reader_holds_no_buffer() {
    let mut reader = FrameReader::new(1024);
    reader.buf = client_frame(true, opcode::TEXT, b"{}");
    assert_eq!(reader.parse().unwrap(), Some(Incoming::Text("{}".into())));
    assert_eq!(reader.buf.capacity(), 0);
}

#[tokio::test]
async fn a_stream_of_frames_split_across_reads_keeps_only_the_unfinished_one() {
    // 10-byte frames read 7 bytes at a time: after nearly every read a frame is cut in two,
    // so the buffer never empties on its own.
    let frame = client_frame(true, opcode::TEXT, b"abcd");
    let mut mock = tokio_test_reader(frame.repeat(2_000), 7);
    let mut reader = FrameReader::new(1024);
    for _ in 0..2_000 {
        assert_eq!(reader.next(&mut mock).await.unwrap(), Incoming::Text("abcd".into()));
        assert!(reader.buf.len() < frame.len() + 7, "{} bytes kept", reader.buf.len());
    }
}
