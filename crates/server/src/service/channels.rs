//! Channels: listing, creation, the directory, joining, leaving, invitations, DMs and read
//! watermarks. Visibility rule: public channels are visible to everyone; private channels
//! and DMs only to members, and to anyone else they do not exist (`not_found`).

use banter_proto::rest::CreateChannelRequest;
use banter_proto::ws::{ChannelRef, ServerEvent};
use banter_proto::{Channel, ChannelKind, Member, Membership, Role};
use uuid::Uuid;

use crate::clock::now_ms;
use crate::domain::{ChannelName, Topic};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::NewChannel;

/// The channel as `viewer` sees it, if they may see it. Error: `not_found`.
pub async fn visible(state: &AppState, viewer: Uuid, id: Uuid) -> Result<Channel, AppError> {
    match state.store.channel(viewer, id).await? {
        Some(c) if c.kind == ChannelKind::Public || c.membership.is_some() => Ok(c),
        _ => Err(AppError::NotFound),
    }
}

/// The channel if `viewer` is a member. Errors: `not_found` (invisible), `not_a_member`.
pub async fn member_view(state: &AppState, viewer: Uuid, id: Uuid) -> Result<Channel, AppError> {
    let channel = visible(state, viewer, id).await?;
    if channel.membership.is_none() {
        return Err(AppError::not_a_member());
    }
    Ok(channel)
}

/// Checks that `user` is a member of `channel`, cheaply on the common path. Errors as
/// [`member_view`].
pub async fn require_member(state: &AppState, user: Uuid, channel: Uuid) -> Result<Role, AppError> {
    match state.store.role(channel, user).await? {
        Some(role) => Ok(role),
        None => member_view(state, user, channel).await.map(|_| Role::Member),
    }
}

/// The caller's channels.
pub async fn mine(state: &AppState, user: Uuid) -> Result<Vec<Channel>, AppError> {
    Ok(state.store.channels_of(user).await?)
}

/// The public directory, names starting with `q`, at most 50.
pub async fn directory(state: &AppState, viewer: Uuid, q: &str) -> Result<Vec<Channel>, AppError> {
    let q: String = q.trim().trim_start_matches('#').chars().take(64).collect();
    Ok(state.store.public_channels(viewer, &q, 50).await?)
}

/// Creates a public or private channel owned by `creator`. Errors: `invalid_channel_name`,
/// `invalid_topic`, `invalid_kind`, `channel_name_taken`.
pub async fn create(state: &AppState, creator: Uuid, req: CreateChannelRequest) -> Result<Channel, AppError> {
    if req.kind == ChannelKind::Dm {
        return Err(AppError::Invalid("invalid_kind", "use POST /api/dms for direct messages"));
    }
    check_room_for(state, creator).await?;
    let new = NewChannel {
        id: Uuid::now_v7(),
        kind: req.kind,
        name: ChannelName::parse(&req.name)?.into_string(),
        topic: Topic::parse(req.topic.as_deref())?.into_string(),
        created_by: creator,
        created_at: now_ms(),
    };
    let channel = state
        .store
        .create_channel(new)
        .await?
        .ok_or(AppError::Conflict("channel_name_taken", "a channel with that name exists"))?;
    state.hub.join(creator, channel.id, &ServerEvent::ChannelJoined(channel.clone()));
    Ok(channel)
}

/// Joins a public channel (no-op when already a member). Error: `not_found`.
pub async fn join(state: &AppState, user: Uuid, id: Uuid) -> Result<Channel, AppError> {
    let channel = visible(state, user, id).await?;
    if channel.membership.is_some() {
        return Ok(channel);
    }
    add(state, user, id, Role::Member).await
}

/// Refuses when `user` already belongs to the maximum of channels: 403 `too_many_channels`.
async fn check_room_for(state: &AppState, user: Uuid) -> Result<(), AppError> {
    if state.store.channel_ids_of(user).await?.len() >= state.config.max_channels_per_user {
        return Err(AppError::Forbidden("too_many_channels", "leave a channel before joining another"));
    }
    Ok(())
}

/// Adds `user` with `role`, subscribes their sockets and tells them; returns the channel as
/// they see it. Errors: `too_many_channels`, `channel_full` (`#general` has no member cap).
async fn add(state: &AppState, user: Uuid, id: Uuid, role: Role) -> Result<Channel, AppError> {
    check_room_for(state, user).await?;
    let current = state.store.channel(user, id).await?.ok_or(AppError::NotFound)?;
    if id != state.general_id && current.member_count >= state.config.max_members_per_channel {
        return Err(AppError::Forbidden("channel_full", "this channel has the maximum number of members"));
    }
    state.store.add_member(id, user, role, now_ms()).await?;
    let channel = state.store.channel(user, id).await?.ok_or(AppError::NotFound)?;
    state.hub.join(user, id, &ServerEvent::ChannelJoined(channel.clone()));
    Ok(channel)
}

/// Leaves a channel. Errors: `not_found`, `not_a_member`, `forbidden` (DMs and `#general`).
pub async fn leave(state: &AppState, user: Uuid, id: Uuid) -> Result<(), AppError> {
    let channel = member_view(state, user, id).await?;
    if channel.kind == ChannelKind::Dm || id == state.general_id {
        return Err(AppError::Forbidden("forbidden", "this channel cannot be left"));
    }
    state.store.remove_member(id, user).await?;
    state.hub.leave(user, id, &ServerEvent::ChannelLeft(ChannelRef { channel_id: id }));
    Ok(())
}

/// Members of a channel the caller belongs to.
pub async fn members(state: &AppState, viewer: Uuid, id: Uuid) -> Result<Vec<Member>, AppError> {
    member_view(state, viewer, id).await?;
    Ok(state.store.members(id).await?)
}

/// The owner of a channel makes a member an admin or a plain member again. Errors:
/// `invalid_role` (`owner`), `not_found` (channel, or the target is not a member),
/// `not_a_member`, `forbidden` (the caller is not the owner, the target is the owner, or a DM).
pub async fn set_role(state: &AppState, owner: Uuid, id: Uuid, target: Uuid, role: Role) -> Result<Member, AppError> {
    if role == Role::Owner {
        return Err(AppError::Invalid("invalid_role", "role must be admin or member"));
    }
    let channel = member_view(state, owner, id).await?;
    let caller = channel.membership.as_ref().map(|m| m.role).unwrap_or(Role::Member);
    if channel.kind == ChannelKind::Dm || caller != Role::Owner || target == owner {
        return Err(AppError::Forbidden("forbidden", "only the channel owner can change other members' roles"));
    }
    if !state.store.set_role(id, target, role).await? {
        return Err(AppError::NotFound);
    }
    let member = state.store.members(id).await?.into_iter().find(|m| m.user.id == target);
    member.ok_or(AppError::NotFound)
}

/// An owner or admin adds `invitee` (no-op if already a member). Errors: `not_found`
/// (channel or user), `not_a_member`, `forbidden` (plain member, or a DM).
pub async fn invite(state: &AppState, inviter: Uuid, id: Uuid, invitee: Uuid) -> Result<Channel, AppError> {
    let channel = member_view(state, inviter, id).await?;
    let role = channel.membership.as_ref().map(|m| m.role).unwrap_or(Role::Member);
    if channel.kind == ChannelKind::Dm || role < Role::Admin {
        return Err(AppError::Forbidden("forbidden", "only an owner or admin can invite"));
    }
    state.store.user(invitee).await?.ok_or(AppError::NotFound)?;
    if state.store.role(id, invitee).await?.is_none() {
        add(state, invitee, id, Role::Member).await?;
    }
    visible(state, inviter, id).await
}

/// The one DM channel between `viewer` and `peer`, created (and announced to both) the
/// first time. Errors: `cannot_dm_self`, `not_found`.
pub async fn open_dm(state: &AppState, viewer: Uuid, peer: Uuid) -> Result<Channel, AppError> {
    if viewer == peer {
        return Err(AppError::Invalid("cannot_dm_self", "you cannot open a DM with yourself"));
    }
    state.store.user(peer).await?.ok_or(AppError::NotFound)?;
    let (channel, created) = match state.store.dm_between(viewer, peer).await? {
        Some(existing) => (existing, false),
        None => {
            check_room_for(state, viewer).await?;
            check_room_for(state, peer).await?;
            state.store.open_dm(viewer, peer, Uuid::now_v7(), now_ms()).await?
        }
    };
    if created {
        state.hub.join(viewer, channel.id, &ServerEvent::ChannelJoined(channel.clone()));
        if let Some(theirs) = state.store.channel(peer, channel.id).await? {
            state.hub.join(peer, channel.id, &ServerEvent::ChannelJoined(theirs));
        }
    }
    Ok(channel)
}

/// Moves the caller's read watermark forward (see [`crate::service::receipts::read`]).
/// Errors: `invalid_data`, `not_found`, `not_a_member`.
pub async fn mark_read(state: &AppState, user: Uuid, id: Uuid, seq: i64) -> Result<Membership, AppError> {
    crate::service::receipts::read(state, user, id, seq).await
}
