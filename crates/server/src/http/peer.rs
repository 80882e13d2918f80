//! Accepted TCP connections: [`Accept`] is the listener the server runs on (it turns Nagle
//! off on every connection), and [`Peer`] is what a handler learns about the connection a
//! request came on (extract `ConnectInfo<Peer>`, put there by [`super::serve`]).

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream};

/// The server's listener: a bound [`TcpListener`] whose accepted connections get
/// `TCP_NODELAY` (frames are already coalesced by each session's writer, so Nagle would only
/// hold a small frame, such as an ack after its own broadcast, for up to 40 ms). Accept errors
/// are handled as axum's own `TcpListener` does (logged, retried).
pub struct Accept(pub TcpListener);

impl Listener for Accept {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let (tcp, addr) = Listener::accept(&mut self.0).await;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        (tcp, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// The TCP connection a request came on, taken at accept.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address (rate limits key on its IP).
    pub addr: SocketAddr,
    /// The connection's socket descriptor: a WebSocket session writes frames to it directly
    /// (see `Outbox::attach`). Open as long as the connection, or its upgraded socket, lives.
    pub socket: RawFd,
}
