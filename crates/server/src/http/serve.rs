//! The server loop: accepts TCP connections and serves each with hyper's HTTP/1.1 connection
//! (upgrades allowed), the router seeing the connection as `ConnectInfo<Peer>`.
//!
//! Our own loop rather than `axum::serve`, whose automatic HTTP/1-or-2 connection wraps the
//! socket in a private type: here an upgraded connection is handed over as the
//! [`TcpStream`] itself ([`crate::ws::socket::upgrade`] downcasts it), so a WebSocket
//! session holds no boxed wrapper around its socket (see `docs/benchmarks.md`, memory per
//! connection). HTTP/2 is not offered: browsers only speak it over TLS, which a proxy in front
//! of the server terminates.

use std::future::Future;
use std::os::fd::AsRawFd;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::peer::{Accept, Peer};

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish the request it is answering (idle keep-alive connections close at once)
/// and returns when all have. Upgraded connections are no longer hyper's: their sessions run
/// on. Accept errors are logged and retried (see [`Accept`]).
pub async fn serve(mut listener: Accept, router: Router, shutdown: impl Future<Output = ()>) {
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let peer = Peer { addr, socket: tcp.as_raw_fd() };
        connections.spawn(connection(tcp, peer, router.clone(), stop.clone()));
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
}

/// Serves one connection until it closes, is upgraded, or `stop` asks it to finish.
async fn connection(tcp: TcpStream, peer: Peer, router: Router, stop: CancellationToken) {
    let service = router.map_request(move |mut request: axum::http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.map(Body::new)
    });
    let served = http1::Builder::new().serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
    let mut served = std::pin::pin!(served.with_upgrades());
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = result {
        tracing::trace!(error = %e, "connection ended with an error");
    }
}
