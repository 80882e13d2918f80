//! Outbox tests: bounds, the close signal, and direct writes to a real loopback socket.

use std::time::Duration;

use super::*;

#[tokio::test]
async fn a_full_outbox_closes_as_slow_consumer() {
    let (out, inbox) = outbox(OutboxLimits { frames: 2, bytes: 1 << 20 });
    assert_eq!(out.offer("a".into()), Offer::Queued);
    assert_eq!(out.offer("b".into()), Offer::Queued);
    assert_eq!(out.offer("c".into()), Offer::Overflowed);
    out.close(CloseReason { code: 1012, reason: "server_restart" });
    assert_eq!(inbox.frames.closed().await, CloseReason { code: 4008, reason: "slow_consumer" });
    drop(inbox);
    assert_eq!(out.offer("d".into()), Offer::Gone);
}

#[tokio::test]
async fn too_many_queued_bytes_close_as_slow_consumer() {
    let (out, inbox) = outbox(OutboxLimits { frames: 100, bytes: 10 });
    assert_eq!(out.offer("12345".into()), Offer::Queued);
    assert_eq!(out.offer("67890".into()), Offer::Queued);
    let Some(Outgoing::Event(written)) = inbox.frames.try_recv() else { panic!("an event frame") };
    inbox.frames.queued().release(written.len());
    assert_eq!(out.offer("abcde".into()), Offer::Queued, "room again once written");
    assert_eq!(out.offer("x".into()), Offer::Overflowed);
    assert_eq!(inbox.frames.closed().await.code, 4008);
}

/// A connected loopback pair: (the server's end, the client's end). `small` shrinks the
/// client's receive buffer and the server's send buffer so a large frame cannot go out whole.
async fn socket_pair(small: bool) -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::TcpSocket::new_v4().unwrap();
    if small {
        client.set_recv_buffer_size(4096).unwrap();
    }
    let client = client.connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    if small {
        socket2::SockRef::from(&server).set_send_buffer_size(4096).unwrap();
    }
    (server, client)
}

/// A writer that waits for the queue (lending the socket meanwhile) and returns what it took.
fn waiting_writer(frames: Frames) -> tokio::task::JoinHandle<(Frames, Vec<Outgoing>)> {
    tokio::spawn(async move {
        let mut taken = Vec::new();
        frames.recv_many(&mut taken, 64).await;
        (frames, taken)
    })
}

/// An outbox attached to the server's end of a loopback pair, with a writer waiting on it
/// (so the socket is lent): (outbox, writer, the server's end, the client's end).
async fn attached(
    small: bool,
    bytes: usize,
) -> (Outbox, tokio::task::JoinHandle<(Frames, Vec<Outgoing>)>, tokio::net::TcpStream, tokio::net::TcpStream) {
    let (server, client) = socket_pair(small).await;
    let (out, inbox) = outbox(OutboxLimits { frames: 100, bytes });
    // SAFETY: every test drops `server` last, after the frames.
    unsafe { out.attach(std::os::fd::AsRawFd::as_raw_fd(&server)) };
    let writer = waiting_writer(inbox.frames);
    tokio::time::sleep(Duration::from_millis(20)).await;
    (out, writer, server, client)
}

/// The wire bytes of a text frame carrying `text` (RFC 6455 §5.2, written out here as an
/// independent check of the encoder).
fn wire(text: &str) -> Vec<u8> {
    let mut bytes = vec![0x81];
    match text.len() {
        n @ 0..=125 => bytes.push(n as u8),
        n @ 126..=0xFFFF => bytes.extend([126, (n >> 8) as u8, n as u8]),
        n => bytes.extend([127].into_iter().chain((n as u64).to_be_bytes())),
    }
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// Reads what the client's socket holds until it has been quiet for 50 ms.
async fn drain(client: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = vec![0; 1 << 16];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(50), tokio::io::AsyncReadExt::read(client, &mut chunk)).await
    {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    got
}

#[tokio::test]
async fn frames_for_an_idle_writer_go_straight_to_the_socket_until_it_gets_busy() {
    let (out, writer, server, mut client) = attached(false, 1 << 20).await;

    assert_eq!(out.offer("first".into()), Offer::Queued);
    assert_eq!(drain(&mut client).await, wire("first"), "written without the writer");
    assert!(!writer.is_finished(), "nothing was queued");

    // Frames in quick succession make the socket busy: from then on they queue for the
    // writer, which paces them.
    let mut offered = vec!["first".to_string()];
    while !writer.is_finished() && offered.len() < 50 {
        let text = format!("frame {}", offered.len());
        assert_eq!(out.offer(text.as_str().into()), Offer::Queued);
        offered.push(text);
        tokio::task::yield_now().await;
    }
    let (frames, mut taken) = writer.await.unwrap();
    frames.try_recv_many(&mut taken, usize::MAX);
    let direct = drain(&mut client).await;
    let queued: Vec<String> =
        taken.iter().map(|o| if let Outgoing::Event(f) = o { f.to_string() } else { panic!("{o:?}") }).collect();
    assert!(offered.len() > 2 && !queued.is_empty(), "a busy socket stops direct writes ({} offered)", offered.len());
    let split = offered.len() - queued.len();
    assert_eq!(queued, offered[split..], "the queued frames are the latest ones");
    let expected: Vec<u8> = offered[1..split].iter().flat_map(|t| wire(t)).collect();
    assert_eq!(direct, expected, "the earlier ones went out directly, in order");
    drop(server);
}

#[tokio::test]
async fn what_a_full_socket_does_not_take_goes_first_to_the_writer() {
    let (out, writer, server, mut client) = attached(true, 1 << 24).await;

    let big = "x".repeat(1 << 20);
    assert_eq!(out.offer(big.as_str().into()), Offer::Queued);
    assert_eq!(out.offer("after".into()), Offer::Queued, "queued behind the rest");
    let (frames, mut taken) = tokio::time::timeout(Duration::from_secs(5), writer).await.unwrap().unwrap();
    frames.try_recv_many(&mut taken, usize::MAX);
    let [Outgoing::Rest(rest), Outgoing::Event(after)] = taken.as_slice() else { panic!("{taken:?}") };
    assert_eq!(after.as_str(), "after");
    // The client reads the part written directly; the writer's rest completes the frame.
    let mut got = drain(&mut client).await;
    assert!(!got.is_empty() && got.len() < wire(&big).len(), "{} bytes went out directly", got.len());
    got.extend_from_slice(rest);
    assert!(got == wire(&big), "direct part + rest = the frame");
    assert_eq!(frames.queued().now.load(Ordering::Relaxed), "after".len(), "only queued frames count");
    drop(server);
}

#[tokio::test]
async fn a_closing_or_gone_writer_gets_no_direct_writes() {
    let (out, writer, server, mut client) = attached(false, 1 << 20).await;
    out.close(CloseReason { code: 1000, reason: "" });
    assert_eq!(out.offer("late".into()), Offer::Queued, "queued for the writer to drop or flush");
    let (frames, taken) = writer.await.unwrap();
    assert_eq!(taken, [Outgoing::Event("late".into())]);
    drop(frames);
    assert_eq!(out.offer("gone".into()), Offer::Gone);
    assert!(drain(&mut client).await.is_empty(), "nothing was written directly");
    drop(server);
}

#[tokio::test]
async fn a_corked_outbox_holds_its_frames_and_writes_them_together_on_release() {
    let (out, writer, server, mut client) = attached(false, 1 << 20).await;
    let cork = out.cork();
    assert_eq!(out.offer("receive".into()), Offer::Queued);
    assert!(out.send("ack".into()).await);
    assert!(drain(&mut client).await.is_empty(), "nothing written while corked");
    assert!(!writer.is_finished(), "and the idle writer was not woken");
    drop(cork);
    let expected: Vec<u8> = [wire("receive"), wire("ack")].concat();
    assert_eq!(drain(&mut client).await, expected, "both, in order, by the release");
    assert!(!writer.is_finished(), "without the writer");
    assert_eq!(out.offer("later".into()), Offer::Queued);
    assert_eq!(drain(&mut client).await, wire("later"), "and direct writes go on");
    drop(server);
}

#[tokio::test]
async fn the_hub_writes_a_lone_fan_out_directly_and_flushes_the_ones_right_behind_it_together() {
    let hub = crate::hub::Hub::default();
    let (server, mut client) = socket_pair(false).await;
    let limits = OutboxLimits { frames: 100, bytes: 1 << 20 };
    let (conn, out, inbox) = hub.connect(uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), limits);
    // SAFETY: `server` outlives the frames (dropped at the end of the test, after them).
    unsafe { out.attach(std::os::fd::AsRawFd::as_raw_fd(&server)) };
    let channel = uuid::Uuid::now_v7();
    hub.subscribe(conn, [channel]);
    let writer = waiting_writer(inbox.frames);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Three fan-outs after a pause: the first goes out directly; the next two (less than
    // WRITE_PACE after it) queue without waking the writer, for the channel's flush. A
    // machine stall between them makes the next direct too; then the three are tried again.
    let mut direct = Vec::new();
    for k in 0..50 {
        tokio::time::sleep(2 * crate::hub::pace::WRITE_PACE).await;
        let texts = [format!("first {k}"), format!("second {k}"), format!("third {k}")];
        for text in &texts {
            assert_eq!(hub.deliver(channel, &text.as_str().into()), 1);
        }
        let queued = out.0.queue.len();
        direct.extend(wire(&texts[0]));
        if queued == 2 {
            assert!(hub.inner.flushes.pending(channel), "a flush is due");
            assert_eq!(drain(&mut client).await, [direct, wire(&texts[1]), wire(&texts[2])].concat(), "all, in order");
            assert!(!hub.inner.flushes.pending(channel) && out.0.queue.len() == 0, "flushed");
            assert!(hub.inner.fanouts.piling(channel), "two frames for one socket: frames pile up");
            assert!(!writer.is_finished(), "without waking the writer");
            drop(server);
            return;
        }
        direct.extend(texts[1..].iter().flat_map(|t| wire(t)));
    }
    panic!("no back-to-back fan-outs were queued in 50 tries");
}

#[tokio::test]
async fn a_frame_offered_later_to_a_writer_that_owns_its_socket_wakes_it() {
    let (out, inbox) = outbox(OutboxLimits { frames: 10, bytes: 1 << 20 });
    // No socket attached: the writer never lends one, so it is woken for every frame.
    let writer = waiting_writer(inbox.frames);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(out.offer_later("x".into()), (Offer::Queued, false), "no flush needed");
    let (_, taken) = tokio::time::timeout(Duration::from_secs(5), writer).await.unwrap().unwrap();
    assert_eq!(taken, [Outgoing::Event("x".into())]);
}
