//! The log starts over under a steady stream of commits (see [`super::checkpoint`]), and
//! nothing committed meanwhile is lost.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tests::{message, room, sent, store, user};
use crate::store::Page;

/// The log's checkpoint sequence number: bytes 12..16 of the WAL header (big-endian), which
/// SQLite adds one to each time it starts the log over; `None` before the log exists.
fn log_restarts(dir: &tempfile::TempDir) -> Option<u32> {
    let mut header = [0u8; 16];
    let mut log = std::fs::File::open(dir.path().join("banter.db-wal")).ok()?;
    log.read_exact(&mut header).ok()?;
    Some(u32::from_be_bytes([header[12], header[13], header[14], header[15]]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_stream_of_commits_still_starts_the_log_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let ann = user(&store, "ann").await;
    let mut rooms = Vec::new();
    for _ in 0..16 {
        rooms.push(room(&store, &ann).await);
    }
    // One sender per room, each sending again as soon as its last send is acknowledged, so
    // the writer is never idle while the checkpoint thread copies.
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = rooms
        .iter()
        .map(|&channel| {
            let (store, ann, stop) = (store.clone(), ann.clone(), stop.clone());
            tokio::spawn(async move {
                let mut count = 0;
                while !stop.load(Ordering::Relaxed) {
                    count += 1;
                    sent(&store, message(&ann, channel, &format!("{channel}-{count}"), "a steady stream")).await;
                }
                count
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        if let Some(n) = log_restarts(&dir) {
            break n;
        }
        assert!(Instant::now() < deadline, "no log");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    while log_restarts(&dir).unwrap() < first + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restarts = log_restarts(&dir).unwrap() - first;
    stop.store(true, Ordering::Relaxed);
    let mut counts = Vec::new();
    for sender in senders {
        counts.push(sender.await.unwrap());
    }
    assert!(restarts >= 2, "the log started over {restarts} times while sends never stopped");
    for (&channel, &count) in rooms.iter().zip(&counts) {
        assert_eq!(store.channel(ann.user.id, channel).await.unwrap().unwrap().head_seq, count);
        let (latest, _) = store.messages(channel, Page::Latest { limit: 1 }).await.unwrap();
        assert_eq!(latest[0].seq, count, "every acknowledged send is there");
    }
}
