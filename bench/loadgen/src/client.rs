//! Opening a Socket.IO client connection: TCP from a chosen loopback source address,
//! WebSocket upgrade, Engine.IO OPEN, Socket.IO CONNECT to `/`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::TcpSocket;

use crate::frames;
use crate::ws::{Frame, Ws};

/// Where and how clients connect.
pub struct Target {
    pub port: u16,
    pub sources: Vec<Ipv4Addr>,
    host: String,
    path: &'static str,
    /// Bound on one whole open (TCP + upgrade + OPEN + CONNECT).
    pub open_timeout: Duration,
}

/// Read buffer per connection: thousands of clients each receive small frames; a wake-up
/// reads up to this much at once.
pub const READ_BUFFER: usize = 16 << 10;

impl Target {
    pub fn new(port: u16, sources: Vec<Ipv4Addr>) -> Self {
        Self {
            port,
            sources,
            host: format!("127.0.0.1:{port}"),
            path: "/socket.io/?EIO=4&transport=websocket",
            open_timeout: Duration::from_secs(15),
        }
    }

    /// Source address of client `i` (round robin).
    pub fn source(&self, i: usize) -> Ipv4Addr {
        self.sources[i % self.sources.len()]
    }

    /// Opens client `i` and completes the Socket.IO CONNECT, within `open_timeout`.
    pub async fn open(&self, i: usize) -> Result<Ws, String> {
        match tokio::time::timeout(self.open_timeout, self.open_inner(i)).await {
            Ok(r) => r,
            Err(_) => Err("open: timed out".into()),
        }
    }

    /// `host:port` of the server (the `Host` header).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A TCP connection for client `i` from its source address, `TCP_NODELAY` set.
    pub async fn tcp(&self, i: usize) -> Result<tokio::net::TcpStream, String> {
        let src = self.source(i);
        let sock = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        // Lets a port still in TIME_WAIT from a previous run be reused.
        sock.set_reuseaddr(true)
            .map_err(|e| format!("reuseaddr: {e}"))?;
        bind_address_no_port(&sock).map_err(|e| format!("bind_address_no_port: {e}"))?;
        sock.bind(SocketAddr::from((src, 0)))
            .map_err(|e| format!("bind {src}: {e}"))?;
        let stream = sock
            .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))
            .await
            .map_err(|e| format!("connect from {src}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay: {e}"))?;
        Ok(stream)
    }

    async fn open_inner(&self, i: usize) -> Result<Ws, String> {
        let stream = self.tcp(i).await?;
        let mut ws = Ws::handshake(stream, &self.host, self.path, READ_BUFFER, i as u32)
            .await
            .map_err(|e| format!("websocket: {e}"))?;

        let open = next_text(&mut ws).await?;
        if !frames::is_open(&open) {
            return Err(format!("expected Engine.IO OPEN, got {}", clip(&open)));
        }
        send(&mut ws, frames::CONNECT).await?;
        loop {
            let f = next_text(&mut ws).await?;
            if frames::is_connect_ack(&f) {
                return Ok(ws);
            }
            if f == frames::PING {
                send(&mut ws, frames::PONG).await?;
                continue;
            }
            if frames::is_connect_error(&f) {
                return Err(format!("CONNECT refused: {}", clip(&f)));
            }
            return Err(format!("expected CONNECT ack, got {}", clip(&f)));
        }
    }
}

/// Sends one text frame (and whatever was queued before it).
pub async fn send(ws: &mut Ws, text: &str) -> Result<(), String> {
    ws.send_text(text.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))
}

/// The next text frame (set-up path only, allocates); errors on close, error or binary.
pub async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next_frame()? {
            Some(Frame::Text(t)) => return Ok(String::from_utf8_lossy(t).into_owned()),
            Some(Frame::Binary) => return Err("unexpected binary frame".into()),
            Some(Frame::Close) => return Err("closed by server".into()),
            None => {}
        }
        ws.flush().await.map_err(|e| format!("send: {e}"))?;
        match ws.fill().await {
            Ok(true) => {}
            Ok(false) => return Err("closed by server".into()),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// First 80 characters of a frame, for error messages.
pub fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Setup bookkeeping shared by the client tasks of a scenario.
#[derive(Default)]
pub struct Setup {
    pub ok: AtomicUsize,
    pub failed: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl Setup {
    pub fn succeed(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a failure; the first few are printed to stderr.
    pub fn fail(&self, what: String) {
        let n = self.failed.fetch_add(1, Ordering::Relaxed);
        if n < 5 {
            eprintln!("loadgen: client setup failed: {what}");
        }
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(what);
    }

    pub fn done(&self) -> usize {
        self.ok.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Polls until `n` clients are set up (or failed), or `timeout`; true if all finished.
    pub async fn wait(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_report = tokio::time::Instant::now();
        while self.done() < n {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            if last_report.elapsed() >= Duration::from_secs(2) {
                eprintln!(
                    "loadgen: setup {} ok, {} failed of {n}",
                    self.ok.load(Ordering::Relaxed),
                    self.failed.load(Ordering::Relaxed)
                );
                last_report = tokio::time::Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

/// Hands every complete buffered text frame to `on_text`, answering Engine.IO pings (queued;
/// sent by the next flush). Returns the number of binary frames seen; `Err` once the server
/// closed the connection or broke the framing.
pub fn drain(ws: &mut Ws, mut on_text: impl FnMut(&[u8])) -> Result<u64, String> {
    let mut binary = 0;
    let mut pings = 0;
    let result = loop {
        match ws.next_frame() {
            Ok(Some(Frame::Text(t))) => {
                if t == frames::PING.as_bytes() {
                    pings += 1;
                } else {
                    on_text(t);
                }
            }
            Ok(Some(Frame::Binary)) => binary += 1,
            Ok(Some(Frame::Close)) => break Err("closed by server".to_string()),
            Ok(None) => break Ok(binary),
            Err(e) => break Err(e),
        }
    };
    for _ in 0..pings {
        ws.queue_text(frames::PONG.as_bytes());
    }
    result
}

/// What [`wait`] saw.
pub enum Wait {
    Data,
    Stopped,
}

/// Sends what is queued, then waits for more bytes from the server or for `stop`.
pub async fn wait<F: std::future::Future + Unpin>(
    ws: &mut Ws,
    stop: &mut F,
) -> Result<Wait, String> {
    ws.flush().await.map_err(|e| format!("send: {e}"))?;
    tokio::select! {
        biased;
        _ = stop => Ok(Wait::Stopped),
        r = ws.fill() => match r {
            Ok(true) => Ok(Wait::Data),
            Ok(false) => Err("closed by server".into()),
            Err(e) => Err(format!("read: {e}")),
        },
    }
}

/// Waits for the start signal `go`, handling what arrives meanwhile with `on_early` (pings
/// are answered by the flush): `Ok(true)` once started, `Ok(false)` if `stop` came first.
pub async fn wait_for_go<F: std::future::Future + Unpin>(
    ws: &mut Ws,
    go: &mut tokio::sync::watch::Receiver<bool>,
    stop: &mut F,
    mut on_early: impl FnMut(&mut Ws) -> Result<(), String>,
) -> Result<bool, String> {
    while !*go.borrow() {
        on_early(ws)?;
        ws.flush().await.map_err(|e| format!("send: {e}"))?;
        let running = tokio::select! {
            biased;
            _ = &mut *stop => false,
            r = go.changed() => r.is_ok(),
            r = ws.fill() => match r {
                Ok(true) => true,
                Ok(false) => return Err("closed by server".to_string()),
                Err(e) => return Err(format!("read: {e}")),
            },
        };
        if !running {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Has the kernel pick the source port at `connect`, knowing the whole address pair,
/// instead of at `bind` (`IP_BIND_ADDRESS_NO_PORT`). Binding a source address with port 0
/// otherwise searches for a port free for *any* destination, which, with the previous
/// runs' connections in TIME_WAIT, took the load generator seconds of kernel time per
/// 10 000 connections and trickled connections in at a rate that changed the server's
/// CPU per connection.
#[cfg(target_os = "linux")]
fn bind_address_no_port(sock: &TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, and an option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn bind_address_no_port(_sock: &TcpSocket) -> std::io::Result<()> {
    Ok(())
}
