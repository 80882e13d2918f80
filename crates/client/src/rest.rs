//! [`Client`]: typed calls to the REST API under `/api`.

use std::sync::Arc;

use banter_proto::rest::{
    AuthResponse, ChannelList, CreateChannelRequest, EditMessageRequest, Health, LoginRequest, MemberList, MessagePage,
    MessageReceipts, ReadRequest, RegisterRequest, RoleRequest, SendMessageRequest, UserList, UserRef,
};
use banter_proto::{Channel, Me, Member, Membership, Message, Profile, Role, User};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{ClientError, Result};
use crate::page::Page;
use crate::url::normalize_base;

/// A REST client for one Banter server, optionally signed in with a session token.
///
/// Cheap to clone: clones share one connection pool. Every call sends
/// `Authorization: Bearer <token>` when the client has a token; calls that need a session fail
/// with the server's 401 `unauthorized` otherwise.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    base: Arc<str>,
    token: Option<Arc<str>>,
}

/// Shows the base URL and whether there is a token, never the token itself.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Client {
    /// A client for the server at `base_url` (`http://host:port` or `https://...`, with or
    /// without a trailing slash), with no token.
    ///
    /// Errors: [`ClientError::InvalidUrl`] when the URL is not absolute http(s).
    pub fn new(base_url: &str) -> Result<Self> {
        Ok(Self { http: reqwest::Client::new(), base: normalize_base(base_url)?.into(), token: None })
    }

    /// This client with `token` as its bearer token (sharing the connection pool).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self { token: Some(token.into().into()), ..self.clone() }
    }

    /// The bearer token, if signed in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/auth/register`: creates an account (which joins `#general`) and returns a
    /// client signed in as it, with the answer. Errors: `invalid_username`,
    /// `invalid_password`, `invalid_email`, `invalid_display_name`, `username_taken`.
    pub async fn register(&self, req: &RegisterRequest) -> Result<(Client, AuthResponse)> {
        let auth: AuthResponse = self.call(self.req(Method::POST, "/api/auth/register").json(req)).await?;
        Ok((self.with_token(auth.token.clone()), auth))
    }

    /// `POST /api/auth/login`: a client signed in with a new session, and the answer.
    /// Errors: `invalid_credentials` (401) for an unknown user or a wrong password alike.
    pub async fn login(&self, username: &str, password: &str) -> Result<(Client, AuthResponse)> {
        let body = LoginRequest { username: username.into(), password: password.into() };
        let auth: AuthResponse = self.call(self.req(Method::POST, "/api/auth/login").json(&body)).await?;
        Ok((self.with_token(auth.token.clone()), auth))
    }

    /// `POST /api/auth/logout`: revokes this client's session; its token answers 401 from
    /// now on and its WebSockets close with 4001.
    pub async fn logout(&self) -> Result<()> {
        self.call_empty(self.req(Method::POST, "/api/auth/logout")).await
    }

    /// `GET /api/health` (no authentication needed).
    pub async fn health(&self) -> Result<Health> {
        self.call(self.req(Method::GET, "/api/health")).await
    }

    /// `GET /api/users/me`: the signed-in user's own profile.
    pub async fn me(&self) -> Result<Me> {
        self.call(self.req(Method::GET, "/api/users/me")).await
    }

    /// `GET /api/users?q=`: users whose username or display name starts with `q`
    /// (case-insensitive), at most 20, by username.
    pub async fn search_users(&self, q: &str) -> Result<Vec<User>> {
        let list: UserList = self.call(self.req(Method::GET, "/api/users").query(&[("q", q)])).await?;
        Ok(list.users)
    }

    /// `GET /api/users/:id`. Errors: `not_found`.
    pub async fn user(&self, id: Uuid) -> Result<User> {
        self.call(self.req(Method::GET, &format!("/api/users/{id}"))).await
    }

    /// `GET /api/channels`: the caller's channels, each with its `membership`.
    pub async fn channels(&self) -> Result<Vec<Channel>> {
        let list: ChannelList = self.call(self.req(Method::GET, "/api/channels")).await?;
        Ok(list.channels)
    }

    /// `POST /api/channels`: creates a public or private channel owned by the caller.
    /// Errors: `invalid_channel_name`, `invalid_topic`, `invalid_kind`, `channel_name_taken`.
    pub async fn create_channel(&self, req: &CreateChannelRequest) -> Result<Channel> {
        self.call(self.req(Method::POST, "/api/channels").json(req)).await
    }

    /// `GET /api/channels/public?q=`: the public directory (name prefix `q`, at most 50).
    pub async fn public_channels(&self, q: &str) -> Result<Vec<Channel>> {
        let rb = self.req(Method::GET, "/api/channels/public").query(&[("q", q)]);
        let list: ChannelList = self.call(rb).await?;
        Ok(list.channels)
    }

    /// `GET /api/channels/:id`. Errors: `not_found` (also for private channels and DMs the
    /// caller is not in).
    pub async fn channel(&self, id: Uuid) -> Result<Channel> {
        self.call(self.req(Method::GET, &format!("/api/channels/{id}"))).await
    }

    /// `POST /api/channels/:id/join` (public channels; joining twice is a no-op).
    pub async fn join(&self, id: Uuid) -> Result<Channel> {
        self.call(self.req(Method::POST, &format!("/api/channels/{id}/join"))).await
    }

    /// `POST /api/channels/:id/leave`. Errors: `not_found`, `forbidden` (DMs, `#general`).
    pub async fn leave(&self, id: Uuid) -> Result<()> {
        self.call_empty(self.req(Method::POST, &format!("/api/channels/{id}/leave"))).await
    }

    /// `GET /api/channels/:id/members`. Errors: `not_a_member`, `not_found`.
    pub async fn members(&self, id: Uuid) -> Result<Vec<Member>> {
        let list: MemberList = self.call(self.req(Method::GET, &format!("/api/channels/{id}/members"))).await?;
        Ok(list.members)
    }

    /// `POST /api/channels/:id/members`: invites `user` (owner/admin only). Errors:
    /// `forbidden`, `not_found`.
    pub async fn invite(&self, channel: Uuid, user: Uuid) -> Result<Channel> {
        let rb = self.req(Method::POST, &format!("/api/channels/{channel}/members"));
        self.call(rb.json(&UserRef { user_id: user })).await
    }

    /// `POST /api/channels/:id/read`: moves the caller's read watermark to `seq` (clamped to
    /// the head, never backwards) and returns the membership.
    pub async fn mark_read(&self, channel: Uuid, seq: i64) -> Result<Membership> {
        let rb = self.req(Method::POST, &format!("/api/channels/{channel}/read"));
        self.call(rb.json(&ReadRequest { seq })).await
    }

    /// `POST /api/dms`: the one DM channel with `user`, created on first use. Errors:
    /// `not_found`, `cannot_dm_self`.
    pub async fn open_dm(&self, user: Uuid) -> Result<Channel> {
        self.call(self.req(Method::POST, "/api/dms").json(&UserRef { user_id: user })).await
    }

    /// `POST /api/messages`: posts a message. Returns it and whether it was an idempotent
    /// replay (HTTP 200: this `client_id` was already used by the caller, nothing new stored)
    /// rather than a new message (201). Errors: `invalid_body`, `invalid_client_id`,
    /// `not_found`, `not_a_member`.
    pub async fn send_message(&self, req: &SendMessageRequest) -> Result<(Message, bool)> {
        let resp = self.req(Method::POST, "/api/messages").json(req).send().await?;
        let replayed = resp.status() == StatusCode::OK;
        Ok((decode(resp).await?, replayed))
    }

    /// `GET /api/messages/:channelId`: one page of history in ascending `seq` order.
    /// Errors: `invalid_query`, `not_found`, `not_a_member`.
    pub async fn messages(&self, channel: Uuid, page: Page) -> Result<MessagePage> {
        let rb = self.req(Method::GET, &format!("/api/messages/{channel}")).query(&page.query());
        self.call(rb).await
    }

    /// `PATCH /api/messages/:channelId/:messageId`: replaces the body of the caller's own
    /// message. Errors: `invalid_body`, `not_found`, `not_a_member`, `forbidden`,
    /// `message_deleted`.
    pub async fn edit_message(&self, channel: Uuid, message: Uuid, body: &str) -> Result<Message> {
        let rb = self.req(Method::PATCH, &format!("/api/messages/{channel}/{message}"));
        self.call(rb.json(&EditMessageRequest { body: body.into() })).await
    }

    /// `DELETE /api/messages/:channelId/:messageId`: deletes a message (the sender, or an
    /// owner/admin of the channel); returns the tombstone. Errors: `not_found`,
    /// `not_a_member`, `forbidden`, `message_deleted`.
    pub async fn delete_message(&self, channel: Uuid, message: Uuid) -> Result<Message> {
        self.call(self.req(Method::DELETE, &format!("/api/messages/{channel}/{message}"))).await
    }

    /// `PUT /api/messages/:channelId/:messageId/reactions/:emoji` (`add`) or `DELETE` (not
    /// `add`): adds or takes back the caller's reaction. Errors: `invalid_emoji`,
    /// `too_many_reactions`, `message_deleted`, `not_found`, `not_a_member`.
    pub async fn react(&self, channel: Uuid, message: Uuid, emoji: &str, add: bool) -> Result<()> {
        let method = if add { Method::PUT } else { Method::DELETE };
        let emoji = utf8_percent_encode(emoji, NON_ALPHANUMERIC);
        self.call_empty(self.req(method, &format!("/api/messages/{channel}/{message}/reactions/{emoji}"))).await
    }

    /// `GET /api/messages/:channelId/:seq/receipts`: who has received and read one message.
    /// Errors: `not_found`, `not_a_member`.
    pub async fn message_receipts(&self, channel: Uuid, seq: i64) -> Result<MessageReceipts> {
        self.call(self.req(Method::GET, &format!("/api/messages/{channel}/{seq}/receipts"))).await
    }

    /// `PATCH /api/channels/:id/members/:userId`: the owner sets a member's role (`admin` or
    /// `member`). Errors: `invalid_role`, `forbidden`, `not_found`, `not_a_member`.
    pub async fn set_role(&self, channel: Uuid, user: Uuid, role: Role) -> Result<Member> {
        let rb = self.req(Method::PATCH, &format!("/api/channels/{channel}/members/{user}"));
        self.call(rb.json(&RoleRequest { role })).await
    }

    /// `GET /api/users/:id` with presence. Errors: `not_found`.
    pub async fn profile(&self, id: Uuid) -> Result<Profile> {
        self.call(self.req(Method::GET, &format!("/api/users/{id}"))).await
    }

    /// A request to `path` with the bearer header when the client has a token; for routes
    /// this SDK does not wrap yet.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// Sends `rb` and decodes a JSON success body, or the error body into [`ClientError::Api`].
    pub async fn call<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T> {
        decode(rb.send().await?).await
    }

    async fn call_empty(&self, rb: RequestBuilder) -> Result<()> {
        let resp = rb.send().await?;
        check(resp).await.map(drop)
    }
}

/// The response if its status is a success, else its body as [`ClientError::Api`].
async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.bytes().await?;
    Err(ClientError::from_response(status.as_u16(), &body))
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let body = check(resp).await?.bytes().await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Decode(format!("{e}: {}", String::from_utf8_lossy(&body))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_the_path() {
        let c = Client::new("http://h:1/").unwrap();
        assert_eq!(c.url("/api/health"), "http://h:1/api/health");
        assert!(c.token().is_none());
        assert_eq!(c.with_token("bnt_x").token(), Some("bnt_x"));
        assert!(!format!("{:?}", c.with_token("bnt_x")).contains("bnt_x"), "Debug hides the token");
    }
}
