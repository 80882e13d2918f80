//! The REST edge: each feature owns its router; this module assembles them with the gateway,
//! the web client and the cross-cutting layers (tracing, body limit, security headers).

pub mod auth;
pub mod channels;
pub mod error;
pub mod extract;
pub mod messages;
pub mod peer;
pub mod serve;
pub mod users;
pub mod web;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::Method;
use axum::routing::get;
use axum::{Json, Router};
use banter_proto::rest::Health;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// Largest REST request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Content-Security-Policy for every response: no inline script, nothing from elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'; object-src 'none'";

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    let mut router = Router::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(channels::router())
        .merge(messages::router())
        .merge(crate::ws::router(&state))
        .route("/api/health", get(health))
        .fallback(web::serve)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    if let Some(cors) = cors(&state.config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for the configured origins (credentials allowed), or `None` to leave it off.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> =
        origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()).collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
    )
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    let redis = state.hub.redis_status();
    let healthy = state.store.ping().await.is_ok() && redis != crate::hub::bridge::RedisStatus::Down;
    let status = if healthy { "ok" } else { "degraded" };
    Json(Health {
        status: status.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        redis: Some(redis.as_str().into()),
    })
}
