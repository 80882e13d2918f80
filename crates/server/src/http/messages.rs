//! `/api/messages`: send (the REST twin of `message:send`), paged history, edit, delete,
//! reactions and per-message receipts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use banter_proto::rest::{EditMessageRequest, MessagePage, MessageReceipts, SendMessageRequest};
use banter_proto::Message;

use crate::error::AppError;
use crate::http::extract::{parse_id, ApiJson, ApiQuery};
use crate::service::messages::{self, PageQuery, SendInput};
use crate::service::sessions::Auth;
use crate::service::{reactions, receipts};
use crate::state::AppState;

/// Routes under `/api/messages`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/messages", post(send))
        .route("/api/messages/{channel_id}", get(history))
        .route("/api/messages/{channel_id}/{message}", patch(edit).delete(delete))
        .route("/api/messages/{channel_id}/{message}/receipts", get(message_receipts))
        .route("/api/messages/{channel_id}/{message}/reactions/{emoji}", put(react).delete(unreact))
}

/// 201 with the new message, or 200 with the original on an idempotent replay.
async fn send(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> Result<(StatusCode, Json<Message>), AppError> {
    let input =
        SendInput { channel_id: req.channel_id, body: req.body, client_id: req.client_id, reply_to: req.reply_to };
    let (message, created) = messages::send(&state, &auth.user.user, input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(message)))
}

async fn history(
    State(state): State<AppState>,
    auth: Auth,
    Path(channel_id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<MessagePage>, AppError> {
    Ok(Json(messages::history(&state, auth.user.user.id, parse_id(&channel_id)?, &query).await?))
}

/// `PATCH /api/messages/:channelId/:messageId`: 200 with the edited message.
async fn edit(
    State(state): State<AppState>,
    auth: Auth,
    Path((channel_id, message)): Path<(String, String)>,
    ApiJson(req): ApiJson<EditMessageRequest>,
) -> Result<Json<Message>, AppError> {
    let (channel, message) = (parse_id(&channel_id)?, parse_id(&message)?);
    Ok(Json(messages::edit(&state, auth.user.user.id, channel, message, req.body).await?))
}

/// `DELETE /api/messages/:channelId/:messageId`: 200 with the tombstone.
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path((channel_id, message)): Path<(String, String)>,
) -> Result<Json<Message>, AppError> {
    let (channel, message) = (parse_id(&channel_id)?, parse_id(&message)?);
    Ok(Json(messages::delete(&state, auth.user.user.id, channel, message).await?))
}

/// `PUT /api/messages/:channelId/:messageId/reactions/:emoji`: 204, also when already there.
async fn react(
    State(state): State<AppState>,
    auth: Auth,
    Path((channel_id, message, emoji)): Path<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    let (channel, message) = (parse_id(&channel_id)?, parse_id(&message)?);
    reactions::add(&state, auth.user.user.id, channel, message, &emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/messages/:channelId/:messageId/reactions/:emoji`: 204, also when absent.
async fn unreact(
    State(state): State<AppState>,
    auth: Auth,
    Path((channel_id, message, emoji)): Path<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    let (channel, message) = (parse_id(&channel_id)?, parse_id(&message)?);
    reactions::remove(&state, auth.user.user.id, channel, message, &emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/messages/:channelId/:seq/receipts`.
async fn message_receipts(
    State(state): State<AppState>,
    auth: Auth,
    Path((channel_id, seq)): Path<(String, String)>,
) -> Result<Json<MessageReceipts>, AppError> {
    let seq = seq.parse::<i64>().map_err(|_| AppError::Invalid("invalid_query", "seq must be a number"))?;
    Ok(Json(receipts::of_message(&state, auth.user.user.id, parse_id(&channel_id)?, seq).await?))
}
