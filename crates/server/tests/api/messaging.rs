//! Live messaging in `#general`, `seq` assignment, `ready`, read watermarks and user lookup.

use banter_client::proto::ws::ServerEvent;
use banter_client::proto::{ChannelKind, Role};
use banter_client::Page;
use reqwest::Method;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn ready_describes_the_user_channels_and_limits() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let conn = app.connect(&ana).await;
    let ready = conn.ready();
    assert_eq!(ready.user, ana.user);
    let general = ready.channels.iter().find(|c| c.name == "general").expect("#general in ready");
    assert_eq!(general.kind, ChannelKind::Public);
    assert_eq!(general.head_seq, 0);
    assert_eq!(general.membership.as_ref().map(|m| m.role), Some(Role::Member));
    assert_eq!(ready.limits.max_body_chars, 4000);
    assert_eq!(ready.limits.max_frame_bytes, 64 * 1024);
    assert_eq!(ready.limits.max_page, 100);
    assert_eq!(ready.heartbeat_ms, 30_000);
}

#[tokio::test]
async fn two_clients_exchange_messages_live() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let general = general_id(&ana).await;
    let mut ana_conn = app.connect(&ana).await;
    let mut bob_conn = app.connect(&bob).await;

    let ack = within("ack", ana_conn.send_message(general, "hi bob", "a1")).await.expect("ack");
    assert_eq!((ack.seq, ack.channel_id, ack.client_id.as_str()), (1, general, "a1"));
    for conn in [&mut ana_conn, &mut bob_conn] {
        let m = next_message(conn).await;
        assert_eq!((m.id, m.seq, m.channel_id), (ack.message_id, 1, general));
        assert_eq!((m.body.as_str(), m.client_id.as_str()), ("hi bob", "a1"));
        assert_eq!(m.sender.id, ana.id());
        assert_eq!(m.created_at, ack.created_at);
    }

    let ack = within("ack", bob_conn.send_message(general, "hi ana", "b1")).await.expect("ack");
    assert_eq!(ack.seq, 2);
    // A REST post reaches both sockets too.
    let rest = post(&ana, general, "over rest").await;
    assert_eq!(rest.seq, 3);
    for conn in [&mut ana_conn, &mut bob_conn] {
        let seqs = [next_message(conn).await, next_message(conn).await].map(|m| (m.seq, m.sender.username));
        assert_eq!(seqs, [(2, "bob".to_string()), (3, "ana".to_string())]);
    }
    assert_eq!(within("channel", ana.client.channel(general)).await.unwrap().head_seq, 3);
}

#[tokio::test]
async fn concurrent_senders_get_gap_free_seqs() {
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    for name in ["ana", "bob", "cyd"] {
        users.push(app.register(name).await);
    }
    let general = general_id(&users[0]).await;
    let mut tasks = Vec::new();
    for user in &users {
        let client = user.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..20 {
                let (m, _) = client.send_message(&send_req(general, &format!("m{i}"))).await.expect("send");
                seqs.push(m.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = within("senders", task).await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one sender's seqs ascend: {seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=60).collect::<Vec<i64>>());
    let page = within("history", users[1].client.messages(general, Page::latest(100))).await.unwrap();
    assert_eq!(page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=60).collect::<Vec<i64>>());
}

/// Live events of one channel arrive in `seq` order even when many senders commit at once:
/// clients track the last `seq` they have and take a jump as a gap to fill from history.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_are_broadcast_in_seq_order() {
    const SENDERS: usize = 16;
    const EACH: usize = 25;
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let general = general_id(&ana).await;
    let mut conn = app.connect(&app.register("watcher").await).await;
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let client = ana.client.clone();
        // Long bodies widen the window between a commit and its broadcast (encoding).
        let body = format!("{s:x}").repeat(4000 / format!("{s:x}").len());
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                client.send_message(&send_req(general, &body)).await.expect("send");
            }
        }));
    }
    let mut seqs = Vec::new();
    for _ in 0..SENDERS * EACH {
        seqs.push(next_message(&mut conn).await.seq);
    }
    for task in tasks {
        within("senders", task).await.unwrap();
    }
    let out_of_order: Vec<_> = seqs.windows(2).filter(|w| w[1] != w[0] + 1).map(|w| (w[0], w[1])).collect();
    assert!(out_of_order.is_empty(), "message:receive out of seq order (previous, next): {out_of_order:?}");
}

#[tokio::test]
async fn read_watermark_moves_forward_only_and_is_clamped() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.register("ana").await, app.register("bob").await);
    let general = general_id(&ana).await;
    for i in 0..3 {
        post(&bob, general, &format!("m{i}")).await;
    }
    let m = within("read", ana.client.mark_read(general, 2)).await.unwrap();
    assert_eq!(m.read_seq, 2);
    let m = within("read", ana.client.mark_read(general, 1)).await.unwrap();
    assert_eq!(m.read_seq, 2, "never backwards");
    let m = within("read", ana.client.mark_read(general, 99)).await.unwrap();
    assert_eq!(m.read_seq, 3, "clamped to head_seq");
    let channel =
        within("channels", ana.client.channels()).await.unwrap().into_iter().find(|c| c.id == general).unwrap();
    assert_eq!(channel.membership.unwrap().read_seq, 3);
}

#[tokio::test]
async fn users_can_be_found_by_prefix_and_id() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let andre = app.register("Andre").await;
    app.register("bob").await;
    let found = within("search", ana.client.search_users("AN")).await.unwrap();
    let names: Vec<_> = found.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["ana", "Andre"], "prefix match, case-insensitive, by username");
    assert_eq!(within("all", ana.client.search_users("")).await.unwrap().len(), 3);
    assert_eq!(within("user", ana.client.user(andre.id())).await.unwrap(), andre.user.user);
    assert_api_error(within("user", ana.client.user(Uuid::now_v7())).await, 404, "not_found");
    let rb = ana.client.req(Method::GET, "/api/users/not-a-uuid");
    assert_api_error(within("user", ana.client.call::<serde_json::Value>(rb)).await, 400, "invalid_id");
    assert_api_error(within("search", app.client().search_users("a")).await, 401, "unauthorized");
}

#[tokio::test]
async fn pong_echoes_the_request_id() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut conn = app.connect(&ana).await;
    conn.send_raw_text(r#"{"type":"ping","id":"p-42"}"#).await.unwrap();
    assert_eq!(next_event(&mut conn).await, (Some("p-42".into()), ServerEvent::Pong));
}
