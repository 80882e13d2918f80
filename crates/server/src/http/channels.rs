//! `/api/channels` and `/api/dms`: listing, creation, directory, join/leave, members,
//! invitations, roles, read watermarks and direct messages.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use banter_proto::rest::{ChannelList, CreateChannelRequest, MemberList, ReadRequest, RoleRequest, UserRef};
use banter_proto::{Channel, Member, Membership};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::extract::{parse_id, ApiJson, ApiQuery};
use crate::service::channels;
use crate::service::sessions::Auth;
use crate::state::AppState;

/// Routes under `/api/channels` and `/api/dms`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/channels", get(mine).post(create))
        .route("/api/channels/public", get(directory))
        .route("/api/channels/{id}", get(one))
        .route("/api/channels/{id}/join", post(join))
        .route("/api/channels/{id}/leave", post(leave))
        .route("/api/channels/{id}/members", get(members).post(invite))
        .route("/api/channels/{id}/members/{user_id}", patch(set_role))
        .route("/api/channels/{id}/read", post(mark_read))
        .route("/api/dms", post(open_dm))
}

async fn mine(State(state): State<AppState>, auth: Auth) -> Result<Json<ChannelList>, AppError> {
    Ok(Json(ChannelList { channels: channels::mine(&state, auth.user.user.id).await? }))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateChannelRequest>,
) -> Result<(StatusCode, Json<Channel>), AppError> {
    Ok((StatusCode::CREATED, Json(channels::create(&state, auth.user.user.id, req).await?)))
}

#[derive(Deserialize)]
struct Directory {
    #[serde(default)]
    q: String,
}

async fn directory(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(d): ApiQuery<Directory>,
) -> Result<Json<ChannelList>, AppError> {
    Ok(Json(ChannelList { channels: channels::directory(&state, auth.user.user.id, &d.q).await? }))
}

async fn one(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Json<Channel>, AppError> {
    Ok(Json(channels::visible(&state, auth.user.user.id, parse_id(&id)?).await?))
}

async fn join(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Json<Channel>, AppError> {
    Ok(Json(channels::join(&state, auth.user.user.id, parse_id(&id)?).await?))
}

async fn leave(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    channels::leave(&state, auth.user.user.id, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<MemberList>, AppError> {
    Ok(Json(MemberList { members: channels::members(&state, auth.user.user.id, parse_id(&id)?).await? }))
}

async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UserRef>,
) -> Result<Json<Channel>, AppError> {
    Ok(Json(channels::invite(&state, auth.user.user.id, parse_id(&id)?, req.user_id).await?))
}

async fn set_role(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, user_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<Json<Member>, AppError> {
    let (id, target) = (parse_id(&id)?, parse_id(&user_id)?);
    Ok(Json(channels::set_role(&state, auth.user.user.id, id, target, req.role).await?))
}

async fn mark_read(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReadRequest>,
) -> Result<Json<Membership>, AppError> {
    Ok(Json(channels::mark_read(&state, auth.user.user.id, parse_id(&id)?, req.seq).await?))
}

async fn open_dm(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<UserRef>,
) -> Result<Json<Channel>, AppError> {
    Ok(Json(channels::open_dm(&state, auth.user.user.id, req.user_id).await?))
}
