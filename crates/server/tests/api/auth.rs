//! Accounts and sessions: register, login, logout, `me`.

use banter_client::proto::rest::RegisterRequest;
use banter_client::ClientError;
use reqwest::Method;

use crate::helpers::*;

fn registration(username: &str, password: &str) -> RegisterRequest {
    RegisterRequest { username: username.into(), password: password.into(), email: None, display_name: None }
}

#[tokio::test]
async fn health_needs_no_session() {
    let app = TestApp::spawn().await;
    let health = within("health", app.client().health()).await.unwrap();
    assert_eq!(health.status, "ok");
    assert!(!health.version.is_empty());
}

#[tokio::test]
async fn register_returns_a_session_that_me_accepts() {
    let app = TestApp::spawn().await;
    let req = RegisterRequest {
        username: "ana".into(),
        password: PASSWORD.into(),
        email: Some("ana@example.com".into()),
        display_name: Some("Ana Lima".into()),
    };
    let (client, auth) = within("register", app.client().register(&req)).await.unwrap();
    assert_eq!(client.token(), Some(auth.token.as_str()));
    assert_eq!(auth.user.user.username, "ana");
    assert_eq!(auth.user.user.display_name, "Ana Lima");
    assert_eq!(auth.user.email.as_deref(), Some("ana@example.com"));

    let me = within("me", client.me()).await.unwrap();
    assert_eq!(me, auth.user);
    let channels = within("channels", client.channels()).await.unwrap();
    assert!(channels.iter().any(|c| c.name == "general"), "new accounts join #general: {channels:?}");

    // The display name defaults to the username.
    let bob = app.register("bob").await;
    assert_eq!(bob.user.user.display_name, "bob");
    assert_eq!(bob.user.email, None);
}

#[tokio::test]
async fn register_validates_every_field() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let long_name = "a".repeat(33);
    let cases: Vec<(RegisterRequest, &str)> = vec![
        (registration("ab", PASSWORD), "invalid_username"),
        (registration(&long_name, PASSWORD), "invalid_username"),
        (registration("bad name", PASSWORD), "invalid_username"),
        (registration("semi;colon", PASSWORD), "invalid_username"),
        (registration("ana", "1234567"), "invalid_password"),
        (registration("ana", &"p".repeat(257)), "invalid_password"),
        (RegisterRequest { email: Some("not-an-email".into()), ..registration("ana", PASSWORD) }, "invalid_email"),
        (
            RegisterRequest { display_name: Some("d".repeat(65)), ..registration("ana", PASSWORD) },
            "invalid_display_name",
        ),
    ];
    for (req, code) in cases {
        let result = within("register", client.register(&req)).await;
        assert!(
            matches!(&result, Err(ClientError::Api { status: 400, code: c, .. }) if c == code),
            "{req:?} should fail with {code}, got {result:?}"
        );
    }
    // Boundaries that are valid: 3 and 32 chars of every allowed class, 8-char password.
    app.register("a_b").await;
    within("register", client.register(&registration("Az09_-.xAz09_-.xAz09_-.xAz09_-.x", "12345678")))
        .await
        .expect("32 chars of allowed characters and an 8-char password are valid");
}

/// protocol.md: `invalid_display_name` when "empty after trimming, or longer than 64 chars".
#[tokio::test]
async fn blank_display_names_fall_back_to_the_username() {
    let app = TestApp::spawn().await;
    let req = RegisterRequest { display_name: Some("   ".into()), ..registration("ana", PASSWORD) };
    let (_, auth) = within("register", app.client().register(&req)).await.expect("blank display name accepted");
    assert_eq!(auth.user.user.display_name, "ana");
    let req = RegisterRequest { display_name: Some("  Ben B.  ".into()), ..registration("ben", PASSWORD) };
    let (_, auth) = within("register", app.client().register(&req)).await.expect("display name accepted");
    assert_eq!(auth.user.user.display_name, "Ben B.", "trimmed");
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively() {
    let app = TestApp::spawn().await;
    app.register("Ana").await;
    for name in ["Ana", "ana", "ANA"] {
        let result = within("register", app.client().register(&registration(name, PASSWORD))).await;
        assert_api_error(result, 409, "username_taken");
    }
}

#[tokio::test]
async fn non_json_bodies_are_invalid_json() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let rb = client.req(Method::POST, "/api/auth/register").header("content-type", "application/json").body("{nope");
    assert_api_error(within("register", client.call::<serde_json::Value>(rb)).await, 400, "invalid_json");
}

#[tokio::test]
async fn login_failures_do_not_reveal_whether_the_user_exists() {
    let app = TestApp::spawn().await;
    app.register("ana").await;
    let client = app.client();
    let wrong_password = within("login", client.login("ana", "wrong password")).await;
    let unknown_user = within("login", client.login("nobody", PASSWORD)).await;
    let (
        Err(ClientError::Api { status: s1, code: c1, message: m1 }),
        Err(ClientError::Api { status: s2, code: c2, message: m2 }),
    ) = (wrong_password, unknown_user)
    else {
        panic!("both logins must fail with an API error");
    };
    assert_eq!((s1, c1.as_str()), (401, "invalid_credentials"));
    assert_eq!((s2, c2.as_str()), (401, "invalid_credentials"));
    assert_eq!(m1, m2, "the two failures must be indistinguishable");
}

#[tokio::test]
async fn login_opens_a_new_session() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (client, auth) =
        within("login", app.client().login("ANA", PASSWORD)).await.expect("username is case-insensitive");
    assert_ne!(auth.token, ana.token);
    assert_eq!(auth.user.user.id, ana.id());
    assert_eq!(within("me", client.me()).await.unwrap().user.id, ana.id());
}

#[tokio::test]
async fn browsers_get_an_http_only_session_cookie() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let rb = client.req(Method::POST, "/api/auth/register").json(&registration("ana", PASSWORD));
    let resp = within("register", rb.send()).await.unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    let auth: banter_client::proto::rest::AuthResponse = resp.json().await.unwrap();
    assert!(cookie.starts_with(&format!("banter_session={};", auth.token)), "{cookie}");
    let attrs = cookie.to_ascii_lowercase();
    for attr in ["httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(!attrs.contains("secure"), "no Secure over plain HTTP by default: {cookie}");

    // The cookie alone authenticates REST calls.
    let with_cookie =
        |path: &str| client.req(Method::GET, path).header("cookie", format!("banter_session={}", auth.token));
    let me: banter_client::proto::Me = within("me", client.call(with_cookie("/api/users/me"))).await.unwrap();
    assert_eq!(me.user.id, auth.user.user.id);

    // Logout clears it.
    let rb = client.req(Method::POST, "/api/auth/logout").header("cookie", format!("banter_session={}", auth.token));
    let resp = within("logout", rb.send()).await.unwrap();
    assert_eq!(resp.status(), 204);
    let cleared = resp.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_ascii_lowercase());
    assert!(
        cleared
            .as_deref()
            .is_some_and(|c| c.starts_with("banter_session=") && (c.contains("max-age=0") || c.contains("expires="))),
        "logout clears the cookie: {cleared:?}"
    );
    let after = within("me", client.call::<serde_json::Value>(with_cookie("/api/users/me"))).await;
    assert_api_error(after, 401, "unauthorized");
}

#[tokio::test]
async fn me_needs_a_valid_bearer_token() {
    let app = TestApp::spawn().await;
    assert_api_error(within("me", app.client().me()).await, 401, "unauthorized");
    let forged = app.client().with_token("bnt_not_a_real_token");
    assert_api_error(within("me", forged.me()).await, 401, "unauthorized");
    assert_api_error(within("logout", app.client().logout()).await, 401, "unauthorized");
}

#[tokio::test]
async fn logout_revokes_only_that_session_and_closes_its_sockets_with_4001() {
    let app = TestApp::spawn().await;
    let first = app.register("ana").await;
    let (second, _) = within("login", app.client().login("ana", PASSWORD)).await.unwrap();
    let general = general_id(&first).await;
    let mut first_conn = app.connect(&first).await;
    let mut second_conn = app.connect_token(second.token().unwrap()).await.unwrap();

    within("logout", first.client.logout()).await.expect("logout answers 204");

    assert_api_error(within("me", first.client.me()).await, 401, "unauthorized");
    assert_api_error(within("channels", first.client.channels()).await, 401, "unauthorized");
    assert_eq!(expect_closed(&mut first_conn).await, (4001, "session_revoked".to_string()));
    let reconnect = app.connect_token(&first.token).await;
    assert_eq!(reconnect.as_ref().err().and_then(ClientError::status), Some(401), "{reconnect:?}");

    // The other session of the same user is untouched, on REST and on its socket.
    within("me", second.me()).await.expect("the other session still works");
    within("ping", second_conn.ping()).await.expect("the other socket still answers");
    let ack = within("send", second_conn.send_message(general, "still here", "c1")).await.unwrap();
    let m = next_message(&mut second_conn).await;
    assert_eq!((m.seq, m.body.as_str()), (ack.seq, "still here"));
}

/// The race a logout must win: a socket authenticated just before the logout but registered
/// with the hub just after it. The hub remembers closed sessions, so the late socket is closed
/// too (simulated by closing the session in the hub while the store still finds it live).
#[tokio::test]
async fn a_socket_registering_after_its_session_was_closed_is_closed_too() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut before = app.connect(&ana).await;
    let session = before.ready().session_id;
    app.hub.close_session(session, banter_server::hub::SESSION_REVOKED);
    assert_eq!(expect_closed(&mut before).await, (4001, "session_revoked".to_string()));
    let mut late = app.connect(&ana).await;
    assert_eq!(expect_closed(&mut late).await, (4001, "session_revoked".to_string()));
    within("the session still answers REST", ana.client.me()).await.expect("not revoked in the store");
}
