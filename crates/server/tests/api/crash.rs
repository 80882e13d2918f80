//! Crash safety through the real binary: SIGKILL in the middle of a send storm, restart on the
//! same data dir, and every acknowledged message is there exactly once; retrying the
//! unacknowledged sends with their `client_id`s creates no duplicates.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use banter_client::proto::rest::{RegisterRequest, SendMessageRequest};
use banter_client::{Client, Page};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::helpers::PASSWORD;

/// The `banter` binary as a child process on a free port.
struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    fn start(data_dir: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_banter"))
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1", "--log", "warn"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start banter");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read the banner");
        let base_url = line.trim().strip_prefix("banter listening on ").expect("banner names the address").to_owned();
        Self { child, base_url }
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill_once_and_retries_do_not_duplicate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path());
    let req = RegisterRequest { username: "ana".into(), password: PASSWORD.into(), email: None, display_name: None };
    let (client, auth) = Client::new(&server.base_url).unwrap().register(&req).await.expect("register");
    let general = client.channels().await.expect("channels")[0].id;

    // 8 senders, each sending until the server dies; acked keys are reported as they land.
    let (acked_tx, mut acked_rx) = mpsc::unbounded_channel::<String>();
    let mut attempted = Vec::new();
    let mut senders = Vec::new();
    for lane in 0..8 {
        let (client, acked_tx) = (client.clone(), acked_tx.clone());
        let keys: Vec<String> = (0..100_000).map(|i| format!("l{lane}-{i}")).collect();
        attempted.push(keys.clone());
        senders.push(tokio::spawn(async move {
            for key in keys {
                let req = SendMessageRequest {
                    channel_id: general,
                    body: format!("storm {key}"),
                    client_id: key.clone(),
                    reply_to: None,
                };
                match client.send_message(&req).await {
                    Ok(_) => acked_tx.send(key).expect("collector alive"),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    drop(acked_tx);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    for s in senders {
        s.await.expect("sender");
    }
    let mut acked = HashSet::new();
    while let Some(key) = acked_rx.recv().await {
        acked.insert(key);
    }
    assert!(acked.len() > 50, "the storm got going before the kill ({} acked)", acked.len());

    let server = Server::start(dir.path());
    let client = Client::new(&server.base_url).unwrap().with_token(&auth.token);
    let stored = all_messages(&client, general).await;
    let keys: Vec<&str> = stored.iter().map(|(_, k)| k.as_str()).collect();
    let unique: HashSet<&str> = keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len(), "no message is stored twice");
    let missing: Vec<_> = acked.iter().filter(|k| !unique.contains(k.as_str())).collect();
    assert!(missing.is_empty(), "acknowledged but lost after SIGKILL: {missing:?}");
    let seqs: Vec<i64> = stored.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "seq stays gap-free across the crash");

    // Clients retry what they never saw acknowledged (and the last acked ones, as a client
    // that lost those acks would): no duplicates, every key once.
    let mut retried = 0;
    for lane in &attempted {
        let first_unacked = lane.iter().position(|k| !acked.contains(k)).unwrap_or(lane.len());
        for key in &lane[first_unacked.saturating_sub(3)..(first_unacked + 2).min(lane.len())] {
            let req = SendMessageRequest {
                channel_id: general,
                body: format!("storm {key}"),
                client_id: key.clone(),
                reply_to: None,
            };
            client.send_message(&req).await.expect("retry accepted");
            retried += 1;
        }
    }
    let after = all_messages(&client, general).await;
    let keys_after: Vec<&str> = after.iter().map(|(_, k)| k.as_str()).collect();
    let unique_after: HashSet<&str> = keys_after.iter().copied().collect();
    assert_eq!(unique_after.len(), keys_after.len(), "retries created no duplicates");
    assert!(after.len() >= stored.len() && after.len() <= stored.len() + retried);
}

/// `(seq, client_id)` of every message in `channel`, ascending.
async fn all_messages(client: &Client, channel: Uuid) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = client.messages(channel, Page::after(after, 100)).await.expect("history");
        out.extend(page.messages.iter().map(|m| (m.seq, m.client_id.clone())));
        match page.messages.last() {
            Some(last) if page.has_more => after = last.seq,
            _ => return out,
        }
    }
}
