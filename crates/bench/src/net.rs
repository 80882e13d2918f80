//! Dialing the gateway: loopback-only target, source-address round robin, the bench's own
//! WebSocket session ([`Conn`]) over a [`TcpSocket`] we bind ourselves, and the `ready` frame.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{anyhow, bail, Context};
use banter_client::url::{normalize_base, ws_request};
use banter_proto::ws::{Ready, ServerEvent};
use tokio::net::{TcpSocket, TcpStream};

use crate::conn::{Conn, Frame};
use crate::wire::{classify, Incoming};

/// A WebSocket session to the server (see [`crate::conn`]).
pub type Ws = Conn;

/// Opens WebSocket sessions to one loopback server, spreading client sockets over source
/// addresses `127.0.0.1 ..= 127.0.0.N`.
pub struct Dialer {
    base_url: String,
    server: SocketAddr,
    sources: Vec<Ipv4Addr>,
    next: AtomicUsize,
}

impl Dialer {
    /// A dialer for `base_url` (`http://host:port`), which must resolve to a loopback address;
    /// `source_addrs` N > 1 binds sockets to 127.0.0.1..=127.0.0.N in turn.
    pub async fn new(base_url: &str, source_addrs: u8) -> anyhow::Result<Self> {
        let base_url = normalize_base(base_url)?;
        let authority = base_url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("the bench speaks plain http to a local server, not {base_url}"))?;
        let host_port = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
        let server = tokio::net::lookup_host(&host_port)
            .await
            .with_context(|| format!("resolve {host_port}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| anyhow!("{host_port} is not a loopback address: the bench targets 127.0.0.0/8 only"))?;
        let sources =
            if source_addrs > 1 { (1..=source_addrs).map(|i| Ipv4Addr::new(127, 0, 0, i)).collect() } else { vec![] };
        if !sources.is_empty() && !matches!(server.ip(), IpAddr::V4(_)) {
            bail!("--source-addrs needs an IPv4 server address");
        }
        Ok(Self { base_url, server, sources, next: AtomicUsize::new(0) })
    }

    /// The normalized base URL (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The server's socket address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Opens a TCP connection (from the next source address, when several) with `TCP_NODELAY`.
    pub async fn tcp(&self) -> std::io::Result<TcpStream> {
        let socket = if self.server.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if !self.sources.is_empty() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.sources.len();
            socket.bind(SocketAddr::new(IpAddr::V4(self.sources[i]), 0))?;
        }
        let stream = socket.connect(self.server).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Opens `/api/ws` with bearer `token` and reads the `ready` frame; the session then holds
    /// no read buffer until it is read again (an idle connection costs the bench no buffer).
    pub async fn connect(&self, token: &str) -> anyhow::Result<(Ws, Ready)> {
        let tcp = self.tcp().await.context("tcp connect")?;
        let request = ws_request(&self.base_url, token)?;
        let mut ws = Conn::upgrade(tcp, &request).await.context("websocket upgrade")?;
        loop {
            while let Some(frame) = ws.next_frame().context("reading ready")? {
                match frame {
                    Frame::Text(text) => match classify(text) {
                        Incoming::Event(_, event) => match *event {
                            ServerEvent::Ready(ready) => {
                                ws.release_idle_buffer();
                                return Ok((ws, *ready));
                            }
                            other => bail!("expected ready first, got {other:?}"),
                        },
                        other => bail!("expected ready first, got {other:?}"),
                    },
                    Frame::Close(code) => bail!("closed before ready: {code:?}"),
                    _ => continue,
                }
            }
            if ws.read().await.context("reading ready")? == 0 {
                bail!("stream ended before ready");
            }
        }
    }
}

/// `head_seq` of `channel` in a `ready` frame (0 when the channel is not listed).
pub fn head_seq(ready: &Ready, channel: uuid::Uuid) -> i64 {
    ready.channels.iter().find(|c| c.id == channel).map_or(0, |c| c.head_seq)
}
