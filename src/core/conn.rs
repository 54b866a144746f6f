//! One connection's task: tell HTTP/2 from HTTP/1.1 by the first bytes, serve
//! it with hyper, keep the keep-alive timer, and shut down gracefully when the
//! server starts closing.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::{sleep_until, Instant};

use crate::core::config::Config;
use crate::core::ending::{finish, Ending};
use crate::core::exchange::{Hub, TimedOut};
use crate::core::io::Socket;
use crate::core::tls::handshake::Opened;
use crate::core::tls::{self, Stream};
use crate::core::tracker::{ConnGuard, Gauge, Tracker};

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Per-connection state shared by the connection task and its exchanges.
pub struct ConnState {
    /// Connection id, as JS knows it.
    pub id: u32,
    /// Whether the connection speaks HTTP/2.
    pub h2: bool,
    tracker: Arc<Tracker>,
    /// Exchanges whose response is still open.
    open: RefCell<Vec<u32>>,
    /// What the socket wrapper records as bytes arrive.
    activity: Arc<Activity>,
    /// Once set, new HTTP/2 streams are refused (a closing session whose
    /// client never acknowledged our PING, DESIGN C5).
    refuse_new: Cell<bool>,
    /// The exchange that switched protocols, and whether its tunnel is
    /// still open (DESIGN C11).
    tunnel: Cell<Option<(u32, TunnelState)>>,
    /// When the request body of this exchange must have arrived
    /// (`requestTimeout`, HTTP/1.1).
    request_deadline: Cell<Option<(Instant, u32)>>,
    /// Woken when an exchange begins or ends, or the tunnel closes.
    changed: Notify,
    /// Woken when a request deadline is set, so the HTTP/1.1 loop arms its
    /// timer; kept apart from `changed` so an ordinary request does not
    /// wake the connection task twice more.
    deadline_set: Notify,
}

impl ConnState {
    /// A fresh connection state.
    pub fn new(id: u32, h2: bool, tracker: Arc<Tracker>) -> Self {
        ConnState {
            id,
            h2,
            tracker,
            open: RefCell::new(Vec::new()),
            activity: Arc::new(Activity::new()),
            refuse_new: Cell::new(false),
            request_deadline: Cell::new(None),
            tunnel: Cell::new(None),
            changed: Notify::new(),
            deadline_set: Notify::new(),
        }
    }

    /// Exchange `id` started.
    pub fn begin(&self, id: u32) {
        let mut open = self.open.borrow_mut();
        if self.h2 {
            self.tracker.inc(Gauge::H2Streams);
        } else if open.is_empty() {
            self.tracker.inc(Gauge::H1Busy);
        }
        open.push(id);
        self.activity.busy.store(true, Ordering::Relaxed);
        self.activity.head_started.store(false, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// Exchange `id`'s response ended (or it was aborted).
    pub fn end(&self, id: u32) {
        let mut open = self.open.borrow_mut();
        let Some(at) = open.iter().position(|&x| x == id) else {
            return;
        };
        open.swap_remove(at);
        self.activity
            .busy
            .store(!open.is_empty(), Ordering::Relaxed);
        if self.h2 {
            self.tracker.dec(Gauge::H2Streams);
        } else if open.is_empty() {
            self.tracker.dec(Gauge::H1Busy);
        }
        drop(open);
        self.touch();
        self.changed.notify_one();
    }

    /// Something happened on the connection.
    pub fn touch(&self) {
        self.activity.touch();
    }

    /// The activity record the socket wrapper updates.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// No exchange is open.
    pub fn is_idle(&self) -> bool {
        self.open.borrow().is_empty()
    }

    /// Exchange `id` is switching protocols; the connection now counts as
    /// upgraded until its tunnel closes.
    pub fn tunnel_opened(&self, id: u32) {
        self.tunnel.set(Some((id, TunnelState::Open)));
        self.tracker.inc(Gauge::Upgraded);
    }

    /// The tunnel ended; `clean` if both sides closed in order.
    pub fn tunnel_closed(&self, clean: bool) {
        if let Some((id, TunnelState::Open)) = self.tunnel.get() {
            let state = if clean {
                TunnelState::Closed
            } else {
                TunnelState::Failed
            };
            self.tunnel.set(Some((id, state)));
            self.tracker.dec(Gauge::Upgraded);
            self.changed.notify_one();
        }
    }

    /// Exchange `id` must have received its whole body by `at`.
    pub fn set_request_deadline(&self, id: u32, at: Instant) {
        self.request_deadline.set(Some((at, id)));
        self.deadline_set.notify_one();
    }

    /// Whether new HTTP/2 streams are refused.
    pub fn refuses_new(&self) -> bool {
        self.refuse_new.get()
    }

    /// Ids of the exchanges whose response is still open.
    pub fn open_exchanges(&self) -> Vec<u32> {
        self.open.borrow().clone()
    }

    fn release(&self) {
        // Anything still counted here is being dropped with the connection.
        let open = std::mem::take(&mut *self.open.borrow_mut());
        if self.h2 {
            for _ in &open {
                self.tracker.dec(Gauge::H2Streams);
            }
        } else if !open.is_empty() {
            self.tracker.dec(Gauge::H1Busy);
        }
    }
}

/// What the socket wrapper records as bytes arrive. Shared with the socket,
/// which hyper requires to be `Send` for upgrades; only the I/O thread
/// touches it, so relaxed atomics cost next to nothing.
pub struct Activity {
    epoch: Instant,
    /// Microseconds since `epoch` of the last activity.
    last: AtomicU64,
    /// Bytes arrived while no exchange was open: a request head may be
    /// half-read (HTTP/1.1).
    head_started: AtomicBool,
    /// An exchange is open.
    busy: AtomicBool,
    /// Our side's FIN is sent (hyper shut the write side down).
    write_shut: AtomicBool,
    /// Microseconds since `epoch` of our last write, plus one; 0: none yet.
    last_write: AtomicU64,
}

impl Activity {
    /// A connection with no activity yet.
    pub(crate) fn new() -> Self {
        Activity {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
            head_started: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            write_shut: AtomicBool::new(false),
            last_write: AtomicU64::new(0),
        }
    }

    /// We wrote bytes to the peer (a clean close lets the peer's reply to
    /// them arrive before it closes, DESIGN C6).
    pub fn wrote(&self) {
        let us = self.epoch.elapsed().as_micros() as u64;
        self.last_write.store(us + 1, Ordering::Relaxed);
    }

    /// When we last wrote bytes to the peer, if ever.
    fn last_write(&self) -> Option<Instant> {
        match self.last_write.load(Ordering::Relaxed) {
            0 => None,
            us => Some(self.epoch + Duration::from_micros(us - 1)),
        }
    }

    /// Our side's FIN is sent.
    pub fn wrote_fin(&self) {
        self.write_shut.store(true, Ordering::Relaxed);
    }

    fn touch(&self) {
        let us = self.epoch.elapsed().as_micros() as u64;
        self.last.store(us, Ordering::Relaxed);
    }

    /// Bytes arrived from the peer. No clock is read here (this runs on
    /// every read): the keep-alive timer consults `last` only while no
    /// exchange is open and no head has started, and bytes arriving then
    /// set `head_started`, which re-arms the timer by itself.
    pub fn received(&self) {
        if !self.busy.load(Ordering::Relaxed) {
            self.head_started.store(true, Ordering::Relaxed);
        }
    }

    fn last(&self) -> Instant {
        self.epoch + Duration::from_micros(self.last.load(Ordering::Relaxed))
    }

    fn head_started(&self) -> bool {
        self.head_started.load(Ordering::Relaxed)
    }
}

/// Where an upgraded connection's tunnel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelState {
    /// Bytes flow between the socket and JS.
    Open,
    /// Both sides closed in order.
    Closed,
    /// It failed or was aborted.
    Failed,
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
    /// The server's connection count and gauges.
    pub tracker: Arc<Tracker>,
    h1: http1::Builder,
    h2: http2::Builder<LocalExec>,
}

impl Shared {
    /// Builds the protocol builders once per server.
    pub fn new(hub: Rc<Hub>, config: Config, tracker: Arc<Tracker>) -> Self {
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

/// Whether the peer has sent bytes nobody has read yet.
fn bytes_waiting(stream: &TcpStream) -> bool {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    matches!(socket2::SockRef::from(stream).peek(&mut probe), Ok(n) if n > 0)
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
            };
            let stream = Arc::new(stream);
            let io = Stream::Plain(Socket::new(prefix, stream.clone(), activity.clone()));
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
                    activity.head_started.store(false, Ordering::Relaxed);
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
    let mut state = ConnState::new(id, h2, shared.tracker.clone());
    state.activity = activity;
    let state = Rc::new(state);
    let io = TokioIo::new(io);
    let ending = if h2 {
        shared.tracker.inc(Gauge::H2Sessions);
        // Boxed: the HTTP/2 driver's future is the largest variant, and
        // every idle HTTP/1.1 connection would otherwise carry its size.
        let ending = Box::pin(drive_h2(&shared, io, &state, &mut signals)).await;
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
    let fin_sent = state.activity.write_shut.load(Ordering::Relaxed);
    let last_write = state.activity.last_write();
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
    // Closing while a request head is (or may be) on its way: wait for it to
    // become a request, which is then served with `Connection: close` (C3).
    // hyper's header read timeout still bounds the wait (C7).
    let mut awaiting_head = false;
    let mut draining = false;
    let mut close_at: Option<Instant> = None;
    loop {
        let request_deadline = state.request_deadline.get();
        tokio::select! {
            biased;
            r = conn.as_mut() => {
                // After a 101, hyper hands the socket to the tunnel and ends.
                return match state.tunnel.get() {
                    Some((id, TunnelState::Open)) => H1End::Upgraded(id),
                    // hyper answered bad input (400, 431) or timed the
                    // head out (408): a short drain, not a linger (C6).
                    _ if r.as_ref().is_err_and(|e| e.is_parse() || e.is_timeout()) => {
                        H1End::Closed(Ending::Rejected)
                    }
                    _ => H1End::Closed(Ending::Clean),
                };
            }
            _ = signals.force.changed() => {
                let busy = !state.is_idle();
                shared.hub.abort_all(state);
                return H1End::Closed(if busy { Ending::Reset } else { Ending::Clean });
            }
            _ = signals.idle.changed(), if !draining => {
                if state.is_idle() && !state.activity.head_started() && !bytes_waiting(stream) {
                    return H1End::Closed(Ending::Clean);
                }
            }
            _ = signals.closing.wait_for(|c| *c), if !draining && !awaiting_head => {
                if state.is_idle() && (state.activity.head_started() || bytes_waiting(stream)) {
                    awaiting_head = true;
                } else {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = state.changed.notified(), if awaiting_head => {
                if !state.is_idle() {
                    awaiting_head = false;
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = sleep_until(close_at.unwrap_or_else(Instant::now)), if close_at.is_some() => {
                return H1End::Closed(Ending::Clean);
            }
            // Arm the request timer below when a deadline was set.
            _ = state.deadline_set.notified() => {}
            _ = sleep_until(request_deadline.map_or_else(Instant::now, |d| d.0)), if request_deadline.is_some() => {
                state.request_deadline.set(None);
                let Some((_, id)) = request_deadline else { continue };
                match shared.hub.request_timed_out(id) {
                    TimedOut::NotPending => {}
                    // Answered 408. hyper would wait for the rest of the
                    // body before closing; give it a moment to write the
                    // answer, then close ourselves.
                    TimedOut::Answered => {
                        draining = true;
                        close_at = Some(Instant::now() + FLUSH_GRACE);
                    }
                    TimedOut::Cut => return H1End::Closed(Ending::Reset),
                }
            }
            _ = sleep_until(idle_deadline.unwrap_or_else(Instant::now)), if idle_deadline.is_some() && !draining && !awaiting_head => {
                let Some(k) = keep_alive else { continue };
                let now = Instant::now();
                let due = state.activity.last() + k;
                if !state.is_idle() || state.activity.head_started() {
                    idle_deadline = Some(now + k);
                } else if due <= now {
                    if bytes_waiting(stream) {
                        idle_deadline = Some(now + k);
                    } else {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                } else {
                    idle_deadline = Some(due);
                }
            }
        }
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
        match state.tunnel.get() {
            Some((_, TunnelState::Closed)) => return Ending::Clean,
            Some((_, TunnelState::Failed)) | None => return Ending::Reset,
            Some((_, TunnelState::Open)) => {}
        }
        tokio::select! {
            _ = state.changed.notified() => {}
            _ = signals.kill.changed() => {
                shared.hub.abort(id, true);
                return Ending::Reset;
            }
        }
    }
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
    let mut going_away = false;
    // Set when the session stops waiting for its client (PING not
    // acknowledged, handshake unfinished); then it ends once idle.
    let mut grace: Option<Instant> = None;
    let mut end_when_idle = false;
    let mut hard_stop: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            // An error here is a protocol error of the client's (hyper sent
            // GOAWAY with its code) or a failed socket.
            r = conn.as_mut() => return if r.is_err() { Ending::Rejected } else { Ending::Clean },
            _ = signals.force.changed(), if hard_stop.is_none() => {
                // RST_STREAM(CANCEL) for every open stream, GOAWAY, and a
                // moment for hyper to write them (C9).
                shared.hub.abort_all(state);
                if !going_away {
                    going_away = true;
                    conn.as_mut().graceful_shutdown();
                }
                hard_stop = Some(Instant::now() + FLUSH_GRACE);
            }
            _ = sleep_until(hard_stop.unwrap_or_else(Instant::now)), if hard_stop.is_some() => {
                return Ending::Clean;
            }
            _ = signals.idle.changed(), if !going_away => {
                if state.is_idle() {
                    going_away = true;
                    conn.as_mut().graceful_shutdown();
                    grace = Some(Instant::now() + H2_GRACE);
                }
            }
            _ = signals.closing.wait_for(|c| *c), if !going_away => {
                going_away = true;
                conn.as_mut().graceful_shutdown();
                grace = Some(Instant::now() + H2_GRACE);
            }
            _ = sleep_until(grace.unwrap_or_else(Instant::now)), if grace.is_some() => {
                grace = None;
                state.refuse_new.set(true);
                end_when_idle = true;
                if state.is_idle() {
                    hard_stop = Some(Instant::now() + FLUSH_GRACE);
                }
            }
            _ = state.changed.notified(), if end_when_idle && hard_stop.is_none() => {
                if state.is_idle() {
                    // The last response is handed to hyper; give it a moment
                    // to reach the socket.
                    hard_stop = Some(Instant::now() + FLUSH_GRACE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dispatch::{Outbox, Quiet};
    use crate::core::wire::{self, Op};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// Waits for the next EV_REQUEST and returns its exchange id.
    async fn next_request(out: &Outbox) -> u32 {
        for _ in 0..2000 {
            let events = out.take();
            if let Some(at) = events.iter().position(|&b| b == wire::EV_REQUEST) {
                let id = &events[at + 1..at + 5];
                return u32::from_le_bytes([id[0], id[1], id[2], id[3]]);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("no request reached the hub");
    }

    fn respond(hub: &Rc<Hub>, id: u32, body: &'static [u8]) {
        hub.apply(vec![
            Op::Head {
                id,
                status: 200,
                reason: None,
                headers: vec![],
                end: false,
            },
            Op::Data {
                id,
                chunk: Bytes::from_static(body),
                end: true,
                want_drain: false,
            },
        ]);
    }

    async fn read_until(client: &mut TcpStream, needle: &str) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(needle) {
            let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
                .await
                .expect("response in time")
                .expect("read");
            assert!(
                n > 0,
                "EOF before {needle:?}: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    /// DESIGN C3: a request that sits in the kernel buffer of an idle
    /// keep-alive connection when closing starts is served, not dropped.
    /// The request is written and closing signalled with no await in
    /// between, so the connection task sees "closing" before the runtime has
    /// even noticed the socket is readable.
    #[tokio::test(flavor = "current_thread")]
    async fn request_in_the_kernel_buffer_at_close_is_served_with_connection_close() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let out = Arc::new(Outbox::new(Arc::new(Quiet)));
                let hub = Hub::new(out.clone());
                let tracker = Arc::new(Tracker::default());
                let shared = Rc::new(Shared::new(hub.clone(), Config::default(), tracker.clone()));
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let mut client = TcpStream::connect(listener.local_addr().unwrap())
                    .await
                    .unwrap();
                let (stream, _) = listener.accept().await.unwrap();
                let (closing_tx, closing) = watch::channel(false);
                let idle = watch::Sender::new(0u64);
                let force = watch::Sender::new(0u64);
                let signals = Signals {
                    closing,
                    idle: idle.subscribe(),
                    force: force.subscribe(),
                    kill: force.subscribe(),
                };
                let guard = tracker.track(1, out.clone());
                let task = serve(shared, stream, 1, signals, guard);
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
                let id = next_request(&out).await;
                respond(&hub, id, b"one");
                let first = read_until(&mut client, "one").await;
                assert!(!first.contains("connection: close"), "{first}");
                // Let the connection settle into hyper's idle keep-alive state.
                tokio::time::sleep(Duration::from_millis(20)).await;

                client
                    .try_write(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                closing_tx.send(true).unwrap();

                let id = next_request(&out).await;
                respond(&hub, id, b"two");
                let second = read_until(&mut client, "two").await;
                assert!(second.contains("connection: close"), "{second}");
                drop(client);
                tokio::time::timeout(Duration::from_secs(5), task)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(tracker.open(), 0);
            })
            .await;
    }
}
