//! One connection's task: tell HTTP/2 from HTTP/1.1 by the first bytes, serve
//! it with hyper, keep the keep-alive timer, and shut down gracefully when the
//! server starts closing.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
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
use crate::core::conn_state::{ConnState, TunnelState};
use crate::core::ending::{finish, Ending};
use crate::core::flood;
use crate::core::gate::gate;
use crate::core::hub::{Hub, TimedOut};
use crate::core::io::{bytes_waiting, Activity, Socket};
use crate::core::tls::handshake::Opened;
use crate::core::tls::{self, Stream};
use crate::core::tracker::{ConnGuard, Gauge, Tracker};
use crate::core::wire;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

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
    /// The server's connection count and gauges.
    pub tracker: Arc<Tracker>,
    h1: http1::Builder,
    h2: http2::Builder<LocalExec>,
}

impl Shared {
    /// Builds the protocol builders once per server.
    pub fn new(hub: Rc<Hub>, config: Config, tracker: Arc<Tracker>) -> Self {
        // No timer for HTTP/1.1: hyper would arm (allocate, register,
        // cancel) a header-read timer for every request. `headersTimeout`
        // is kept by the connection task instead (`HeadWatch`).
        let mut h1 = http1::Builder::new();
        // Header names go out in Title-Case, as Node writes its own
        // (Connection, Keep-Alive, Content-Length, Date) and as apps mostly
        // set theirs; hyper cannot send the case an app gave (README).
        h1.title_case_headers(true)
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
            tracker,
            h1,
            h2,
        }
    }
}

/// What the server tells every connection task. `closing` is a level;
/// `idle` and `force` are generation counters, one bump per request from JS
/// (`closeIdleConnections()`, `closeAllConnections()` or the shutdown
/// deadline).
pub struct Signals {
    /// The server is closing (DESIGN C3–C5).
    pub closing: watch::Receiver<bool>,
    /// Close idle connections now (C10).
    pub idle: watch::Receiver<u64>,
    /// Close every HTTP connection now, cancelling what is open (C9, C10).
    pub force: watch::Receiver<u64>,
    /// Close upgraded connections too (the shutdown deadline, C9, C11).
    pub kill: watch::Receiver<u64>,
}

/// How long a closing HTTP/2 session waits for the client to acknowledge
/// the PING that follows the first GOAWAY, or to finish its handshake,
/// before we stop waiting for it (DESIGN C5; hyperium/hyper#4170).
const H2_GRACE: Duration = Duration::from_secs(1);

/// After a forced cancel, how long hyper gets to put the RST_STREAM frames
/// on the wire before the connection is dropped.
/// The connection task polls hyper's connection itself, so the frames go
/// out within this bound's first milliseconds; it only has to outlast a
/// socket buffer that is momentarily full.
const FLUSH_GRACE: Duration = Duration::from_millis(20);

/// What Node writes when `headersTimeout` runs out.
const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";

enum Detected {
    Http1(Bytes),
    Http2(Bytes),
    Gone,
    /// No request head within `headersTimeout`.
    TimedOut,
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
                Err(_) => return Detected::TimedOut,
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
    mut signals: Signals,
    guard: ConnGuard,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let (stream, io, h2) = match &shared.config.tls {
        None => {
            // A connection that has not said which protocol it speaks holds
            // nothing: closing, or any close-now request, ends it.
            let detected = tokio::select! {
                d = detect(&mut stream, shared.config.headers_timeout) => d,
                _ = signals.closing.wait_for(|c| *c) => Detected::Gone,
                _ = signals.idle.changed() => Detected::Gone,
                _ = signals.force.changed() => Detected::Gone,
                _ = signals.kill.changed() => Detected::Gone,
            };
            let (prefix, h2) = match detected {
                Detected::Http1(p) => (p, false),
                Detected::Http2(p) => (p, true),
                Detected::Gone => {
                    // Nothing was said, nothing is owed: let go at once.
                    finish(&stream, Ending::Clean, false, None).await;
                    drop(stream);
                    drop(guard);
                    return;
                }
                Detected::TimedOut => {
                    // As Node: a connection whose head does not come within
                    // `headersTimeout` is answered 408 (C7), and JS hears
                    // 'clientError'.
                    let _ = stream.try_write(REQUEST_TIMEOUT);
                    shared.hub.client_error(id, wire::CLIENT_ERROR_TIMEOUT);
                    finish(&stream, Ending::Rejected, false, None).await;
                    drop(stream);
                    drop(guard);
                    return;
                }
            };
            let stream = Arc::new(stream);
            // The head scanner and the flood guard read the bytes as they
            // arrive. Over TLS the head scanner reads the decrypted bytes
            // (tls/stream.rs); the flood guard watches plain connections
            // only.
            let io = Stream::Plain(if h2 {
                Socket::http2(prefix, stream.clone(), activity.clone())
            } else {
                Socket::http1(prefix, stream.clone(), activity.clone())
            });
            (stream, io, h2)
        }
        Some(tls) => {
            let stream = Arc::new(stream);
            let outbox = shared.hub.outbox();
            let opened = tls::handshake::open(
                tls,
                &stream,
                activity.clone(),
                id,
                &mut signals,
                outbox,
                &shared.tracker,
            );
            match Box::pin(opened).await {
                Opened::Ready { stream: io, h2 } => {
                    // The handshake's bytes are not a request head.
                    activity.exchange_began();
                    activity.set_busy(false);
                    (stream, io, h2)
                }
                Opened::Closed(ending) => {
                    let last_write = activity.last_write();
                    finish(&stream, ending, false, last_write).await;
                    drop(stream);
                    drop(guard);
                    return;
                }
            }
        }
    };
    let farewell = io.farewell();
    let state = Rc::new(ConnState::with_activity(
        id,
        h2,
        shared.tracker.clone(),
        activity,
    ));
    let io = TokioIo::new(io);
    let ending = if h2 {
        shared.tracker.inc(Gauge::H2Sessions);
        // Boxed: the HTTP/2 driver's future is the largest variant, and
        // every idle HTTP/1.1 connection would otherwise carry its size.
        let mut ending = Box::pin(drive_h2(&shared, io, &state, &mut signals)).await;
        if let Some(last_stream) = state.activity().flooded() {
            // The client gets the linger of a clean close to take the
            // GOAWAY: it has not been reading. Over TLS the GOAWAY went
            // into the TLS layer's last words, with its close_notify.
            match &farewell {
                None => flood::goaway(&stream, last_stream).await,
                Some(farewell) => flood::send_patiently(&stream, &farewell.take()).await,
            }
            ending = Ending::Clean;
        }
        shared.tracker.dec(Gauge::H2Sessions);
        ending
    } else {
        match drive_h1(&shared, io, &state, &stream, &mut signals).await {
            H1End::Closed(ending) => ending,
            // hyper's connection is dropped by now: had it failed after
            // queueing the 101, it would otherwise keep the upgrade, and
            // the tunnel would wait for a socket that never comes.
            H1End::Upgraded(id) => hold_tunnel(&shared, &state, id, &mut signals).await,
        }
    };
    state.release();
    if let (Some(farewell), false) = (farewell, ending == Ending::Reset) {
        // TLS: the close_notify hyper did not send (DESIGN §8).
        farewell.send(&stream);
    }
    let fin_sent = state.activity().fin_sent();
    let last_write = state.activity().last_write();
    // hyper has dropped its handle by now: this is the last reference, and
    // dropping it closes the descriptor before the connection stops counting.
    finish(&stream, ending, fin_sent, last_write).await;
    drop(stream);
    drop(guard);
}

/// How an HTTP/1.1 connection's hyper side ended.
enum H1End {
    /// The connection is over; let the socket go this way.
    Closed(Ending),
    /// Exchange `id` switched protocols; its tunnel now holds the socket.
    Upgraded(u32),
}

/// Where an HTTP/1.1 connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H1Phase {
    /// Serving requests; while idle, the keep-alive timer runs.
    Serving,
    /// Closing began while a request head was (or may be) on its way: wait
    /// for it to become a request, which is then served with `Connection:
    /// close` (C3). hyper's header read timeout still bounds the wait (C7).
    AwaitingHead,
    /// hyper finishes the exchange in flight, if any, and ends the
    /// connection; with `close_at`, we end it ourselves then (a 408 was
    /// answered and hyper would wait for the rest of the body).
    Draining {
        /// When to close regardless of hyper.
        close_at: Option<Instant>,
    },
}

/// How many looks `headersTimeout` is split into (see [`HeadWatch`]).
const HEAD_LOOKS: u32 = 4;

/// `headersTimeout` for HTTP/1.1, kept without a timer per request: the
/// connection task looks every `headersTimeout / HEAD_LOOKS`, and a request
/// head that is still unfinished at `HEAD_LOOKS + 1` looks in a row (same
/// head: no exchange began in between) has taken at least `headersTimeout`,
/// and less than a look more. Node itself checks on an interval
/// (`connectionsCheckingInterval`), so its cut-off is late by up to that.
/// hyper's own header-read timer costs an allocation, a clock read and a
/// timer-wheel insert and removal on every request.
struct HeadWatch {
    /// Time between looks.
    every: Duration,
    /// When the next look is due.
    next: Instant,
    /// The exchange count when the unfinished head was first seen, and how
    /// many looks in a row saw it.
    seen: Option<(u64, u32)>,
}

impl HeadWatch {
    fn new(limit: Option<Duration>) -> Option<HeadWatch> {
        let every = limit? / HEAD_LOOKS;
        Some(HeadWatch {
            every,
            next: Instant::now() + every,
            seen: None,
        })
    }

    /// One look; true when the head in progress has run out of time.
    fn look(&mut self, state: &ConnState) -> bool {
        let begun = state.begun();
        // Before the first exchange, the bytes read to tell the protocols
        // apart are the start of a head.
        let started = state.is_idle() && (begun == 0 || state.activity().head_started());
        self.seen = match self.seen {
            _ if !started => None,
            Some((b, n)) if b == begun => Some((b, n + 1)),
            _ => Some((begun, 1)),
        };
        self.next += self.every;
        matches!(self.seen, Some((_, n)) if n > HEAD_LOOKS)
    }
}

/// What woke an HTTP/1.1 connection task, other than hyper and its timers.
enum H1Event {
    /// Close every connection now (C9, C10).
    Force,
    /// Close idle connections now (C10).
    Idle,
    /// The server started closing (C3, C4).
    Closing,
    /// An exchange began or ended (while awaiting a head, C3).
    Changed,
    /// A request deadline was set: arm its timer.
    DeadlineSet,
}

/// Sleeps until `at`; never resolves when there is no `at`. For a
/// `select!` branch whose timer may not be armed.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn drive_h1(
    shared: &Shared,
    io: TokioIo<Stream>,
    state: &Rc<ConnState>,
    stream: &TcpStream,
    signals: &mut Signals,
) -> H1End {
    let hub = shared.hub.clone();
    let st = state.clone();
    let svc = service_fn(move |req| hub.serve(st.clone(), req));
    let conn = shared.h1.serve_connection(io, svc).with_upgrades();
    tokio::pin!(conn);
    let keep_alive = shared.config.keep_alive_timeout;
    let mut idle_deadline = keep_alive.map(|k| Instant::now() + k);
    let mut heads = HeadWatch::new(shared.config.headers_timeout);
    let mut phase = H1Phase::Serving;
    loop {
        let head_look = heads.as_ref().map(|w| w.next);
        let request_deadline = state.request_deadline();
        let close_at = match phase {
            H1Phase::Draining { close_at } => close_at,
            _ => None,
        };
        let serving = phase == H1Phase::Serving;
        let draining = matches!(phase, H1Phase::Draining { .. });
        tokio::select! {
            biased;
            r = conn.as_mut() => {
                if let Some(kind) = r.as_ref().err().and_then(wire::client_error_kind) {
                    shared.hub.client_error(state.id, kind);
                }
                // After a 101, hyper hands the socket to the tunnel and ends.
                return match state.tunnel() {
                    Some((id, TunnelState::Open)) => H1End::Upgraded(id),
                    // hyper answered bad input (400, 431): a short drain,
                    // not a linger (C6).
                    _ if r.as_ref().is_err_and(|e| e.is_parse()) => H1End::Closed(Ending::Rejected),
                    // hyper timed the head out and says nothing; Node
                    // answers 408 (unless a response is on its way, which
                    // the answer would corrupt). A few bytes into an
                    // empty socket buffer: a try, never a wait.
                    _ if r.as_ref().is_err_and(|e| e.is_timeout()) => {
                        if state.is_idle() {
                            let _ = stream.try_write(REQUEST_TIMEOUT);
                        }
                        H1End::Closed(Ending::Rejected)
                    }
                    _ => H1End::Closed(Ending::Clean),
                };
            }
            // The rare events, behind one gate: polled only when one of
            // them woke the task, not at every wake hyper causes.
            event = gate(async {
                tokio::select! {
                    biased;
                    _ = signals.force.changed() => H1Event::Force,
                    _ = signals.idle.changed(), if !draining => H1Event::Idle,
                    _ = signals.closing.wait_for(|c| *c), if serving => H1Event::Closing,
                    _ = state.changed(), if phase == H1Phase::AwaitingHead => H1Event::Changed,
                    // Arm the request timer below when a deadline was set.
                    _ = state.deadline_set() => H1Event::DeadlineSet,
                }
            }) => match event {
                H1Event::Force => {
                    // A whole body hyper took counts as mid-response until
                    // it is written: its exchange ended when hyper took it.
                    let busy = !state.is_idle() || state.activity().write_waiting();
                    shared.hub.abort_all(state);
                    return H1End::Closed(if busy { Ending::Reset } else { Ending::Clean });
                }
                H1Event::Idle => {
                    if state.is_idle() && !state.activity().head_started() && !bytes_waiting(stream) {
                        return H1End::Closed(Ending::Clean);
                    }
                }
                H1Event::Closing => {
                    if state.is_idle() && (state.activity().head_started() || bytes_waiting(stream)) {
                        phase = H1Phase::AwaitingHead;
                    } else {
                        phase = H1Phase::Draining { close_at: None };
                        conn.as_mut().graceful_shutdown();
                    }
                }
                H1Event::Changed => {
                    if !state.is_idle() {
                        phase = H1Phase::Draining { close_at: None };
                        conn.as_mut().graceful_shutdown();
                    }
                }
                H1Event::DeadlineSet => {}
            },
            _ = sleep_until_some(close_at) => {
                return H1End::Closed(Ending::Clean);
            }
            _ = sleep_until_some(request_deadline.map(|d| d.0)) => {
                state.clear_request_deadline();
                let Some((_, id)) = request_deadline else { continue };
                match shared.hub.request_timed_out(id) {
                    TimedOut::NotPending => {}
                    // Answered 408. hyper would wait for the rest of the
                    // body before closing; give it a moment to write the
                    // answer, then close ourselves.
                    TimedOut::Answered => {
                        phase = H1Phase::Draining { close_at: Some(Instant::now() + FLUSH_GRACE) };
                    }
                    TimedOut::Cut => return H1End::Closed(Ending::Reset),
                }
            }
            // One timer for the keep-alive and `headersTimeout` looks: each
            // armed timer is polled at every wake of this task.
            _ = sleep_until_some(earliest(idle_deadline.filter(|_| serving), head_look)) => {
                let now = Instant::now();
                // `headersTimeout`, in every phase (C7). Node answers 408
                // (unless a response is on its way, which the answer would
                // corrupt): a few bytes into an empty socket buffer, a try,
                // never a wait; JS hears 'clientError'.
                if let Some(w) = heads.as_mut().filter(|w| w.next <= now) {
                    if w.look(state) {
                        if state.is_idle() {
                            let _ = stream.try_write(REQUEST_TIMEOUT);
                        }
                        shared.hub.client_error(state.id, wire::CLIENT_ERROR_TIMEOUT);
                        return H1End::Closed(Ending::Rejected);
                    }
                }
                let (Some(k), true) = (keep_alive, serving && idle_deadline.is_some_and(|d| d <= now)) else {
                    continue;
                };
                let activity = state.activity();
                let due = activity.last() + k;
                if !state.is_idle() || activity.head_started() {
                    idle_deadline = Some(now + k);
                } else if due <= now {
                    if bytes_waiting(stream) {
                        idle_deadline = Some(now + k);
                    } else {
                        phase = H1Phase::Draining { close_at: None };
                        conn.as_mut().graceful_shutdown();
                    }
                } else {
                    idle_deadline = Some(due);
                }
            }
        }
    }
}

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An upgraded connection stays until its tunnel ends; closing and
/// `closeAllConnections()` leave it alone (Node's semantics), the shutdown
/// deadline ends it (DESIGN C11).
async fn hold_tunnel(
    shared: &Shared,
    state: &Rc<ConnState>,
    id: u32,
    signals: &mut Signals,
) -> Ending {
    loop {
        match state.tunnel() {
            Some((_, TunnelState::Closed)) => return Ending::Clean,
            Some((_, TunnelState::Failed)) | None => return Ending::Reset,
            Some((_, TunnelState::Open)) => {}
        }
        tokio::select! {
            _ = state.changed() => {}
            _ = signals.kill.changed() => {
                shared.hub.abort(id, true);
                return Ending::Reset;
            }
        }
    }
}

/// Where an HTTP/2 session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H2Phase {
    /// Serving streams.
    Serving,
    /// The first GOAWAY and its PING are out; hyper sends the final GOAWAY
    /// when the client acknowledges the PING. Past `grace`, we stop waiting
    /// for the client (C5; hyperium/hyper#4170).
    GoingAway {
        /// When to stop waiting for the PING's acknowledgement (or a
        /// handshake that never finished).
        grace: Instant,
    },
    /// We stopped waiting for the client: new streams are refused, and the
    /// session ends once its last stream has.
    EndWhenIdle,
    /// Ending: hyper gets until `at` to put its last frames (responses,
    /// RST_STREAM, GOAWAY) on the wire, then the connection is dropped.
    Stopping {
        /// When the connection is dropped.
        at: Instant,
    },
}

async fn drive_h2(
    shared: &Shared,
    io: TokioIo<Stream>,
    state: &Rc<ConnState>,
    signals: &mut Signals,
) -> Ending {
    let hub = shared.hub.clone();
    let st = state.clone();
    let svc = service_fn(move |req| hub.serve(st.clone(), req));
    let conn = shared.h2.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut phase = H2Phase::Serving;
    loop {
        let (grace, stop_at) = match phase {
            H2Phase::GoingAway { grace } => (Some(grace), None),
            H2Phase::Stopping { at } => (None, Some(at)),
            H2Phase::Serving | H2Phase::EndWhenIdle => (None, None),
        };
        let serving = phase == H2Phase::Serving;
        tokio::select! {
            biased;
            // An error here is a protocol error of the client's (hyper sent
            // GOAWAY with its code) or a failed socket.
            r = conn.as_mut() => return if r.is_err() { Ending::Rejected } else { Ending::Clean },
            _ = signals.force.changed(), if stop_at.is_none() => {
                // RST_STREAM(CANCEL) for every open stream, GOAWAY, and a
                // moment for hyper to write them (C9).
                shared.hub.abort_all(state);
                if serving {
                    conn.as_mut().graceful_shutdown();
                }
                phase = H2Phase::Stopping { at: Instant::now() + FLUSH_GRACE };
            }
            _ = sleep_until_some(stop_at) => {
                return Ending::Clean;
            }
            _ = signals.idle.changed(), if serving => {
                if state.is_idle() {
                    conn.as_mut().graceful_shutdown();
                    phase = H2Phase::GoingAway { grace: Instant::now() + H2_GRACE };
                }
            }
            _ = signals.closing.wait_for(|c| *c), if serving => {
                conn.as_mut().graceful_shutdown();
                phase = H2Phase::GoingAway { grace: Instant::now() + H2_GRACE };
            }
            _ = sleep_until_some(grace) => {
                state.refuse_new();
                phase = if state.is_idle() {
                    H2Phase::Stopping { at: Instant::now() + FLUSH_GRACE }
                } else {
                    H2Phase::EndWhenIdle
                };
            }
            _ = state.changed(), if phase == H2Phase::EndWhenIdle => {
                if state.is_idle() {
                    // The last response is handed to hyper; give it a moment
                    // to reach the socket.
                    phase = H2Phase::Stopping { at: Instant::now() + FLUSH_GRACE };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::config::Config;
    use crate::core::testing::{local, read_to_eof, read_until, Rig};
    use std::time::Duration;

    /// `headersTimeout` is kept by the connection task, not by a hyper
    /// timer armed per request (measured: ~0.2 µs per request). A head left
    /// unfinished is cut off after the limit and within a look more, on a
    /// new connection and after a first exchange alike; a finished request
    /// never reaches the limit, however long the connection stays.
    #[tokio::test(flavor = "current_thread")]
    async fn an_unfinished_head_is_cut_off_after_headers_timeout() {
        local(async {
            let limit = Duration::from_millis(200);
            let config = Config {
                headers_timeout: Some(limit),
                keep_alive_timeout: Some(Duration::from_secs(30)),
                ..Config::default()
            };
            let mut rig = Rig::new(config).await;
            for served_first in [false, true] {
                let (mut client, task) = rig.connect().await;
                tokio::task::spawn_local(task);
                if served_first {
                    client
                        .try_write(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
                        .unwrap();
                    let id = rig.next_request().await;
                    rig.respond(id, b"one");
                    read_until(&mut client, "one").await;
                    // Idle for longer than the limit: not a head.
                    tokio::time::sleep(limit * 2).await;
                }
                let t0 = tokio::time::Instant::now();
                client.try_write(b"GET /2 HTTP/1.1\r\nHost").unwrap();
                let rest = read_to_eof(&mut client).await;
                let after = t0.elapsed();
                // Answered 408, as Node does, then closed.
                assert!(rest.starts_with("HTTP/1.1 408 "), "{rest}");
                assert!(
                    after >= limit && after < limit * 10,
                    "cut off after {after:?} (served first: {served_first})"
                );
            }
        })
        .await;
    }

    /// DESIGN C3: a request that sits in the kernel buffer of an idle
    /// keep-alive connection when closing starts is served, not dropped.
    /// The request is written and closing signalled with no await in
    /// between, so the connection task sees "closing" before the runtime has
    /// even noticed the socket is readable.
    #[tokio::test(flavor = "current_thread")]
    async fn request_in_the_kernel_buffer_at_close_is_served_with_connection_close() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let (mut client, task) = rig.connect().await;
            // Every connection task is allocated at this size and kept
            // for the connection's life: idle keep-alive connections
            // cost it each (the HTTP/2 driver is boxed, the linger
            // buffer lives on the stack, for this reason).
            assert!(
                std::mem::size_of_val(&task) <= 2560,
                "connection task grew to {} bytes",
                std::mem::size_of_val(&task)
            );
            let task = tokio::task::spawn_local(task);

            client
                .try_write(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let id = rig.next_request().await;
            rig.respond(id, b"one");
            let first = read_until(&mut client, "one").await;
            assert!(
                !first.to_ascii_lowercase().contains("connection: close"),
                "{first}"
            );
            // Let the connection settle into hyper's idle keep-alive state.
            tokio::time::sleep(Duration::from_millis(20)).await;

            client
                .try_write(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            rig.closing.send(true).unwrap();

            let id = rig.next_request().await;
            rig.respond(id, b"two");
            let second = read_until(&mut client, "two").await;
            assert!(
                second.to_ascii_lowercase().contains("connection: close"),
                "{second}"
            );
            drop(client);
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(rig.tracker.open(), 0);
        })
        .await;
    }
}
