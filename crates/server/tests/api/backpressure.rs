//! A connection that stops reading is disconnected (4008) and never stalls the others, and
//! while its writes are blocked its own requests are still read and handled.

use std::time::Duration;

use banter_client::proto::ws::ServerEvent;
use banter_client::{Incoming, Page};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

/// Messages sent; with [`BODY_CHARS`] each, far more than loopback socket buffers hold.
const MESSAGES: i64 = 1000;
const BODY_CHARS: usize = 16 * 1024;
const SENDERS: i64 = 4;
/// Per-session outbox capacity, in frames.
const OUTBOX_FRAMES: usize = 8;
/// Most messages the senders run ahead of the fast consumer: fewer than its outbox holds, so
/// the fast consumer is fast by construction (without this, on a loaded 2-core machine four
/// senders can burst more than 8 frames into its outbox before its writer task runs, and then
/// it is rightly cut off too). The slow one still gets all 16 MB pushed at it.
const WINDOW: i64 = OUTBOX_FRAMES as i64 / 2;
/// The whole exchange must finish within this.
const DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_cut_off_without_stalling_a_fast_one() {
    let app = TestApp::spawn_with(|c| {
        c.outbox_frames = OUTBOX_FRAMES;
        c.max_body_chars = BODY_CHARS;
    })
    .await;
    let sender = app.register("sender").await;
    let fast = app.register("fast").await;
    let slow = app.register("slow").await;
    let general = general_id(&sender).await;
    let mut fast_conn = app.connect(&fast).await;
    // Connected and then never read until the end.
    let mut slow_socket = app.connect_raw(&slow.token).await;

    // The fast consumer reads everything, in order, while the senders post.
    let (seen_tx, seen_rx) = tokio::sync::watch::channel(0i64);
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::with_capacity(MESSAGES as usize);
        while (seqs.len() as i64) < MESSAGES {
            match fast_conn.next_event().await.expect("fast read") {
                Incoming::Event { event: ServerEvent::MessageReceive(m), .. } => {
                    assert_eq!(m.body.len(), BODY_CHARS);
                    seqs.push(m.seq);
                    seen_tx.send_replace(seqs.len() as i64);
                }
                Incoming::Event { .. } => {}
                Incoming::Closed { code, reason } => {
                    panic!("the fast consumer was disconnected after {} messages: {code} {reason}", seqs.len())
                }
            }
        }
        seqs
    });

    // Several REST senders (no sockets of their own) post concurrently, at most WINDOW
    // messages ahead of the fast consumer.
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let client = sender.client.clone();
        let issued = issued.clone();
        let mut seen = seen_rx.clone();
        senders.push(tokio::spawn(async move {
            let body = char::from(b'a' + s as u8).to_string().repeat(BODY_CHARS);
            loop {
                let n = issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= MESSAGES {
                    return;
                }
                seen.wait_for(|seen| n - seen < WINDOW).await.expect("the fast reader is alive");
                client.send_message(&send_req(general, &body)).await.expect("send is never stalled");
            }
        }));
    }
    drop(seen_rx);
    let started = tokio::time::Instant::now();
    for task in senders {
        tokio::time::timeout(DEADLINE, task).await.expect("senders finish in time").unwrap();
    }
    let sent_in = started.elapsed();
    let seqs = tokio::time::timeout(DEADLINE, reader).await.expect("the fast consumer keeps up").unwrap();
    // Exactly once each. (Order across concurrent senders is checked, separately, by
    // messaging::concurrent_sends_are_broadcast_in_seq_order.)
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=MESSAGES).collect::<Vec<_>>(), "every message exactly once");
    eprintln!("sent {MESSAGES} x {BODY_CHARS} B in {sent_in:?}");

    // The slow socket: what the kernel buffered, then a close (4008) or the end of the stream,
    // and never every message (its server side was cut off).
    let (received, close) = within("the slow connection to end", async {
        let mut received = 0i64;
        loop {
            match slow_socket.next().await {
                Some(Ok(WsMessage::Text(t))) if t.as_str().contains(r#""type":"message:receive""#) => received += 1,
                Some(Ok(WsMessage::Close(frame))) => {
                    return (received, frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return (received, None),
            }
        }
    })
    .await;
    eprintln!("slow consumer got {received} messages before {close:?}");
    assert!(received < MESSAGES, "the slow consumer was never cut off");
    if let Some((code, reason)) = close {
        assert_eq!((code, reason.as_str()), (4008, "slow_consumer"));
    }
}

/// Frames queued for a connection that stopped reading: ~19 MiB, far more than loopback's
/// socket buffers take (a few MB), well within its outbox's limits below.
const BLOCKED_MESSAGES: usize = 600;
const BLOCKED_BODY_CHARS: usize = 32 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_writes_are_blocked_still_has_its_requests_handled() {
    let app = TestApp::spawn_with(|c| {
        c.max_body_chars = BLOCKED_BODY_CHARS;
        c.outbox_frames = 4 * BLOCKED_MESSAGES;
        c.outbox_bytes = 256 << 20;
    })
    .await;
    let sender = app.register("sender").await;
    let blocked = app.register("blocked").await;
    let general = general_id(&sender).await;
    // Never read: the server's writes to it block once the kernel's buffers are full.
    let mut socket = app.connect_raw(&blocked.token).await;
    let body = "x".repeat(BLOCKED_BODY_CHARS);
    let posted = tokio::time::timeout(DEADLINE, async {
        for _ in 0..BLOCKED_MESSAGES {
            sender.client.send_message(&send_req(general, &body)).await.expect("post");
        }
    });
    posted.await.expect("the posts finish in time");

    // The blocked connection sends; the server reads and commits it, though it cannot write
    // the ack (or anything else) to this socket.
    let key = client_id();
    let send = serde_json::json!({
        "type": "message:send",
        "id": "s1",
        "data": {"channel_id": general, "body": "still heard", "client_id": key},
    });
    within("the blocked client to write", socket.send(WsMessage::Text(send.to_string().into())))
        .await
        .expect("its sending direction is open");
    within("the blocked connection's send to commit", async {
        loop {
            let page = sender.client.messages(general, Page::latest(1)).await.expect("history");
            if page.messages.last().is_some_and(|m| m.client_id == key && m.sender.id == blocked.id()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
