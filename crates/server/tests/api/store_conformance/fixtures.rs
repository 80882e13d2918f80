//! Small builders the cases share: users, channels, members, sends (with mentions), and a
//! commit hook that records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use banter_client::proto::{Channel, ChannelKind, Me, Message, Role};
use banter_server::clock::now_ms;
use banter_server::store::{CommitHook, NewChannel, NewMessage, NewUser, Store};
use uuid::Uuid;

/// The password hash every fixture user gets (the store does not look inside it).
pub const HASH: &str = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// `#general`, created if missing.
pub async fn general(store: &Arc<dyn Store>) -> Uuid {
    store.ensure_channel("general", now_ms()).await.expect("ensure #general")
}

/// A new user `username` with display name `display`, a member of `#general`.
pub async fn user_named(store: &Arc<dyn Store>, username: &str, display: &str) -> Me {
    let new = NewUser {
        id: Uuid::now_v7(),
        username: username.into(),
        display_name: display.into(),
        email: None,
        password_hash: HASH.into(),
        created_at: now_ms(),
    };
    let general = general(store).await;
    store.create_user(new, general).await.expect("create_user").expect("username is free")
}

/// A new user whose display name is its username.
pub async fn user(store: &Arc<dyn Store>, username: &str) -> Me {
    user_named(store, username, username).await
}

/// A channel `name` of `kind` created by `owner` (must be free).
pub async fn channel(store: &Arc<dyn Store>, owner: &Me, kind: ChannelKind, name: &str) -> Channel {
    let new = NewChannel {
        id: Uuid::now_v7(),
        kind,
        name: name.into(),
        topic: format!("about {name}"),
        created_by: owner.user.id,
        created_at: now_ms(),
    };
    store.create_channel(new).await.expect("create_channel").expect("name is free")
}

/// A message from `sender` to `channel` with idempotency key `key`.
pub fn message(sender: &Me, channel: Uuid, key: &str, body: &str) -> NewMessage {
    NewMessage {
        id: Uuid::now_v7(),
        channel_id: channel,
        sender: sender.user.clone(),
        client_id: key.into(),
        body: body.into(),
        created_at: now_ms(),
        reply_to: None,
        mentions: Vec::new(),
    }
}

/// Commits `new`, which must be new (a fresh key); returns the committed message.
pub async fn send(store: &Arc<dyn Store>, new: NewMessage) -> Message {
    let (m, created) = store
        .insert_message(new, Arc::new(|_: &Message| {}))
        .await
        .expect("insert_message")
        .expect("the sender is a member");
    assert!(created, "a fresh key is new");
    m
}

/// A message from `sender` to `channel` (fresh key) that mentions `mentions`.
pub fn mentioning(sender: &Me, channel: Uuid, body: &str, mentions: &[&Me]) -> NewMessage {
    let mut new = message(sender, channel, &Uuid::now_v7().to_string(), body);
    new.mentions = mentions.iter().map(|m| m.user.id).collect();
    new
}

/// Makes `user` a plain member of `channel` (must not be one yet).
pub async fn join(store: &Arc<dyn Store>, channel: Uuid, user: &Me) {
    assert!(store.add_member(channel, user.user.id, Role::Member, now_ms()).await.expect("add_member"), "not yet one");
}

/// Commits `n` messages with bodies `m1..mN` (fresh keys); returns them in order.
pub async fn fill(store: &Arc<dyn Store>, sender: &Me, channel: Uuid, n: usize) -> Vec<Message> {
    let mut sent = Vec::with_capacity(n);
    for i in 1..=n {
        let new = message(sender, channel, &Uuid::now_v7().to_string(), &format!("m{i}"));
        let (m, created) = store
            .insert_message(new, Arc::new(|_: &Message| {}))
            .await
            .expect("insert_message")
            .expect("the sender is a member");
        assert!(created);
        sent.push(m);
    }
    sent
}

/// A commit hook that records every message it is called with, in call order.
#[derive(Clone, Default)]
pub struct Recorder {
    calls: Arc<Mutex<Vec<Message>>>,
    /// Blocks this long before recording odd `seq`s: a store that did not order its hooks
    /// would let the next (even) message's hook overtake.
    delay: Duration,
}

impl Recorder {
    /// A recorder whose hook first blocks for `delay` on odd `seq`s.
    pub fn slow(delay: Duration) -> Self {
        Self { calls: Arc::default(), delay }
    }

    /// The hook to pass to `insert_message`.
    pub fn hook(&self) -> CommitHook {
        let (calls, delay) = (self.calls.clone(), self.delay);
        Arc::new(move |m: &Message| {
            if m.seq % 2 == 1 && !delay.is_zero() {
                std::thread::sleep(delay);
            }
            calls.lock().expect("not poisoned").push(m.clone())
        })
    }

    /// The messages seen so far, in call order.
    pub fn calls(&self) -> Vec<Message> {
        self.calls.lock().expect("not poisoned").clone()
    }

    /// The `seq`s seen for `channel`, in call order.
    pub fn seqs(&self, channel: Uuid) -> Vec<i64> {
        self.calls().iter().filter(|m| m.channel_id == channel).map(|m| m.seq).collect()
    }
}
