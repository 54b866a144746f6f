//! One connection's task: tell HTTP/2 from HTTP/1.1 by the first bytes, serve
//! it with hyper, keep the keep-alive timer, and shut down gracefully when the
//! server starts closing.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::core::config::Config;
use crate::core::exchange::Hub;
use crate::core::io::Socket;
use crate::core::tracker::ConnGuard;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Per-connection state shared by the connection task and its exchanges.
pub struct ConnState {
    /// Connection id, as JS knows it.
    pub id: u32,
    /// Whether the connection speaks HTTP/2.
    pub h2: bool,
    active: Cell<u32>,
    last_activity: Cell<Instant>,
}

impl ConnState {
    /// A fresh connection state.
    pub fn new(id: u32, h2: bool) -> Self {
        ConnState {
            id,
            h2,
            active: Cell::new(0),
            last_activity: Cell::new(Instant::now()),
        }
    }

    /// An exchange started.
    pub fn begin(&self) {
        self.active.set(self.active.get() + 1);
    }

    /// An exchange's response ended (or it was aborted).
    pub fn end(&self) {
        self.active.set(self.active.get().saturating_sub(1));
        self.touch();
    }

    /// Bytes arrived.
    pub fn touch(&self) {
        self.last_activity.set(Instant::now());
    }

    /// No exchange is open.
    pub fn is_idle(&self) -> bool {
        self.active.get() == 0
    }
}

/// Runs hyper's per-stream tasks on the I/O thread's `LocalSet`.
#[derive(Clone, Copy)]
pub struct LocalExec;

impl<F: Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// What every connection of one server shares.
pub struct Shared {
    /// The exchange hub.
    pub hub: Rc<Hub>,
    /// The server's options.
    pub config: Config,
    h1: http1::Builder,
    h2: http2::Builder<LocalExec>,
}

impl Shared {
    /// Builds the protocol builders once per server.
    pub fn new(hub: Rc<Hub>, config: Config) -> Self {
        let mut h1 = http1::Builder::new();
        h1.timer(TokioTimer::new())
            .header_read_timeout(config.headers_timeout)
            .max_header_size(config.max_header_size)
            .max_headers(2000);
        let mut h2 = http2::Builder::new(LocalExec);
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(config.h2_max_concurrent_streams)
            .initial_stream_window_size(config.h2_initial_window_size)
            .max_header_list_size(config.max_header_size as u32);
        Shared {
            hub,
            config,
            h1,
            h2,
        }
    }
}

enum Detected {
    Http1(Bytes),
    Http2(Bytes),
    Gone,
}

async fn detect(stream: &mut TcpStream, limit: Option<Duration>) -> Detected {
    let mut buf = [0u8; 24];
    let mut n = 0;
    let deadline = limit.map(|d| Instant::now() + d);
    loop {
        let read = stream.read(&mut buf[n..]);
        let got = match deadline {
            Some(d) => match tokio::time::timeout_at(d, read).await {
                Ok(r) => r,
                Err(_) => return Detected::Gone,
            },
            None => read.await,
        };
        match got {
            Ok(0) | Err(_) => return Detected::Gone,
            Ok(k) => n += k,
        }
        if buf[..n] != PREFACE[..n] {
            return Detected::Http1(Bytes::copy_from_slice(&buf[..n]));
        }
        if n == PREFACE.len() {
            return Detected::Http2(Bytes::copy_from_slice(&buf[..n]));
        }
    }
}

/// Serves one accepted connection to the end. `guard` is dropped last, after
/// the socket is closed (DESIGN C2).
pub async fn serve(
    shared: Rc<Shared>,
    mut stream: TcpStream,
    id: u32,
    mut closing: watch::Receiver<bool>,
    guard: ConnGuard,
) {
    let _ = stream.set_nodelay(true);
    let detected = tokio::select! {
        d = detect(&mut stream, shared.config.headers_timeout) => d,
        _ = closing.wait_for(|c| *c) => Detected::Gone,
    };
    let (prefix, h2) = match detected {
        Detected::Http1(p) => (p, false),
        Detected::Http2(p) => (p, true),
        Detected::Gone => {
            drop(stream);
            drop(guard);
            return;
        }
    };
    let state = Rc::new(ConnState::new(id, h2));
    let io = TokioIo::new(Socket::new(prefix, stream, state.clone()));
    let hub = shared.hub.clone();
    let st = state.clone();
    let svc = service_fn(move |req| hub.clone().serve(st.clone(), req));
    if h2 {
        let conn = shared.h2.serve_connection(io, svc);
        tokio::pin!(conn);
        let mut shutting = false;
        loop {
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = closing.wait_for(|c| *c), if !shutting => {
                    shutting = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    } else {
        let conn = shared.h1.serve_connection(io, svc);
        tokio::pin!(conn);
        let keep_alive = shared.config.keep_alive_timeout;
        let mut shutting = false;
        let mut deadline = keep_alive.map(|k| Instant::now() + k);
        loop {
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = closing.wait_for(|c| *c), if !shutting => {
                    shutting = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() && !shutting => {
                    let Some(k) = keep_alive else { continue };
                    let now = Instant::now();
                    let due = state.last_activity.get() + k;
                    if !state.is_idle() {
                        deadline = Some(now + k);
                    } else if due <= now {
                        shutting = true;
                        conn.as_mut().graceful_shutdown();
                    } else {
                        deadline = Some(due);
                    }
                }
            }
        }
    }
    drop(guard);
}
