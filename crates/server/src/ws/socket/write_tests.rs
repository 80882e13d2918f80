//! Tests of [`super`]: frame layout, batch writes, and direct writes on a real loopback socket.

use super::*;

#[test]
fn headers_use_the_shortest_length_encoding() {
    for (len, header) in [(0, vec![0x81, 0]), (125, vec![0x81, 125]), (126, vec![0x81, 126, 0, 126])] {
        let text = "a".repeat(len);
        let mut batch = Batch::default();
        batch.text(&text);
        assert_eq!(&batch.bytes[..header.len()], header.as_slice());
        assert_eq!(batch.bytes.len(), header.len() + len);
    }
    let text = "a".repeat(70_000);
    let mut batch = Batch::default();
    batch.text(&text);
    assert_eq!(&batch.bytes[..10], &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
}

#[test]
fn control_frames_fit_125_bytes() {
    let mut batch = Batch::default();
    batch.close(4008, &"é".repeat(100));
    assert_eq!(batch.bytes[0], 0x88);
    assert!(batch.bytes[1] as usize <= MAX_CONTROL_PAYLOAD);
    assert_eq!(&batch.bytes[2..4], &4008u16.to_be_bytes());
    assert!(std::str::from_utf8(&batch.bytes[4..]).is_ok());
    let mut batch = Batch::default();
    batch.pong(&[7; 200]).ping();
    assert_eq!(&batch.bytes[..2], &[0x8A, 125]);
    assert_eq!(&batch.bytes[127..], &[0x89, 0]);
}

/// Writes `text` frames with [`send_text`] to a loopback connection whose peer does not read,
/// until one is cut short by the full buffers; then closes it and returns what the peer
/// received, the wire bytes of every frame written in full plus the cut one's written part,
/// and the rest handed back with the wire bytes it should be.
fn send_until_cut(text: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    socket2::SockRef::from(&server).set_send_buffer_size(4096).unwrap();
    let mut frame = Batch::default();
    frame.text(text);
    let wire = frame.bytes;
    let mut sent = Vec::new();
    for _ in 0..100_000 {
        match send_text(server.as_raw_fd(), text.as_bytes()) {
            Sent::All => sent.extend_from_slice(&wire),
            Sent::Part(rest) => {
                let cut = wire.len() - rest.len();
                sent.extend_from_slice(&wire[..cut]);
                drop(server);
                let mut got = Vec::new();
                client.read_to_end(&mut got).unwrap();
                return (got, sent, rest, wire[cut..].to_vec());
            }
            Sent::Failed => panic!("loopback send failed"),
        }
    }
    panic!("the buffers never filled");
}

/// Small frames (one contiguous `send`) and large ones (a two-slice `sendmsg`) reach the peer
/// of a real loopback socket byte for byte, and the frame a full send buffer cuts short hands
/// back exactly its unwritten end, header included if need be.
#[test]
fn direct_frames_of_any_size_arrive_whole_or_hand_back_their_rest() {
    for len in [300, SMALL_FRAME - 2, SMALL_FRAME * 3] {
        let (got, sent, rest, unwritten) = send_until_cut(&"x".repeat(len));
        assert_eq!(got, sent, "{len}: the peer got every byte written, in order");
        assert_eq!(rest, unwritten, "{len}: the rest is the frame's unwritten end");
    }
}

#[tokio::test]
async fn a_batch_is_written_whole() {
    let (mut client, mut server) = tokio::io::duplex(16);
    let mut batch = Batch::default();
    batch.reserve(2, 6);
    batch.text("hello").text("x");
    let writer = tokio::spawn(async move {
        batch.write_to(&mut server).await.unwrap();
        assert!(batch.is_empty() && batch.bytes.capacity() == 0, "written batches release their buffer");
    });
    let mut out = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut client, &mut out).await.unwrap();
    writer.await.unwrap();
    assert_eq!(out, b"\x81\x05hello\x81\x01x");
}

#[tokio::test]
async fn a_cancelled_write_resumes_where_it_stopped() {
    let (mut client, mut server) = tokio::io::duplex(4);
    let mut batch = Batch::default();
    batch.text("hello world");
    let cut = tokio::time::timeout(std::time::Duration::from_millis(20), batch.write_to(&mut server)).await;
    assert!(cut.is_err(), "the 4-byte pipe is full");
    batch.close(1000, "");
    let writer = tokio::spawn(async move { batch.write_to(&mut server).await });
    let mut out = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut client, &mut out).await.unwrap();
    writer.await.unwrap().unwrap();
    assert_eq!(out, b"\x81\x0bhello world\x88\x02\x03\xe8");
}
