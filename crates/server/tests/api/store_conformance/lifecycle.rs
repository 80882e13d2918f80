//! Cases for a message after its send: read by id, edited, deleted (a tombstone without its
//! reactions and mentions), quoted by replies; and resolving `@username` mentions.

use std::sync::Arc;

use banter_client::proto::{ChannelKind, Me, Message, ReplyPreview};
use banter_server::clock::{now_ms, to_datetime};
use banter_server::store::{NewReaction, Page, ReactionOutcome, Store};
use uuid::Uuid;

use super::fixtures::{channel, fill, join, mentioning, message, send, user};

/// The unread mention count `viewer` sees in `channel`.
async fn mention_count(store: &Arc<dyn Store>, viewer: &Me, channel: Uuid) -> i64 {
    store.channel(viewer.user.id, channel).await.unwrap().unwrap().membership.unwrap().mention_count
}

/// `viewer`'s reaction `emoji` on `m`.
fn reaction(m: &Message, viewer: &Me, emoji: &str) -> NewReaction {
    NewReaction {
        channel_id: m.channel_id,
        message_id: m.id,
        seq: m.seq,
        user_id: viewer.user.id,
        emoji: emoji.into(),
        created_at: now_ms(),
    }
}

/// `message` by channel and id; `None` for another channel's or an unknown id.
pub async fn message_by_id(store: Arc<dyn Store>) {
    let ana = user(&store, "ana").await;
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    let other = channel(&store, &ana, ChannelKind::Public, "other").await;
    let sent = fill(&store, &ana, room.id, 2).await;
    assert_eq!(store.message(room.id, sent[1].id).await.unwrap().as_ref(), Some(&sent[1]));
    assert_eq!(store.message(other.id, sent[1].id).await.unwrap(), None, "not of that channel");
    assert_eq!(store.message(room.id, Uuid::now_v7()).await.unwrap(), None);
}

/// Edits replace the body and set `edited_at`; deletes leave a tombstone (no body, no
/// reactions, no mentions) that can be neither edited nor deleted again.
pub async fn edit_and_delete(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    let other = channel(&store, &ana, ChannelKind::Public, "other").await;
    join(&store, room.id, &bob).await;
    let first = send(&store, message(&ana, room.id, "k1", "helo")).await;
    let second = send(&store, mentioning(&ana, room.id, "hi @bob", &[&bob])).await;

    let edited = store.edit_message(room.id, first.id, "hello", 5_000).await.unwrap().expect("edited");
    let want = Message { body: "hello".into(), edited_at: Some(to_datetime(5_000)), ..first.clone() };
    assert_eq!(edited, want, "same seq, sender, key and created_at");
    assert_eq!(store.message(room.id, first.id).await.unwrap(), Some(edited.clone()));
    let again = store.edit_message(room.id, first.id, "hello!", 6_000).await.unwrap().unwrap();
    assert_eq!((again.body.as_str(), again.edited_at), ("hello!", Some(to_datetime(6_000))));
    assert_eq!(store.edit_message(other.id, first.id, "x", 7_000).await.unwrap(), None, "wrong channel");
    assert_eq!(store.edit_message(room.id, Uuid::now_v7(), "x", 7_000).await.unwrap(), None);

    for (who, emoji) in [(&ana, "👍"), (&bob, "👍"), (&bob, "🎉")] {
        let added = store.add_reaction(reaction(&second, who, emoji), 20).await.unwrap();
        assert!(matches!(added, ReactionOutcome::Counted { added: true, .. }));
    }
    assert_eq!(mention_count(&store, &bob, room.id).await, 1);
    assert_eq!(store.delete_message(other.id, second.id, 8_000).await.unwrap(), None, "wrong channel");
    let tombstone = store.delete_message(room.id, second.id, 8_000).await.unwrap().expect("deleted");
    let want =
        Message { body: String::new(), deleted_at: Some(to_datetime(8_000)), mentions: vec![], ..second.clone() };
    assert_eq!(tombstone, want, "keeps seq, sender and key");
    assert_eq!(store.message(room.id, second.id).await.unwrap(), Some(tombstone.clone()));
    assert!(store.reactions(room.id, 1, 2, bob.user.id).await.unwrap().is_empty(), "reactions gone");
    assert_eq!(mention_count(&store, &bob, room.id).await, 0, "mentions gone");
    let seen = store.channel(bob.user.id, room.id).await.unwrap().unwrap();
    assert_eq!((seen.head_seq, seen.membership.unwrap().unread_count), (2, 2), "a tombstone keeps its seq");

    assert_eq!(store.delete_message(room.id, second.id, 9_000).await.unwrap(), None, "already deleted");
    assert_eq!(store.edit_message(room.id, second.id, "back", 9_000).await.unwrap(), None, "deleted: no edit");
    assert_eq!(store.message(room.id, second.id).await.unwrap(), Some(tombstone.clone()), "unchanged");
    let (history, _) = store.messages(room.id, Page::Latest { limit: 10 }).await.unwrap();
    assert_eq!(history, [again, tombstone], "history shows the edit and the tombstone");
}

/// A reply stores `reply_to` and reads back with the original's quote, which follows edits
/// and turns into `deleted: true` with no quote once the original is deleted. A deleted
/// reply carries no quote.
pub async fn replies(store: Arc<dyn Store>) {
    let (ana, bob) = (user(&store, "ana").await, user(&store, "bob").await);
    let room = channel(&store, &ana, ChannelKind::Public, "room").await;
    join(&store, room.id, &bob).await;
    let long = "a".repeat(ReplyPreview::QUOTE_CHARS) + "é tail";
    let original = send(&store, message(&bob, room.id, "o1", &long)).await;
    let preview = ReplyPreview {
        message_id: original.id,
        seq: original.seq,
        sender: bob.user.clone(),
        quote: ReplyPreview::quote_of(&long),
        deleted: false,
    };
    assert_eq!(preview.quote.chars().count(), ReplyPreview::QUOTE_CHARS + 1, "cut, with an ellipsis");
    let mut new = message(&ana, room.id, "r1", "agreed");
    new.reply_to = Some(preview.clone());
    let reply = send(&store, new).await;
    assert_eq!(reply.reply_to.as_ref(), Some(&preview));
    assert_eq!(store.message(room.id, reply.id).await.unwrap().as_ref(), Some(&reply), "stored as sent");
    let (history, _) = store.messages(room.id, Page::Latest { limit: 10 }).await.unwrap();
    assert_eq!(history, [original.clone(), reply.clone()]);
    assert_eq!(store.message(room.id, original.id).await.unwrap().unwrap().reply_to, None);

    store.edit_message(room.id, original.id, "short now", 5_000).await.unwrap().unwrap();
    let quoted = store.message(room.id, reply.id).await.unwrap().unwrap().reply_to.unwrap();
    assert_eq!((quoted.quote.as_str(), quoted.deleted), ("short now", false), "the quote follows edits");

    store.delete_message(room.id, original.id, 6_000).await.unwrap().unwrap();
    let quoted = store.message(room.id, reply.id).await.unwrap().unwrap().reply_to.unwrap();
    let gone = ReplyPreview { quote: String::new(), deleted: true, ..preview.clone() };
    assert_eq!(quoted, gone, "the original's id, seq and sender stay");
    let (history, _) = store.messages(room.id, Page::After { after: 1, limit: 10 }).await.unwrap();
    assert_eq!(history[0].reply_to.as_ref(), Some(&gone), "history agrees");

    let tombstone = store.delete_message(room.id, reply.id, 7_000).await.unwrap().unwrap();
    assert_eq!(tombstone.reply_to, None, "a tombstone quotes nothing");
    assert_eq!(store.message(room.id, reply.id).await.unwrap().unwrap().reply_to, None);
}

/// `resolve_mentions`: ids of the channel's members among lower-case username keys, by
/// username; others and unknown names ignored.
pub async fn resolve_mentions(store: Arc<dyn Store>) {
    let (ana, bob, cyd) = (user(&store, "Ana.Li").await, user(&store, "bob").await, user(&store, "cyd").await);
    let room = channel(&store, &bob, ChannelKind::Private, "room").await;
    join(&store, room.id, &ana).await;
    let keys = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let found = store.resolve_mentions(room.id, &keys(&["bob", "cyd", "nobody", "ana.li"])).await.unwrap();
    assert_eq!(found, [ana.user.id, bob.user.id], "members only, by username, whatever the case stored");
    assert!(store.resolve_mentions(room.id, &[]).await.unwrap().is_empty());
    let general = super::fixtures::general(&store).await;
    let found = store.resolve_mentions(general, &keys(&["cyd"])).await.unwrap();
    assert_eq!(found, [cyd.user.id]);
    assert!(store.resolve_mentions(Uuid::now_v7(), &keys(&["bob"])).await.unwrap().is_empty());
}
