//! `/api/users`: the caller's profile, search, and profiles by id.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use banter_proto::rest::UserList;
use banter_proto::{Me, Profile};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::extract::{parse_id, ApiQuery};
use crate::service::sessions::Auth;
use crate::service::{accounts, presence};
use crate::state::AppState;

/// Routes under `/api/users`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(search))
        .route("/api/users/me", get(me))
        .route("/api/users/{id}", get(profile))
}

async fn me(auth: Auth) -> Json<Me> {
    Json(auth.user)
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

async fn search(
    State(state): State<AppState>,
    _auth: Auth,
    ApiQuery(s): ApiQuery<Search>,
) -> Result<Json<UserList>, AppError> {
    Ok(Json(UserList { users: accounts::search(&state, &s.q).await? }))
}

/// `GET /api/users/:id`: the public profile with the user's current presence (`status`, and
/// `last_seen_at` when offline). Errors: `not_found`.
async fn profile(
    State(state): State<AppState>,
    _auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Profile>, AppError> {
    let user = accounts::profile(&state, parse_id(&id)?).await?;
    let presence = presence::of(&state, user.id).await?;
    Ok(Json(Profile { user, presence }))
}
