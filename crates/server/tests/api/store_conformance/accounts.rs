//! Cases for `UserStore`: accounts (create, taken, credentials, lookup, search) and sessions.

use std::sync::Arc;

use banter_client::proto::Role;
use banter_server::clock::{now_ms, to_datetime};
use banter_server::store::{NewUser, Store};
use uuid::Uuid;

use super::fixtures::{general, user, user_named, HASH};

fn new_user(username: &str, email: Option<&str>) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        username: username.into(),
        display_name: format!("{username} Display"),
        email: email.map(Into::into),
        password_hash: HASH.into(),
        created_at: now_ms(),
    }
}

/// Create, taken case-insensitively, credentials, lookup by id, joined to `#general`.
pub async fn users(store: Arc<dyn Store>) {
    let general = general(&store).await;
    let new = new_user("Ana", Some("ana@example.com"));
    let (id, at) = (new.id, new.created_at);
    let ana = store.create_user(new, general).await.unwrap().expect("created");
    assert_eq!((ana.user.id, ana.user.username.as_str()), (id, "Ana"));
    assert_eq!((ana.user.display_name.as_str(), ana.email.as_deref()), ("Ana Display", Some("ana@example.com")));
    assert_eq!(ana.user.created_at, to_datetime(at));

    for taken in ["Ana", "ana", "ANA"] {
        let again = store.create_user(new_user(taken, None), general).await.unwrap();
        assert!(again.is_none(), "{taken} is taken");
    }
    let channel = store.channel(id, general).await.unwrap().expect("#general");
    assert_eq!(channel.member_count, 1, "a refused registration joins nobody");
    let membership = channel.membership.expect("a new user is a member of #general");
    assert_eq!((membership.role, membership.read_seq, membership.joined_at), (Role::Member, 0, to_datetime(at)));

    let credentials = store.credentials("aNa").await.unwrap().expect("found case-insensitively");
    assert_eq!((credentials.me, credentials.password_hash.as_str()), (ana.clone(), HASH));
    assert!(store.credentials("anna").await.unwrap().is_none());
    assert_eq!(store.user(id).await.unwrap(), Some(ana));
    assert_eq!(store.user(Uuid::now_v7()).await.unwrap(), None);
}

/// Prefix search over usernames and display names: case-insensitive, by username (byte
/// order), `%` `_` `\` literal, limited.
pub async fn user_search(store: Arc<dyn Store>) {
    for name in ["axb", "a_b", "abc"] {
        user(&store, name).await;
    }
    user_named(&store, "zed", "50% Zed").await;
    user_named(&store, "yan", "500 Yan").await;
    user_named(&store, "bob", "Ann Bob").await;
    let search = |prefix: &'static str, limit: u32| {
        let store = store.clone();
        async move {
            let found = store.search_users(prefix, limit).await.unwrap();
            found.into_iter().map(|u| u.username).collect::<Vec<_>>()
        }
    };
    assert_eq!(search("a", 10).await, ["a_b", "abc", "axb", "bob"], "`_` sorts before letters");
    assert_eq!(search("A", 2).await, ["a_b", "abc"]);
    assert_eq!(search("a_", 10).await, ["a_b"], "`_` is literal");
    assert_eq!(search("50%", 10).await, ["zed"], "`%` is literal");
    assert_eq!(search("5", 10).await, ["yan", "zed"]);
    assert_eq!(search("ann b", 10).await, ["bob"], "display names match too");
    assert!(search("\\", 10).await.is_empty(), "`\\` is literal");
    assert!(search("q", 10).await.is_empty());
}

/// Sessions: create, look up by token hash, revoke once; revoked ones are not found.
pub async fn sessions(store: Arc<dyn Store>) {
    let ana = user(&store, "ana").await;
    let (id, hash) = (Uuid::now_v7(), [7u8; 32]);
    store.create_session(id, ana.user.id, &hash, now_ms()).await.unwrap();
    let other = Uuid::now_v7();
    store.create_session(other, ana.user.id, &[8u8; 32], now_ms()).await.unwrap();

    assert_eq!(store.session(&hash).await.unwrap(), Some((id, ana.clone())));
    assert_eq!(store.session(&[9u8; 32]).await.unwrap(), None);
    assert!(store.revoke_session(id, now_ms()).await.unwrap());
    assert!(!store.revoke_session(id, now_ms()).await.unwrap(), "already revoked");
    assert!(!store.revoke_session(Uuid::now_v7(), now_ms()).await.unwrap(), "unknown");
    assert_eq!(store.session(&hash).await.unwrap(), None, "revoked");
    assert_eq!(store.session(&[8u8; 32]).await.unwrap(), Some((other, ana)), "others stay live");
}
