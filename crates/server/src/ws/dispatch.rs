//! Decodes client frames and answers them: `ack`/`pong` on success, `error` with a stable
//! code otherwise. Errors are recoverable: the connection stays open.

use banter_proto::model::User;
use banter_proto::rest::ErrorInfo;
use banter_proto::ws::{decode, Ack, ClientEvent, DecodeError, ServerEvent, SyncDone, SyncMessages, SyncRequest};

use crate::error::AppError;
use crate::hub::{frame, ConnId, Outbox};
use crate::service::messages::{self, SendInput};
use crate::service::sync::{self, MAX_SYNC_CHANNELS};
use crate::service::{presence, reactions, receipts, typing};
use crate::state::AppState;

/// Handles one text frame from connection `conn` of `user`. Requests that have no result (everything but
/// `message:send`, `ping` and `sync`) are answered with `ok` when the frame has an `id`, and
/// get no answer without one unless they fail.
pub async fn handle(state: &AppState, user: &User, conn: ConnId, outbox: &Outbox, text: &str) {
    let (id, event) = match decode::<ClientEvent>(text, ClientEvent::TYPES) {
        Ok(decoded) => decoded,
        Err(DecodeError::Malformed) => {
            return reply(outbox, None, error("malformed_frame", "frames are JSON objects with a string \"type\""))
                .await
        }
        Err(DecodeError::UnknownType(id)) => {
            return reply(outbox, id.as_deref(), error("unknown_type", "unknown event type")).await
        }
        Err(DecodeError::InvalidData(id, reason)) => {
            return reply(outbox, id.as_deref(), ServerEvent::Error(ErrorInfo::new("invalid_data", reason))).await
        }
    };
    let done = |r: Result<(), AppError>| quiet(&id, r);
    // A send's own `message:receive` (broadcast on commit) and its `ack` leave in one write.
    let cork = matches!(event, ClientEvent::MessageSend(_)).then(|| outbox.cork());
    let answer = match event {
        ClientEvent::Ping => Some(ServerEvent::Pong),
        ClientEvent::Sync(request) => Some(match sync(state, user, outbox, request).await {
            Ok(done) => ServerEvent::SyncDone(done),
            Err(e) => ServerEvent::Error(e.to_info()),
        }),
        ClientEvent::MessageSend(send) => {
            let input = SendInput {
                channel_id: send.channel_id,
                body: send.body,
                client_id: send.client_id,
                reply_to: send.reply_to,
            };
            Some(match messages::send(state, user, input).await {
                Ok((m, _)) => ServerEvent::Ack(Ack {
                    message_id: m.id,
                    channel_id: m.channel_id,
                    seq: m.seq,
                    client_id: m.client_id,
                    created_at: m.created_at,
                }),
                Err(e) => ServerEvent::Error(e.to_info()),
            })
        }
        ClientEvent::MessageEdit(edit) => {
            done(messages::edit(state, user.id, edit.channel_id, edit.message_id, edit.body).await.map(drop))
        }
        ClientEvent::MessageDelete(r) => {
            done(messages::delete(state, user.id, r.channel_id, r.message_id).await.map(drop))
        }
        ClientEvent::ReactionAdd(r) => done(reactions::add(state, user.id, r.channel_id, r.message_id, &r.emoji).await),
        ClientEvent::ReactionRemove(r) => {
            done(reactions::remove(state, user.id, r.channel_id, r.message_id, &r.emoji).await)
        }
        ClientEvent::PresenceUpdate(p) => done(presence::update(state, user.id, conn, p.status).await),
        ClientEvent::ReceiptRead(r) => done(receipts::read(state, user.id, r.channel_id, r.seq).await.map(drop)),
        ClientEvent::TypingStart(c) => done(typing::start(state, user.id, conn, c.channel_id).await),
        ClientEvent::TypingStop(c) => done(typing::stop(state, user.id, conn, c.channel_id).await),
        ClientEvent::ReceiptDelivered(r) => done(receipts::delivered(state, user.id, r.channel_id, r.seq)),
    };
    if let Some(answer) = answer {
        reply(outbox, id.as_deref(), answer).await;
    }
    drop(cork);
}

/// The answer to a request that is silent on success unless it carried an `id`.
fn quiet(id: &Option<String>, result: Result<(), AppError>) -> Option<ServerEvent> {
    match result {
        Ok(()) => id.as_ref().map(|_| ServerEvent::Ok),
        Err(e) => Some(ServerEvent::Error(e.to_info())),
    }
}

/// Replays each listed channel (`sync:gap`, `sync:messages`) and returns `sync:done`'s data.
/// Replay frames leave half the outbox free for live traffic.
async fn sync(state: &AppState, user: &User, outbox: &Outbox, request: SyncRequest) -> Result<SyncDone, AppError> {
    if request.channels.len() > MAX_SYNC_CHANNELS {
        return Err(AppError::Invalid("invalid_data", "a sync lists at most 1000 channels"));
    }
    let room = state.config.outbox_frames / 2;
    let mut heads = Vec::with_capacity(request.channels.len());
    for position in request.channels {
        let replay = sync::replay(state, user.id, position, state.config.sync_gap_limit).await?;
        let channel_id = position.channel_id;
        let frames = replay.gap.map(ServerEvent::SyncGap).into_iter().chain(
            replay.pages.into_iter().map(|messages| ServerEvent::SyncMessages(SyncMessages { channel_id, messages })),
        );
        for event in frames {
            if !outbox.send_leaving_room(frame(None, &event), room).await {
                return Err(AppError::Internal("connection closed during sync".into()));
            }
        }
        heads.push(replay.head);
    }
    Ok(SyncDone { channels: heads })
}

/// Answers a binary frame: only text frames are spoken here.
pub async fn refuse_binary(outbox: &Outbox) {
    reply(outbox, None, error("malformed_frame", "binary frames are not accepted")).await;
}

fn error(code: &str, message: &str) -> ServerEvent {
    ServerEvent::Error(ErrorInfo::new(code, message))
}

async fn reply(outbox: &Outbox, id: Option<&str>, event: ServerEvent) {
    outbox.send(frame(id, &event)).await;
}
