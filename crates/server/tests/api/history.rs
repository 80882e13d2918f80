//! History paging: `GET /api/messages/:channelId` boundaries and reassembly.

use banter_client::proto::rest::MessagePage;
use banter_client::{ClientError, Page};
use uuid::Uuid;

use crate::helpers::*;

fn seqs(page: &MessagePage) -> Vec<i64> {
    page.messages.iter().map(|m| m.seq).collect()
}

/// A user and a fresh public channel holding `n` messages with bodies `m1..mN`.
async fn channel_with(app: &TestApp, n: usize) -> (TestUser, Uuid) {
    use banter_client::proto::{rest::CreateChannelRequest, ChannelKind};
    let ana = app.register("ana").await;
    let req = CreateChannelRequest { name: "log".into(), kind: ChannelKind::Public, topic: None };
    let channel = within("create", ana.client.create_channel(&req)).await.unwrap().id;
    for i in 1..=n {
        post(&ana, channel, &format!("m{i}")).await;
    }
    (ana, channel)
}

async fn page(user: &TestUser, channel: Uuid, page: Page) -> Result<MessagePage, ClientError> {
    within("history page", user.client.messages(channel, page)).await
}

#[tokio::test]
async fn an_empty_channel_has_an_empty_page() {
    let app = TestApp::spawn().await;
    let (ana, channel) = channel_with(&app, 0).await;
    for p in [Page::default(), Page::latest(1), Page::before(1, 10), Page::after(0, 10)] {
        let got = page(&ana, channel, p).await.unwrap();
        assert!(got.messages.is_empty() && !got.has_more, "{p:?}: {got:?}");
    }
}

#[tokio::test]
async fn page_boundaries() {
    let app = TestApp::spawn().await;
    let (ana, channel) = channel_with(&app, 25).await;
    let check = |p: Page, want: Vec<i64>, more: bool| {
        let ana = &ana;
        async move {
            let got = page(ana, channel, p).await.unwrap();
            assert_eq!((seqs(&got), got.has_more), (want, more), "{p:?}");
            got
        }
    };
    // Newest page, ascending, bodies as sent.
    let all = check(Page::default(), (1..=25).collect(), false).await;
    assert!(all.messages.iter().all(|m| m.body == format!("m{}", m.seq)));
    check(Page::latest(25), (1..=25).collect(), false).await; // exactly limit
    check(Page::latest(26), (1..=25).collect(), false).await; // limit + 1
    check(Page::latest(24), (2..=25).collect(), true).await; // limit - 1
    check(Page::latest(1), (25..=25).collect(), true).await;
    // before=
    check(Page::before(1, 10), vec![], false).await;
    check(Page::before(2, 10), (1..=1).collect(), false).await;
    check(Page::before(11, 10), (1..=10).collect(), false).await;
    check(Page::before(12, 10), (2..=11).collect(), true).await;
    check(Page::before(1000, 5), (21..=25).collect(), true).await;
    // after=
    check(Page::after(25, 10), vec![], false).await; // after=head
    check(Page::after(24, 10), (25..=25).collect(), false).await;
    check(Page::after(15, 10), (16..=25).collect(), false).await;
    check(Page::after(14, 10), (15..=24).collect(), true).await;
    check(Page::after(0, 10), (1..=10).collect(), true).await;
    check(Page::after(0, 100), (1..=25).collect(), false).await;
}

#[tokio::test]
async fn the_default_page_is_the_newest_fifty() {
    let app = TestApp::spawn().await;
    let (ana, channel) = channel_with(&app, 55).await;
    let got = page(&ana, channel, Page::default()).await.unwrap();
    assert_eq!((seqs(&got), got.has_more), ((6..=55).collect(), true));
}

#[tokio::test]
async fn bad_paging_parameters_are_invalid_query() {
    let app = TestApp::spawn().await;
    let (ana, channel) = channel_with(&app, 3).await;
    for p in [Page::latest(0), Page::latest(101), Page { before: Some(3), after: Some(1), limit: None }] {
        assert_api_error(page(&ana, channel, p).await, 400, "invalid_query");
    }
    page(&ana, channel, Page::latest(100)).await.expect("100 is the largest page");
    let raw = ana.client.req(reqwest::Method::GET, &format!("/api/messages/{channel}?limit=abc"));
    assert_api_error(within("history", ana.client.call::<serde_json::Value>(raw)).await, 400, "invalid_query");
    assert_api_error(page(&ana, Uuid::now_v7(), Page::default()).await, 404, "not_found");
}

#[tokio::test]
async fn pages_reassemble_without_gaps_or_duplicates() {
    let app = TestApp::spawn().await;
    let (ana, channel) = channel_with(&app, 23).await;
    let want: Vec<i64> = (1..=23).collect();

    // Backwards from the newest page.
    let mut got = Vec::new();
    let mut p = page(&ana, channel, Page::latest(7)).await.unwrap();
    loop {
        let mut batch = seqs(&p);
        batch.extend(got);
        got = batch;
        if !p.has_more {
            break;
        }
        assert!(got.len() < 23, "has_more while everything was read");
        p = page(&ana, channel, Page::before(got[0], 7)).await.unwrap();
    }
    assert_eq!(got, want, "backwards");

    // Forwards from the start.
    let mut got: Vec<i64> = Vec::new();
    loop {
        let p = page(&ana, channel, Page::after(got.last().copied().unwrap_or(0), 5)).await.unwrap();
        got.extend(seqs(&p));
        if !p.has_more {
            break;
        }
        assert!(got.len() < 23, "has_more while everything was read");
    }
    assert_eq!(got, want, "forwards");
}
