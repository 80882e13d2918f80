//! A connection that stops reading is disconnected (4008) and never stalls the others.

use std::time::Duration;

use banter_client::proto::ws::ServerEvent;
use banter_client::Incoming;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::helpers::*;

/// Messages sent; with [`BODY_CHARS`] each, far more than loopback socket buffers hold.
const MESSAGES: i64 = 1000;
const BODY_CHARS: usize = 16 * 1024;
const SENDERS: i64 = 4;
/// The whole exchange must finish within this.
const DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_cut_off_without_stalling_a_fast_one() {
    let app = TestApp::spawn_with(|c| {
        c.outbox_frames = 8;
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
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::with_capacity(MESSAGES as usize);
        while (seqs.len() as i64) < MESSAGES {
            match fast_conn.next_event().await.expect("fast read") {
                Incoming::Event { event: ServerEvent::MessageReceive(m), .. } => {
                    assert_eq!(m.body.len(), BODY_CHARS);
                    seqs.push(m.seq);
                }
                Incoming::Event { .. } => {}
                Incoming::Closed { code, reason } => {
                    panic!("the fast consumer was disconnected after {} messages: {code} {reason}", seqs.len())
                }
            }
        }
        seqs
    });

    // Several REST senders (no sockets of their own) post concurrently.
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let client = sender.client.clone();
        senders.push(tokio::spawn(async move {
            let body = char::from(b'a' + s as u8).to_string().repeat(BODY_CHARS);
            for _ in 0..MESSAGES / SENDERS {
                client.send_message(&send_req(general, &body)).await.expect("send is never stalled");
            }
        }));
    }
    let started = tokio::time::Instant::now();
    for task in senders {
        tokio::time::timeout(DEADLINE, task).await.expect("senders finish in time").unwrap();
    }
    let sent_in = started.elapsed();
    let seqs = tokio::time::timeout(DEADLINE, reader).await.expect("the fast consumer keeps up").unwrap();
    assert_eq!(seqs, (1..=MESSAGES).collect::<Vec<_>>(), "every message, in order, no gaps");
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
