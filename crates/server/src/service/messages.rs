//! Sending and reading messages. REST and the gateway both send through [`send`].

use std::sync::Arc;

use banter_proto::rest::MessagePage;
use banter_proto::ws::ServerEvent;
use banter_proto::{Message, User};
use uuid::Uuid;

use crate::clock::now_ms;
use crate::domain::{ClientId, MessageBody};
use crate::error::AppError;
use crate::service::channels::require_member;
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
}

/// Commits a message, then broadcasts `message:receive` to the channel's subscribers (from the
/// store's commit hook, so broadcasts keep `seq` order). A resend of a `client_id` this sender
/// used returns the original and broadcasts nothing. The commit and broadcast run in their own
/// task, so a caller that goes away (a dropped HTTP request) cannot leave a committed message
/// unannounced. Returns the message and whether it is new. Errors: `invalid_body`,
/// `invalid_client_id`, `not_found`, `not_a_member`.
pub async fn send(state: &AppState, sender: &User, input: SendInput) -> Result<(Message, bool), AppError> {
    state.limits.send(sender.id)?;
    let body = MessageBody::parse(input.body, state.config.max_body_chars)?;
    let client_id = ClientId::parse(input.client_id)?;
    require_member(state, sender.id, input.channel_id).await?;
    let new = NewMessage {
        id: Uuid::now_v7(),
        channel_id: input.channel_id,
        sender: sender.clone(),
        client_id: client_id.into_string(),
        body: body.into_string(),
        created_at: now_ms(),
    };
    let (store, hub) = (state.store.clone(), state.hub.clone());
    let commit = tokio::spawn(async move {
        let announce: CommitHook = Arc::new(move |m: &Message| {
            hub.publish(m.channel_id, &ServerEvent::MessageReceive(m.clone()));
        });
        store.insert_message(new, announce).await
    });
    Ok(commit.await??)
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
    let (messages, has_more) = state.store.messages(channel, page).await?;
    Ok(MessagePage { messages, has_more })
}
