//! Sending and reading messages. REST and the gateway both send through [`send`].

use std::sync::Arc;

use banter_proto::rest::MessagePage;
use banter_proto::ws::{MessageDeleted, MessageUpdate, ServerEvent};
use banter_proto::{Message, ReplyPreview, Role, User};
use uuid::Uuid;

use crate::clock::now_ms;
use crate::domain::{ClientId, MessageBody};
use crate::error::AppError;
use crate::service::channels::{member_view, require_member};
use crate::service::{reactions, typing};
use crate::state::AppState;
use crate::store::{CommitHook, NewMessage, Page};

/// A send as it arrives from an edge, not yet validated.
pub struct SendInput {
    /// Target channel.
    pub channel_id: Uuid,
    /// Raw body.
    pub body: String,
    /// Raw idempotency key.
    pub client_id: String,
    /// The message replied to, if any.
    pub reply_to: Option<Uuid>,
}

/// Commits a message, then broadcasts `message:receive` to the channel's subscribers (from the
/// store's commit hook, so broadcasts keep `seq` order). A resend of a `client_id` this sender
/// used returns the original (with its mentions and reactions, as history shows it to the
/// sender) and broadcasts nothing. The commit and broadcast run in their own
/// task, so a caller that goes away (a dropped HTTP request) cannot leave a committed message
/// unannounced. The sender's typing state in the channel ends. Returns the message and
/// whether it is new. Errors: `invalid_body`, `invalid_client_id`, `not_found`,
/// `not_a_member`, `invalid_reply` (not a message of this channel, or deleted).
pub async fn send(state: &AppState, sender: &User, input: SendInput) -> Result<(Message, bool), AppError> {
    state.limits.send(sender.id)?;
    let body = MessageBody::parse(input.body, state.config.max_body_chars)?;
    let client_id = ClientId::parse(input.client_id)?;
    // The store checks membership as it commits; a reply quotes a message of the channel, so
    // only a member may look it up.
    let reply_to = match input.reply_to {
        Some(id) => {
            require_member(state, sender.id, input.channel_id).await?;
            Some(reply_preview(state, input.channel_id, id).await?)
        }
        None => None,
    };
    let body = body.into_string();
    let mentions = mentions(state, input.channel_id, &body).await?;
    typing::sent(state, sender.id, input.channel_id);
    let new = NewMessage {
        id: Uuid::now_v7(),
        channel_id: input.channel_id,
        sender: sender.clone(),
        client_id: client_id.into_string(),
        body,
        created_at: now_ms(),
        reply_to,
        mentions,
    };
    let (store, hub) = (state.store.clone(), state.hub.clone());
    let commit = tokio::spawn(async move {
        let announce: CommitHook = Arc::new(move |m: &Message| {
            hub.publish(m.channel_id, &ServerEvent::MessageReceive(m.clone()));
        });
        store.insert_message(new, announce).await
    });
    match commit.await?? {
        Some((mut original, false)) => {
            // A resend: the original as history shows it to the sender, with its mentions and
            // reactions (the store reads back only the message's row).
            super::reactions::attach(state, original.channel_id, sender.id, std::slice::from_mut(&mut original))
                .await?;
            Ok((original, false))
        }
        Some(inserted) => Ok(inserted),
        None => Err(member_view(state, sender.id, input.channel_id).await.err().unwrap_or_else(AppError::not_a_member)),
    }
}

/// The quote of message `id` for a reply in `channel`. Error: `invalid_reply`.
async fn reply_preview(state: &AppState, channel: Uuid, id: Uuid) -> Result<ReplyPreview, AppError> {
    let invalid = AppError::Invalid("invalid_reply", "reply_to must name a message of the same channel");
    let original = state.store.message(channel, id).await?.ok_or(invalid)?;
    if original.deleted_at.is_some() {
        return Err(AppError::Invalid("invalid_reply", "the message replied to was deleted"));
    }
    Ok(ReplyPreview {
        message_id: original.id,
        seq: original.seq,
        sender: original.sender,
        quote: ReplyPreview::quote_of(&original.body),
        deleted: false,
    })
}

/// Most distinct `@username`s resolved per message.
const MAX_MENTIONS: usize = 50;

/// Ids of the members of `channel` that `body` mentions as `@username` (a username made of
/// letters, digits, `_`, `-`, `.`; trailing dots are punctuation).
async fn mentions(state: &AppState, channel: Uuid, body: &str) -> Result<Vec<Uuid>, AppError> {
    let names = mentioned_names(body);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(state.store.resolve_mentions(channel, &names).await?)
}

/// The distinct lower-cased usernames written as `@name` in `body`, at most [`MAX_MENTIONS`].
fn mentioned_names(body: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find('@') {
        let preceded_by_word = rest[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric());
        rest = &rest[at + 1..];
        let len =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))).unwrap_or(rest.len());
        let name = rest[..len].trim_end_matches('.').to_ascii_lowercase();
        if !preceded_by_word && name.len() >= 3 && name.len() <= 32 && !names.contains(&name) {
            names.push(name);
            if names.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    names
}

/// Replaces the body of `user`'s own message and announces `message:update`. Errors:
/// `invalid_body`, `not_found` (channel or message), `not_a_member`, `forbidden` (someone
/// else's message), `message_deleted`.
pub async fn edit(state: &AppState, user: Uuid, channel: Uuid, id: Uuid, body: String) -> Result<Message, AppError> {
    let body = MessageBody::parse(body, state.config.max_body_chars)?;
    let (_, original) = find(state, user, channel, id).await?;
    if original.sender.id != user {
        return Err(AppError::Forbidden("forbidden", "only the sender may edit a message"));
    }
    // The message exists, so the store refuses only a tombstone.
    let edited = state.store.edit_message(channel, id, &body.into_string(), now_ms()).await?.ok_or_else(deleted)?;
    let update = MessageUpdate {
        channel_id: channel,
        message_id: id,
        seq: edited.seq,
        body: edited.body.clone(),
        edited_at: edited.edited_at.unwrap_or(edited.created_at),
    };
    state.hub.publish(channel, &ServerEvent::MessageUpdate(update));
    Ok(edited)
}

/// Deletes a message (its sender, or an owner/admin of the channel), leaving a tombstone, and
/// announces `message:deleted`. Errors: `not_found`, `not_a_member`, `forbidden`,
/// `message_deleted`.
pub async fn delete(state: &AppState, user: Uuid, channel: Uuid, id: Uuid) -> Result<Message, AppError> {
    let (role, original) = find(state, user, channel, id).await?;
    if original.sender.id != user && role < Role::Admin {
        return Err(AppError::Forbidden(
            "forbidden",
            "only the sender or a channel owner or admin may delete a message",
        ));
    }
    // The message exists, so the store refuses only a tombstone.
    let tombstone = state.store.delete_message(channel, id, now_ms()).await?.ok_or_else(deleted)?;
    let deleted = MessageDeleted {
        channel_id: channel,
        message_id: id,
        seq: tombstone.seq,
        deleted_at: tombstone.deleted_at.unwrap_or(tombstone.created_at),
    };
    state.hub.publish(channel, &ServerEvent::MessageDeleted(deleted));
    Ok(tombstone)
}

/// `user`'s role in `channel` and its message `id` (tombstones included), for acting on an
/// existing message. Errors: `not_found` (channel or message), `not_a_member`.
pub(crate) async fn find(state: &AppState, user: Uuid, channel: Uuid, id: Uuid) -> Result<(Role, Message), AppError> {
    let role = require_member(state, user, channel).await?;
    let message = state.store.message(channel, id).await?.ok_or(AppError::NotFound)?;
    Ok((role, message))
}

/// The error for acting on a tombstone.
pub(crate) fn deleted() -> AppError {
    AppError::Conflict("message_deleted", "the message was deleted")
}

/// Paging parameters as they arrive from the edge.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    /// Exclusive upper `seq` bound.
    pub before: Option<i64>,
    /// Exclusive lower `seq` bound.
    pub after: Option<i64>,
    /// Page size, 1–100 (default 50).
    pub limit: Option<u32>,
}

/// Largest page size.
pub const MAX_PAGE: u32 = 100;

impl PageQuery {
    /// Validates into a [`Page`]. Error: `invalid_query`.
    pub fn parse(&self) -> Result<Page, AppError> {
        let invalid = AppError::Invalid("invalid_query", "limit must be 1-100; give at most one of before and after");
        let limit = self.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(invalid);
        }
        match (self.before, self.after) {
            (None, None) => Ok(Page::Latest { limit }),
            (Some(before), None) if before >= 0 => Ok(Page::Before { before, limit }),
            (None, Some(after)) if after >= 0 => Ok(Page::After { after, limit }),
            _ => Err(invalid),
        }
    }
}

/// A page of a channel's history for a member. Errors: `invalid_query`, `not_found`,
/// `not_a_member`.
pub async fn history(
    state: &AppState,
    viewer: Uuid,
    channel: Uuid,
    query: &PageQuery,
) -> Result<MessagePage, AppError> {
    let page = query.parse()?;
    require_member(state, viewer, channel).await?;
    let (mut messages, has_more) = state.store.messages(channel, page).await?;
    reactions::attach(state, channel, viewer, &mut messages).await?;
    Ok(MessagePage { messages, has_more })
}

#[cfg(test)]
mod tests {
    use super::mentioned_names;

    #[test]
    fn mentions_are_at_names_not_inside_words() {
        assert_eq!(mentioned_names("hi @Ana and @bob_2."), vec!["ana", "bob_2"]);
        assert_eq!(mentioned_names("mail ana@example.com, @ab, @ana again @ANA"), vec!["ana"]);
        assert!(mentioned_names("no mentions @").is_empty());
    }
}
