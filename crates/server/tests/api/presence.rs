//! Presence on one node: the best status over a user's devices, the offline grace period (no
//! flap on a quick reconnect, `last_seen_at` after it), who gets `presence:change`, the
//! `ready` snapshot and `GET /api/users/:id`.

use std::time::{Duration, Instant};

use banter_client::proto::ws::{ClientEvent, PresenceUpdate, ServerEvent};
use banter_client::proto::Status;
use banter_client::Connection;

use crate::helpers::*;

/// Grace period for these tests.
const GRACE: Duration = Duration::from_millis(600);

async fn spawn(receipt_members: i64) -> TestApp {
    TestApp::spawn_with(|c| {
        c.presence_grace_ms = GRACE.as_millis() as u64;
        c.receipt_members = receipt_members;
    })
    .await
}

/// Sends `presence:update` and expects `ok`.
async fn set_status(conn: &mut Connection, status: Status) {
    let answer = within("presence:update", conn.request(&ClientEvent::PresenceUpdate(PresenceUpdate { status }))).await;
    assert_eq!(answer.expect("presence:update answered"), ServerEvent::Ok);
}

/// Two devices: the second connecting, the first leaving, and a reconnect inside the grace
/// period cause no event; the last device leaving causes `offline` with `last_seen_at` once
/// the grace period is over, which `GET /api/users/:id` reports too.
#[tokio::test]
async fn devices_come_and_go_without_flapping_and_offline_follows_the_grace_period() {
    let app = spawn(50).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let mut watcher = app.connect(&ben).await;
    assert_quiet_for(&mut watcher, QUIET).await;

    let phone = app.connect(&ana).await;
    let online = next_presence(&mut watcher).await;
    assert_eq!((online.user_id, online.status, online.last_seen_at), (ana.id(), Status::Online, None));
    let laptop = app.connect(&ana).await;
    phone.close().await.expect("close");
    laptop.close().await.expect("close");
    let again = app.connect(&ana).await;
    assert_quiet_for(&mut watcher, GRACE * 2).await;
    assert_eq!(profile(&ben, ana.id()).await.presence.status, Status::Online);

    let closed = Instant::now();
    again.close().await.expect("close");
    let offline = next_presence(&mut watcher).await;
    assert!(closed.elapsed() >= GRACE * 9 / 10, "offline only after the grace period ({:?})", closed.elapsed());
    assert_eq!((offline.user_id, offline.status), (ana.id(), Status::Offline));
    let seen = offline.last_seen_at.expect("offline carries last_seen_at");
    let shown = profile(&ben, ana.id()).await;
    assert_eq!((shown.user.id, shown.presence.status), (ana.id(), Status::Offline));
    assert_eq!(shown.presence.last_seen_at, Some(seen));
    assert_quiet_for(&mut watcher, QUIET).await;
}

/// The user's presence is the best over devices: away + online = online, and dnd wins;
/// `offline` cannot be set.
#[tokio::test]
async fn presence_is_the_best_status_over_devices() {
    let app = spawn(50).await;
    let (ana, ben) = (app.register("ana").await, app.register("ben").await);
    let mut watcher = app.connect(&ben).await;
    assert_quiet_for(&mut watcher, QUIET).await;
    let mut phone = app.connect(&ana).await;
    let mut laptop = app.connect(&ana).await;
    assert_eq!(next_presence(&mut watcher).await.status, Status::Online);

    set_status(&mut phone, Status::Away).await;
    assert_quiet_for(&mut watcher, QUIET).await;
    set_status(&mut laptop, Status::Away).await;
    assert_eq!(next_presence(&mut watcher).await.status, Status::Away);
    set_status(&mut phone, Status::Dnd).await;
    assert_eq!(next_presence(&mut watcher).await.status, Status::Dnd);
    set_status(&mut laptop, Status::Online).await;
    assert_quiet_for(&mut watcher, QUIET).await;
    set_status(&mut phone, Status::Online).await;
    assert_eq!(next_presence(&mut watcher).await.status, Status::Online);
    assert_eq!(profile(&ben, ana.id()).await.presence.status, Status::Online);

    let refused = phone.request(&ClientEvent::PresenceUpdate(PresenceUpdate { status: Status::Offline })).await;
    assert_gateway_error(refused, "invalid_data");
    assert_quiet_for(&mut watcher, QUIET).await;
}

/// With `receipt_members = 2`, `#general` (3 members) shares no presence: a DM partner gets
/// `presence:change` and sees the user in `ready`; a user sharing only `#general` does not.
#[tokio::test]
async fn only_users_sharing_a_dm_or_a_small_channel_get_presence() {
    let app = spawn(2).await;
    let (ana, ben, cat) = (app.register("ana").await, app.register("ben").await, app.register("cat").await);
    within("open dm", ana.client.open_dm(ben.id())).await.expect("dm");
    let mut ben_conn = app.connect(&ben).await;
    let mut cat_conn = app.connect(&cat).await;
    assert_quiet_for(&mut ben_conn, QUIET).await;

    let ana_conn = app.connect(&ana).await;
    let listed: Vec<_> = ana_conn.ready().presence.iter().map(|p| (p.user_id, p.status)).collect();
    assert_eq!(listed, vec![(ben.id(), Status::Online)], "ready lists the DM partner, not cat");
    let change = next_presence(&mut ben_conn).await;
    assert_eq!((change.user_id, change.status), (ana.id(), Status::Online));
    assert_quiet_for(&mut cat_conn, QUIET).await;
    assert!(cat_conn.ready().presence.is_empty(), "cat shares no small channel");
}

/// `ready` lists peers that are not offline with their status; `GET /api/users/:id` gives
/// every user's presence (offline without `last_seen_at` for one never seen).
#[tokio::test]
async fn ready_and_profiles_show_presence() {
    let app = spawn(50).await;
    let (ana, ben, cat) = (app.register("ana").await, app.register("ben").await, app.register("cat").await);
    let mut ben_conn = app.connect(&ben).await;
    set_status(&mut ben_conn, Status::Dnd).await;

    let ana_conn = app.connect(&ana).await;
    let listed: Vec<_> = ana_conn.ready().presence.iter().map(|p| (p.user_id, p.status)).collect();
    assert_eq!(listed, vec![(ben.id(), Status::Dnd)], "cat is offline, so not listed");
    let shown = profile(&ana, ben.id()).await;
    assert_eq!((shown.user.username.as_str(), shown.presence.status), ("ben", Status::Dnd));
    assert_eq!(shown.presence.last_seen_at, None);
    let never = profile(&ana, cat.id()).await.presence;
    assert_eq!((never.user_id, never.status, never.last_seen_at), (cat.id(), Status::Offline, None));
    let missing = ana.client.user(uuid::Uuid::now_v7()).await;
    assert_api_error(missing, 404, "not_found");
}
