//! Reactions: one emoji per (message, user, emoji), at most `max_reactions` distinct emoji per
//! message, aggregated per message for history (`me` relative to the viewer) and announced
//! live as `reaction:update` (the actor and the new count, encoded once for everyone).

use banter_proto::ws::{ReactionUpdate, ServerEvent};
use banter_proto::Message;
use uuid::Uuid;

use crate::clock::now_ms;
use crate::domain::Emoji;
use crate::error::AppError;
use crate::service::messages;
use crate::state::AppState;
use crate::store::{NewReaction, ReactionOutcome};

/// The message reacted to, if `user` may react to it. Errors: `not_found`, `not_a_member`,
/// `message_deleted`.
async fn target(state: &AppState, user: Uuid, channel: Uuid, message: Uuid) -> Result<Message, AppError> {
    let (_, target) = messages::find(state, user, channel, message).await?;
    match target.deleted_at {
        Some(_) => Err(messages::deleted()),
        None => Ok(target),
    }
}

/// Adds `user`'s reaction and, if it is new, announces the new count. Errors: `invalid_emoji`,
/// `not_found`, `not_a_member`, `message_deleted`, `too_many_reactions`.
pub async fn add(state: &AppState, user: Uuid, channel: Uuid, message: Uuid, emoji: &str) -> Result<(), AppError> {
    let emoji = Emoji::parse(emoji)?;
    let target = target(state, user, channel, message).await?;
    let reaction = NewReaction {
        channel_id: channel,
        message_id: message,
        seq: target.seq,
        user_id: user,
        emoji: emoji.as_str().to_owned(),
        created_at: now_ms(),
    };
    match state.store.add_reaction(reaction, state.config.max_reactions).await? {
        ReactionOutcome::TooMany => {
            Err(AppError::Conflict("too_many_reactions", "this message has the most distinct reactions allowed"))
        }
        ReactionOutcome::Counted { count, added } => {
            if added {
                announce(state, &target, user, emoji.as_str(), true, count);
            }
            Ok(())
        }
    }
}

/// Takes back `user`'s reaction and, if there was one, announces the new count. Errors:
/// `invalid_emoji`, `not_found`, `not_a_member`, `message_deleted`.
pub async fn remove(state: &AppState, user: Uuid, channel: Uuid, message: Uuid, emoji: &str) -> Result<(), AppError> {
    let emoji = Emoji::parse(emoji)?;
    let target = target(state, user, channel, message).await?;
    let (count, removed) = state.store.remove_reaction(message, user, emoji.as_str()).await?;
    if removed {
        announce(state, &target, user, emoji.as_str(), false, count);
    }
    Ok(())
}

fn announce(state: &AppState, target: &Message, user: Uuid, emoji: &str, added: bool, count: i64) {
    let update = ReactionUpdate {
        channel_id: target.channel_id,
        message_id: target.id,
        seq: target.seq,
        user_id: user,
        emoji: emoji.to_owned(),
        added,
        count,
    };
    state.hub.publish(target.channel_id, &ServerEvent::ReactionUpdate(update));
}

/// Fills `reactions` (as `viewer` sees them) and `mentions` of each message of a page
/// (ascending `seq`, one channel), so history and replays carry what live events did.
pub async fn attach(state: &AppState, channel: Uuid, viewer: Uuid, messages: &mut [Message]) -> Result<(), AppError> {
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else { return Ok(()) };
    let (from, to) = (first.seq, last.seq);
    let at = |messages: &[Message], seq: i64| messages.binary_search_by_key(&seq, |m| m.seq).ok();
    for (message_id, count) in state.store.reactions(channel, from, to, viewer).await? {
        if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
            m.reactions.push(count);
        }
    }
    for (seq, user) in state.store.mentions(channel, from, to).await? {
        if let Some(i) = at(messages, seq) {
            messages[i].mentions.push(user);
        }
    }
    Ok(())
}
