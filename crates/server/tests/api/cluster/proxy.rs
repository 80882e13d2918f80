//! A TCP proxy between one node and the real Redis, so a test can take Redis away from that
//! node (cut its connections, refuse new ones) without touching the machine's Redis server.
//! It tells a subscriber connection from the publisher by the `SUBSCRIBE` it sends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// Which of a node's Redis connections to cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Every connection.
    All,
    /// Only subscriber connections.
    Subscriber,
    /// Only non-subscriber (publisher) connections.
    Publisher,
}

/// One proxied connection.
struct Link {
    subscriber: Arc<AtomicBool>,
    task: AbortHandle,
}

#[derive(Default)]
struct State {
    /// While false, new connections are accepted and dropped at once.
    refusing: AtomicBool,
    links: Mutex<Vec<Link>>,
}

/// A running proxy on `127.0.0.1:<port>`; stops when dropped.
pub struct Proxy {
    port: u16,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port and forwards each connection to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("bound").port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.refusing.load(Ordering::SeqCst) {
                    continue;
                }
                let subscriber = Arc::new(AtomicBool::new(false));
                let task = tokio::spawn(forward(client, target, subscriber.clone()));
                let mut links = shared.links.lock().unwrap();
                links.retain(|l| !l.task.is_finished());
                links.push(Link { subscriber, task: task.abort_handle() });
            }
        });
        Proxy { port, state, accept }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Drops the chosen open connections (both sides see them close).
    pub fn cut(&self, which: Cut) {
        let mut links = self.state.links.lock().unwrap();
        links.retain(|link| {
            let subscriber = link.subscriber.load(Ordering::SeqCst);
            let hit = match which {
                Cut::All => true,
                Cut::Subscriber => subscriber,
                Cut::Publisher => !subscriber,
            };
            if hit {
                link.task.abort();
            }
            !hit
        });
    }

    /// Refuses (accepts and drops) new connections while `refusing`.
    pub fn refuse(&self, refusing: bool) {
        self.state.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut(Cut::All);
    }
}

/// Copies bytes both ways until either side closes; flags `subscriber` on a `SUBSCRIBE`.
async fn forward(mut client: TcpStream, target: SocketAddr, subscriber: Arc<AtomicBool>) {
    let Ok(mut server) = TcpStream::connect(target).await else { return };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            if buf[..n].windows(9).any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE")) {
                subscriber.store(true, Ordering::SeqCst);
            }
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}
