//! `/api/messages`: send (the REST twin of `message:send`) and paged history.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use banter_proto::rest::{MessagePage, SendMessageRequest};
use banter_proto::Message;

use crate::error::AppError;
use crate::http::extract::{parse_id, ApiJson, ApiQuery};
use crate::service::messages::{self, PageQuery, SendInput};
use crate::service::sessions::Auth;
use crate::state::AppState;

/// Routes under `/api/messages`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/messages", post(send)).route("/api/messages/{channel_id}", get(history))
}

/// 201 with the new message, or 200 with the original on an idempotent replay.
async fn send(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> Result<(StatusCode, Json<Message>), AppError> {
    let input = SendInput { channel_id: req.channel_id, body: req.body, client_id: req.client_id };
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
