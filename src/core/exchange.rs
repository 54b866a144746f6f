//! Exchanges: one request and its response, from the moment hyper hands us
//! the request until the response body is dropped.
//!
//! Lives on the I/O thread only (`Rc`, no locks). JS refers to an exchange by
//! its `u32` id; ops for an id that is gone are ignored, because the client
//! may vanish at any moment while JS is still writing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version};
use http_body::Body;
use hyper::body::Incoming;
use tokio::sync::{oneshot, Notify};

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::core::body::{Aborted, Pipe, ResBody};
use crate::core::conn::ConnState;
use crate::core::dispatch::Outbox;
use crate::core::tls::Stream;
use crate::core::tunnel::{self, Tunnel};
use crate::core::wire::{self, Op, Put};

/// How much request body the I/O thread may read ahead of JS per demand.
const READ_AHEAD: usize = 256 * 1024;

/// Request-body read-ahead credit, shared by an exchange and its reader task.
#[derive(Default)]
struct Credit {
    bytes: Cell<usize>,
    stop: Cell<bool>,
    notify: Notify,
}

enum ReqBody {
    /// No body, or it has been read to the end.
    Done,
    /// A body JS has not asked for yet.
    Idle(Incoming),
    /// A reader task is feeding JS.
    Reading(Rc<Credit>),
}

struct Exchange {
    respond: Option<oneshot::Sender<Response<ResBody>>>,
    pipe: Option<Rc<RefCell<Pipe>>>,
    body: ReqBody,
    conn: Rc<ConnState>,
    response_done: bool,
    /// The request asked to switch protocols; taken by a 101 response.
    upgrade: Option<OnUpgrade>,
    /// The connection switched protocols: this exchange is now its tunnel.
    tunnel: Option<Rc<Tunnel>>,
    /// HTTP/2: when the request body must have arrived (`requestTimeout`);
    /// HTTP/1.1 keeps its one timer in the connection task.
    deadline: Option<Deadline>,
}

/// The `requestTimeout` deadline of one HTTP/2 upload still arriving. It
/// counts itself among the hub's timed uploads while it lives, so the
/// sweeper sleeps when there are none.
struct Deadline {
    at: tokio::time::Instant,
    timed: Rc<Cell<usize>>,
}

impl Deadline {
    /// A deadline at `at`, counted among `timed` until it is dropped.
    fn new(at: tokio::time::Instant, timed: &Rc<Cell<usize>>) -> Self {
        timed.set(timed.get() + 1);
        Deadline {
            at,
            timed: timed.clone(),
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.timed.set(self.timed.get() - 1);
    }
}

/// How often the sweeper looks for HTTP/2 uploads past their deadline: one
/// task and a scan per period instead of a timer per upload (which cost 5%
/// of a small-upload benchmark). Node checks HTTP/1.1's every 30 s.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Hashes exchange ids. They are ours, sequential and never chosen by a
/// client, so one multiply spreads them well enough, where the default
/// SipHash (built to resist chosen keys) costs a few lookups' worth per
/// request.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// All live exchanges of one server.
pub struct Hub {
    outbox: Arc<Outbox>,
    exchanges: RefCell<HashMap<u32, Exchange, BuildHasherDefault<IdHasher>>>,
    next_id: Cell<u32>,
    request_timeout: Cell<Option<Duration>>,
    closing: Cell<bool>,
    /// HTTP/2 uploads with a live deadline.
    timed: Rc<Cell<usize>>,
    /// Wakes the sweeper when the first timed upload begins.
    sweep: Notify,
}

/// What became of an exchange whose `requestTimeout` ran out.
pub enum TimedOut {
    /// Its body had arrived, or it is gone: nothing to do.
    NotPending,
    /// It was answered `408 Request Timeout`; JS heard an abort.
    Answered,
    /// Its response had started: the connection must be cut.
    Cut,
}

/// Tells the hub when a response body is dropped or drained.
pub struct ExchangeGuard {
    hub: Rc<Hub>,
    id: u32,
}

impl ExchangeGuard {
    /// hyper dropped the body; `clean` if it was delivered whole.
    pub fn response_closed(self, clean: bool) {
        self.hub.response_closed(self.id, clean);
    }

    /// The buffered body was taken after JS asked to hear of it.
    pub fn drained(&self) {
        let id = self.id;
        self.hub.outbox.push(|b| {
            b.put_u8(wire::EV_DRAIN);
            b.put_u32(id);
        });
    }
}

/// A `Content-Length` value. Small lengths come from a table built once,
/// whose values clone without allocating or counting references; hyper's
/// own would allocate for every response.
fn content_length(len: usize) -> HeaderValue {
    const CACHED: usize = 4096;
    static TABLE: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    if len >= CACHED {
        return HeaderValue::from(len);
    }
    let table = TABLE.get_or_init(|| {
        let mut digits = String::new();
        let mut ends = Vec::with_capacity(CACHED);
        for n in 0..CACHED {
            digits.push_str(&n.to_string());
            ends.push(digits.len());
        }
        // Kept for the life of the process, as the table is.
        let digits: &'static str = Box::leak(digits.into_boxed_str());
        let mut start = 0;
        ends.into_iter()
            .map(|end| {
                let v = HeaderValue::from_static(&digits[start..end]);
                start = end;
                v
            })
            .collect()
    });
    table[len].clone()
}

/// Puts a response's headers from JS into `map`, and the `Content-Length`
/// of a whole HTTP/2 body if JS set none.
fn fill_headers(
    map: &mut HeaderMap,
    headers: Vec<(Bytes, Bytes)>,
    h2: bool,
    length: Option<usize>,
) {
    // hyper then looks Content-Length up with `entry()`, which grows a full
    // map even when the name is there: leave it a free slot.
    map.reserve(headers.len() + if length.is_some() { 2 } else { 0 });
    for (name, value) in headers {
        // lib/ validated names and values with Node's rules; anything that
        // still fails here is skipped rather than sent broken.
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&name),
            HeaderValue::from_maybe_shared(value),
        ) else {
            continue;
        };
        if h2 && h2_forbidden(&name) {
            continue;
        }
        map.append(name, value);
    }
    if let Some(len) = length {
        if !map.contains_key(header::CONTENT_LENGTH) {
            map.insert(header::CONTENT_LENGTH, content_length(len));
        }
    }
}

/// Connection-specific headers that HTTP/2 forbids (RFC 9113 §8.2.2). Node's
/// compatibility API drops them with a warning; we drop them silently.
fn h2_forbidden(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

impl Hub {
    /// A hub whose events go to `outbox`.
    pub fn new(outbox: Arc<Outbox>) -> Rc<Hub> {
        Rc::new(Hub {
            outbox,
            exchanges: RefCell::new(HashMap::default()),
            next_id: Cell::new(1),
            request_timeout: Cell::new(None),
            closing: Cell::new(false),
            timed: Rc::new(Cell::new(0)),
            sweep: Notify::new(),
        })
    }
    /// Where event records for JS go (the TLS handshake reports there).
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Times out HTTP/2 uploads whose body has not arrived by their
    /// deadline (`requestTimeout`). Runs for the server's life on the I/O
    /// thread; asleep while no such upload is in flight.
    pub async fn sweep_deadlines(self: Rc<Self>) {
        loop {
            if self.timed.get() == 0 {
                self.sweep.notified().await;
                continue;
            }
            tokio::time::sleep(SWEEP_EVERY).await;
            let now = tokio::time::Instant::now();
            let due: Vec<u32> = self
                .exchanges
                .borrow()
                .iter()
                .filter(|(_, ex)| ex.deadline.as_ref().is_some_and(|d| d.at <= now))
                .map(|(&id, _)| id)
                .collect();
            for id in due {
                self.request_timed_out(id);
            }
        }
    }

    /// The server is closing: upgrade requests are refused from now on.
    pub fn set_closing(&self) {
        self.closing.set(true);
    }

    /// How long an HTTP/1.1 request may take to arrive whole (Node's
    /// `requestTimeout`), counted from its head.
    pub fn set_request_timeout(&self, limit: Option<Duration>) {
        self.request_timeout.set(limit);
    }

    /// `requestTimeout` ran out for exchange `id`.
    pub fn request_timed_out(self: &Rc<Self>, id: u32) -> TimedOut {
        let pending = {
            let map = self.exchanges.borrow();
            match map.get(&id) {
                Some(ex) if !matches!(ex.body, ReqBody::Done) => Some(ex.respond.is_some()),
                _ => None,
            }
        };
        match pending {
            None => TimedOut::NotPending,
            Some(true) => {
                // As Node does: 408, and the connection closes after it.
                self.respond(
                    id,
                    408,
                    None,
                    vec![(
                        Bytes::from_static(b"connection"),
                        Bytes::from_static(b"close"),
                    )],
                    Some(Bytes::new()),
                );
                self.abort(id, true);
                TimedOut::Answered
            }
            Some(false) => {
                self.abort(id, true);
                TimedOut::Cut
            }
        }
    }

    /// The number of exchanges whose response is still open.
    pub fn len(&self) -> usize {
        self.exchanges.borrow().len()
    }

    /// True when no exchange is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn alloc_id(&self) -> u32 {
        let map = self.exchanges.borrow();
        loop {
            let id = self.next_id.get();
            self.next_id.set(id.wrapping_add(1).max(1));
            if !map.contains_key(&id) {
                return id;
            }
        }
    }

    /// Serves one request: announces it to JS now and returns the future
    /// of its response head.
    ///
    /// The work is done here rather than in an `async fn`, so the future
    /// hyper keeps (and moves into the task it spawns per HTTP/2 stream) is
    /// a few words, not the whole request: moving that state around was a
    /// visible share of the I/O thread's time.
    pub fn serve(self: &Rc<Self>, conn: Rc<ConnState>, req: Request<Incoming>) -> Reply {
        if conn.refuses_new() {
            // Never reached JS, so the client may safely retry it.
            return Reply(ReplyState::Refused);
        }
        let mut req = req;
        // hyper attaches `OnUpgrade` only to HTTP/1.1 requests that ask to
        // switch protocols (`Connection: upgrade` with `Upgrade:`).
        let upgrade = if conn.h2 {
            None
        } else {
            req.extensions_mut().remove::<OnUpgrade>()
        };
        if upgrade.is_some() && self.closing.get() {
            // A closing server takes no new long-lived connections.
            return Reply(ReplyState::Ready(Box::new(self.refuse_upgrade())));
        }
        let id = self.alloc_id();
        let (tx, rx) = oneshot::channel();
        let (parts, incoming) = req.into_parts();
        let has_body = !incoming.is_end_stream();
        let flags = if has_body { wire::REQ_HAS_BODY } else { 0 }
            | if upgrade.is_some() {
                wire::REQ_UPGRADE
            } else {
                0
            };
        self.outbox
            .push(|b| encode_request(b, id, conn.id, &parts, flags));
        // The head's strings point into hyper's previous read buffer (8 KiB);
        // holding them until JS answers would pin that buffer for every
        // request in flight (a long poll, a slow handler).
        drop(parts);
        conn.begin(id);
        let mut deadline = None;
        if let (true, Some(limit)) = (has_body, self.request_timeout.get()) {
            let at = tokio::time::Instant::now() + limit;
            if conn.h2 {
                // Node has no requestTimeout for HTTP/2, but without one a
                // client that stalls mid-upload would hold close() forever
                // (DESIGN C7): the stream gets 408 (or is reset if its
                // response has started); the session goes on.
                if self.timed.get() == 0 {
                    self.sweep.notify_one();
                }
                deadline = Some(Deadline::new(at, &self.timed));
            } else {
                conn.set_request_deadline(id, at);
            }
        }
        let body = if has_body {
            ReqBody::Idle(incoming)
        } else {
            ReqBody::Done
        };
        self.exchanges.borrow_mut().insert(
            id,
            Exchange {
                respond: Some(tx),
                pipe: None,
                body,
                conn,
                response_done: false,
                upgrade,
                tunnel: None,
                deadline,
            },
        );
        // If hyper drops the reply while it waits (the client went away
        // before the response head), the reply reports the abort.
        Reply(ReplyState::Waiting(rx, self.clone(), id))
    }

    /// Applies a batch of ops from JS, in order.
    pub fn apply(self: &Rc<Self>, ops: Vec<Op>) {
        let mut ops = ops.into_iter().peekable();
        while let Some(op) = ops.next() {
            match op {
                Op::Head {
                    id,
                    status,
                    reason,
                    headers,
                    end,
                } => {
                    // `res.end(data)` before the head went out: the next op
                    // completes the body, so send it whole with a length.
                    let whole = match ops.peek() {
                        Some(Op::Data {
                            id: next,
                            end: true,
                            ..
                        }) if *next == id && !end => match ops.next() {
                            Some(Op::Data { chunk, .. }) => Some(chunk),
                            _ => None,
                        },
                        _ if end => Some(Bytes::new()),
                        _ => None,
                    };
                    self.respond(id, status, reason, headers, whole);
                }
                Op::Data {
                    id,
                    chunk,
                    end,
                    want_drain,
                } => {
                    let (pipe, tunnel) = match self.exchanges.borrow().get(&id) {
                        Some(e) => (e.pipe.clone(), e.tunnel.clone()),
                        None => (None, None),
                    };
                    if let Some(t) = tunnel {
                        t.push(chunk, end, want_drain);
                    } else if let Some(pipe) = pipe {
                        pipe.borrow_mut().push(chunk, end, want_drain);
                    }
                }
                Op::Demand { id } => self.demand(id),
                Op::Abort { id } => self.abort(id, false),
                Op::Close { id } => self.close_after_flush(id),
            }
        }
    }

    fn respond(
        self: &Rc<Self>,
        id: u32,
        status: u16,
        reason: Option<Bytes>,
        headers: Vec<(Bytes, Bytes)>,
        whole: Option<Bytes>,
    ) {
        let mut map = self.exchanges.borrow_mut();
        let Some(ex) = map.get_mut(&id) else { return };
        let Some(tx) = ex.respond.take() else { return };
        let h2 = ex.conn.h2;
        let guard = ExchangeGuard {
            hub: self.clone(),
            id,
        };
        let switching = status == 101 && ex.upgrade.is_some();
        if switching {
            if let Some(on_upgrade) = ex.upgrade.take() {
                let tunnel = Rc::new(Tunnel::default());
                ex.tunnel = Some(tunnel.clone());
                ex.conn.tunnel_opened(id);
                tokio::task::spawn_local(switch(
                    self.clone(),
                    id,
                    on_upgrade,
                    tunnel,
                    ex.conn.clone(),
                ));
            }
        }
        let whole = if switching { Some(Bytes::new()) } else { whole };
        // What hyper would add to an HTTP/2 response with a whole body
        // (HTTP/1.1 writes it straight into the head).
        let length = match &whole {
            Some(b) if h2 && !b.is_empty() => Some(b.len()),
            _ => None,
        };
        let body = match whole {
            Some(bytes) => ResBody::full(bytes, guard),
            None => {
                let pipe = Rc::new(RefCell::new(Pipe::default()));
                ex.pipe = Some(pipe.clone());
                ResBody::pipe(pipe, guard)
            }
        };
        drop(map);
        let mut res = Response::new(body);
        *res.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        fill_headers(res.headers_mut(), headers, h2, length);
        if let (false, Some(reason)) = (h2, reason) {
            if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(&reason[..]) {
                res.extensions_mut().insert(reason);
            }
        }
        // A closed receiver means hyper already dropped the request; its
        // Reply has reported the abort.
        let _ = tx.send(res);
    }

    fn demand(self: &Rc<Self>, id: u32) {
        let mut map = self.exchanges.borrow_mut();
        let Some(ex) = map.get_mut(&id) else { return };
        if let Some(t) = &ex.tunnel {
            t.demand();
            return;
        }
        match std::mem::replace(&mut ex.body, ReqBody::Done) {
            ReqBody::Idle(incoming) => {
                let credit = Rc::new(Credit::default());
                credit.bytes.set(READ_AHEAD);
                ex.body = ReqBody::Reading(credit.clone());
                tokio::task::spawn_local(read_body(self.clone(), id, incoming, credit));
            }
            ReqBody::Reading(credit) => {
                credit.bytes.set(READ_AHEAD);
                credit.notify.notify_one();
                ex.body = ReqBody::Reading(credit);
            }
            ReqBody::Done => {}
        }
    }

    /// JS destroyed an upgrade socket it had written to: what it wrote still
    /// goes out, then the connection ends. A tunnel flushes, half-closes
    /// and stops reading; a refusal's body ends (its head carries
    /// `Connection: close`, lib/upgrade.js). With nothing to flush, this is
    /// an abort.
    fn close_after_flush(&self, id: u32) {
        let (pipe, tunnel) = match self.exchanges.borrow().get(&id) {
            Some(e) => (e.pipe.clone(), e.tunnel.clone()),
            None => return,
        };
        if let Some(t) = tunnel {
            t.close();
        } else if let Some(pipe) = pipe {
            pipe.borrow_mut().push(Bytes::new(), true, false);
        } else {
            self.abort(id, false);
        }
    }

    /// Ends an exchange early: JS destroyed it, or the server is forcing.
    /// `notify_js` sends EV_ABORT (not needed when JS asked for it).
    pub fn abort(&self, id: u32, notify_js: bool) {
        let Some(ex) = self.exchanges.borrow_mut().remove(&id) else {
            return;
        };
        self.finish(id, ex, notify_js);
    }

    fn finish(&self, id: u32, ex: Exchange, notify_js: bool) {
        let Exchange {
            respond,
            pipe,
            body,
            conn,
            response_done,
            upgrade: _,
            tunnel,
            deadline: _,
        } = ex;
        if let Some(t) = tunnel {
            t.abort();
        }
        // Dropping the sender fails the service future: hyper closes the
        // HTTP/1.1 connection or resets the HTTP/2 stream.
        drop(respond);
        if let Some(p) = pipe {
            p.borrow_mut().abort();
        }
        if let ReqBody::Reading(credit) = body {
            credit.stop.set(true);
            credit.notify.notify_one();
        }
        if !response_done {
            conn.end(id);
        }
        if notify_js {
            self.outbox.push(|b| {
                b.put_u8(wire::EV_ABORT);
                b.put_u32(id);
            });
        }
    }

    fn response_closed(&self, id: u32, clean: bool) {
        let mut map = self.exchanges.borrow_mut();
        let Some(ex) = map.get_mut(&id) else { return };
        if !clean {
            let ex = map.remove(&id);
            drop(map);
            if let Some(ex) = ex {
                self.finish(id, ex, true);
            }
            return;
        }
        ex.response_done = true;
        ex.conn.end(id);
        if ex.tunnel.is_some() {
            // The 101 went out; the exchange lives on as the tunnel.
            return;
        }
        match &ex.body {
            // Still feeding a reader: let it finish without limits, as Node
            // keeps `req` readable after the response.
            ReqBody::Reading(credit) => {
                credit.bytes.set(usize::MAX);
                credit.notify.notify_one();
            }
            // JS never read the body: dropping it lets hyper discard the rest
            // and keep the connection reusable.
            ReqBody::Idle(_) | ReqBody::Done => {
                map.remove(&id);
            }
        }
    }

    fn reader_done(&self, id: u32) {
        let mut map = self.exchanges.borrow_mut();
        if let Some(ex) = map.get_mut(&id) {
            ex.body = ReqBody::Done;
            ex.deadline = None;
            if ex.response_done {
                map.remove(&id);
            }
        }
    }

    /// Cancels every exchange of one connection whose response is still
    /// open; JS hears EV_ABORT for each (a forced close, DESIGN C9/C10).
    pub fn abort_all(&self, conn: &ConnState) {
        for id in conn.open_exchanges() {
            self.abort(id, true);
        }
    }
}

impl Hub {
    fn refuse_upgrade(self: &Rc<Self>) -> Response<ResBody> {
        let guard = ExchangeGuard {
            hub: self.clone(),
            id: 0,
        };
        let mut res = Response::new(ResBody::full(Bytes::new(), guard));
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        res
    }

    /// The tunnel of exchange `id` ended; `clean` if both sides closed.
    fn tunnel_closed(&self, id: u32, clean: bool) {
        let gone = self.exchanges.borrow_mut().remove(&id);
        if gone.is_some() && !clean {
            self.outbox.push(|b| {
                b.put_u8(wire::EV_ABORT);
                b.put_u32(id);
            });
        }
    }
}

/// Waits for hyper to hand over the socket after the 101, then runs the
/// tunnel until it ends.
async fn switch(
    hub: Rc<Hub>,
    id: u32,
    on_upgrade: OnUpgrade,
    tunnel: Rc<Tunnel>,
    conn: Rc<ConnState>,
) {
    let clean = match on_upgrade.await {
        Ok(upgraded) => match upgraded.downcast::<TokioIo<Stream>>() {
            Ok(parts) => {
                let io = parts.io.into_inner();
                tunnel::run(hub.outbox.clone(), id, io, parts.read_buf, &tunnel).await
            }
            Err(_) => false,
        },
        Err(_) => false,
    };
    hub.tunnel_closed(id, clean);
    conn.tunnel_closed(clean);
}

/// The response head of one exchange, as hyper awaits it.
pub struct Reply(ReplyState);

enum ReplyState {
    /// Refused before reaching JS (RST_STREAM(REFUSED_STREAM)).
    Refused,
    /// Answered without JS (an upgrade refused while closing).
    Ready(Box<Response<ResBody>>),
    /// Waiting for JS to send the head of exchange `id`; dropped in this
    /// state, the exchange is aborted.
    Waiting(oneshot::Receiver<Response<ResBody>>, Rc<Hub>, u32),
    /// Already returned its output.
    Done,
}

impl std::future::Future for Reply {
    type Output = Result<Response<ResBody>, Aborted>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let state = &mut self.0;
        if let ReplyState::Waiting(rx, ..) = state {
            let got = match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(got) => got,
            };
            // Answered (or aborted already): nothing to report on drop.
            *state = ReplyState::Done;
            return Poll::Ready(got.map_err(|_| Aborted::cancel()));
        }
        Poll::Ready(match std::mem::replace(state, ReplyState::Done) {
            ReplyState::Ready(res) => Ok(*res),
            ReplyState::Refused => Err(Aborted::refused()),
            ReplyState::Waiting(..) | ReplyState::Done => Err(Aborted::cancel()),
        })
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let ReplyState::Waiting(_, hub, id) = &self.0 {
            hub.abort(*id, true);
        }
    }
}

async fn read_body(hub: Rc<Hub>, id: u32, mut body: Incoming, credit: Rc<Credit>) {
    loop {
        while credit.bytes.get() == 0 && !credit.stop.get() {
            credit.notify.notified().await;
        }
        if credit.stop.get() {
            break;
        }
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                // Trailers are not passed on (documented difference).
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                credit
                    .bytes
                    .set(credit.bytes.get().saturating_sub(data.len()));
                hub.outbox.push_body(id, data);
            }
            Some(Err(_)) => {
                hub.abort(id, true);
                return;
            }
            None => {
                hub.outbox.push(|b| {
                    b.put_u8(wire::EV_END);
                    b.put_u32(id);
                });
                break;
            }
        }
    }
    hub.reader_done(id);
}

fn encode_request(b: &mut Vec<u8>, id: u32, conn: u32, parts: &http::request::Parts, flags: u8) {
    let version = match parts.version {
        Version::HTTP_10 => 10,
        Version::HTTP_09 => 9,
        Version::HTTP_2 => 20,
        _ => 11,
    };
    let method = parts.method.as_str().as_bytes();
    let uri = &parts.uri;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    b.put_u8(wire::EV_REQUEST);
    b.put_u32(id);
    b.put_u32(conn);
    b.put_u8(version);
    b.put_u8(flags);
    b.put_u8(method.len().min(255) as u8);
    b.put_bytes(&method[..method.len().min(255)]);
    // HTTP/1.1 absolute-form targets (proxies) reach JS whole, as in Node.
    if version != 20 && uri.scheme().is_some() {
        let s = uri.to_string();
        b.put_u32(s.len() as u32);
        b.put_bytes(s.as_bytes());
    } else {
        b.put_u32(path.len() as u32);
        b.put_bytes(path.as_bytes());
    }
    let at = b.len();
    b.put_u32(0);
    if version == 20 {
        wire::put_header(b, b":method", method);
        wire::put_header(b, b":path", path.as_bytes());
        wire::put_header(b, b":scheme", uri.scheme_str().unwrap_or("http").as_bytes());
        if let Some(a) = uri.authority() {
            wire::put_header(b, b":authority", a.as_str().as_bytes());
        }
    }
    for (name, value) in parts.headers.iter() {
        wire::put_header(b, name.as_str().as_bytes(), value.as_bytes());
    }
    let len = (b.len() - at - 4) as u32;
    b[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::{content_length, fill_headers};
    use bytes::Bytes;
    use http::{header, HeaderMap};

    #[test]
    fn the_reply_hyper_moves_per_stream_stays_a_few_words() {
        // hyper moves this future into the task it spawns for every HTTP/2
        // stream; when it held the whole request (an async fn's state) the
        // copying showed in profiles.
        let size = std::mem::size_of::<super::Reply>();
        assert!(size <= 48, "Reply grew to {size} bytes");
    }

    #[test]
    fn hyper_finds_the_content_length_without_growing_the_map() {
        for n in 0..40 {
            let headers = (0..n)
                .map(|i| (Bytes::from(format!("x-h{i}")), Bytes::from_static(b"v")))
                .collect();
            let mut map = HeaderMap::new();
            fill_headers(&mut map, headers, true, Some(11));
            let cap = map.capacity();
            // What hyper's HTTP/2 server does with a whole body.
            map.entry(header::CONTENT_LENGTH)
                .or_insert_with(|| 11.into());
            assert_eq!(map.capacity(), cap, "{n} headers");
            assert_eq!(map.len(), n + 1);
        }
    }

    #[test]
    fn content_length_values_match_the_number() {
        for n in [
            0usize,
            1,
            9,
            10,
            11,
            99,
            100,
            1234,
            4095,
            4096,
            65536,
            usize::MAX,
        ] {
            assert_eq!(content_length(n).to_str().unwrap(), n.to_string());
        }
    }
}
