//! The hub: every live exchange of one server, by id. It announces requests
//! to JS, applies JS's ops to the exchange they name, and hears from hyper
//! (a response body dropped, a reply abandoned) and from the tasks it
//! spawns (a body reader, a tunnel) when they end.
//!
//! Lives on the I/O thread only (`Rc`, no locks). JS refers to an exchange by
//! its `u32` id; ops for an id that is gone are ignored, because the client
//! may vanish at any moment while JS is still writing.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body::Body;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use tokio::sync::oneshot;

use crate::core::body::{BodyEvents, ResBody};
use crate::core::budget::{self, Admit};
use crate::core::conn_state::ConnState;
use crate::core::credit::Credit;
use crate::core::deadlines::Sweeper;
use crate::core::dispatch::Outbox;
use crate::core::exchange::{After, Exchange, ReqBody, Switch};
use crate::core::head::{self, Head};
use crate::core::headscan;
use crate::core::ids::{self, IdMap};
use crate::core::park::{Parked, ParkingLot};
use crate::core::reader::{self, ReadEnd};
use crate::core::reply::{Abandon, Reply};
use crate::core::tunnel::{self, Tunnel};
use crate::core::wire::{self, Op};

/// The response hyper awaits from the hub.
pub type HubResponse = http::Response<ResBody<Guard>>;

/// The future of one response head, as the hub hands it to hyper.
pub type HubReply = Reply<HubResponse, Hub>;

/// All live exchanges of one server.
pub struct Hub {
    outbox: Arc<Outbox>,
    exchanges: RefCell<IdMap<Exchange<HubResponse>>>,
    next_id: Cell<u32>,
    request_timeout: Cell<Option<Duration>>,
    closing: Cell<bool>,
    /// Paces the HTTP/2 `requestTimeout` sweep.
    sweeper: Sweeper,
    /// HTTP/2 `maxSessionMemory`, in bytes.
    session_memory: Cell<usize>,
    /// HTTP/2 streams waiting for their session's budget (budget.rs).
    parked: ParkingLot<HubResponse>,
    /// The `Keep-Alive` value JS last sent (OP_KEEP_ALIVE).
    keep_alive: RefCell<Option<HeaderValue>>,
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
pub struct Guard {
    hub: Rc<Hub>,
    id: u32,
}

impl BodyEvents for Guard {
    fn drained(&self) {
        self.hub.outbox.push_event(wire::EV_DRAIN, self.id);
    }

    fn closed(self, clean: bool) {
        self.hub.response_closed(self.id, clean);
    }
}

impl Abandon for Hub {
    fn abandoned(&self, id: u32) {
        // The client went away before the response head.
        self.parked.forget(id);
        self.abort(id, true);
    }

    fn was_refused(&self, id: u32) -> bool {
        self.parked.was_refused(id)
    }
}

impl Hub {
    /// A hub whose events go to `outbox`.
    pub fn new(outbox: Arc<Outbox>) -> Rc<Hub> {
        Rc::new(Hub {
            outbox,
            exchanges: RefCell::new(IdMap::default()),
            next_id: Cell::new(1),
            request_timeout: Cell::new(None),
            closing: Cell::new(false),
            sweeper: Sweeper::default(),
            session_memory: Cell::new(budget::DEFAULT_LIMIT),
            parked: ParkingLot::default(),
            keep_alive: RefCell::new(None),
        })
    }

    /// Times out HTTP/2 uploads whose body has not arrived by their
    /// deadline (`requestTimeout`). Runs for the server's life on the I/O
    /// thread; asleep while no such upload is in flight.
    pub async fn sweep_deadlines(self: Rc<Self>) {
        loop {
            self.sweeper.tick().await;
            let now = tokio::time::Instant::now();
            let due: Vec<u32> = self
                .exchanges
                .borrow()
                .iter()
                .filter(|(_, ex)| ex.is_due(now))
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

    /// How long a request may take to arrive whole (Node's
    /// `requestTimeout`), counted from its head.
    pub fn set_request_timeout(&self, limit: Option<Duration>) {
        self.request_timeout.set(limit);
    }

    /// What may wait to be written per HTTP/2 session before its new
    /// streams are refused (Node's `maxSessionMemory`), in bytes.
    pub fn set_session_memory(&self, limit: usize) {
        self.session_memory.set(limit);
    }

    /// `requestTimeout` ran out for exchange `id`.
    pub fn request_timed_out(self: &Rc<Self>, id: u32) -> TimedOut {
        let pending = self
            .exchanges
            .borrow()
            .get(&id)
            .and_then(|ex| ex.awaiting_body());
        match pending {
            None => TimedOut::NotPending,
            Some(true) => {
                // As Node does: 408, and the connection closes after it.
                self.respond(id, head::request_timeout(), Some(Bytes::new()));
                self.abort(id, true);
                TimedOut::Answered
            }
            Some(false) => {
                self.abort(id, true);
                TimedOut::Cut
            }
        }
    }

    /// The number of live exchanges.
    pub fn len(&self) -> usize {
        self.exchanges.borrow().len()
    }

    /// True when no exchange is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where event records for JS go (the TLS handshake reports there).
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Tells JS that connection `conn` sent bad or slow input, which the
    /// native side has answered (`'clientError'`).
    pub fn client_error(&self, conn: u32, kind: u8) {
        self.outbox.push(|b| wire::put_client_error(b, conn, kind));
    }

    /// Serves one request: announces it to JS now and returns the future
    /// of its response head (a few words: see [`Reply`]).
    pub fn serve(self: &Rc<Self>, conn: Rc<ConnState>, req: Request<Incoming>) -> HubReply {
        if conn.refuses_new() {
            // Never reached JS, so the client may safely retry it.
            return Reply::refused();
        }
        if let Some(kind) = (!conn.h2).then(|| refused_by_node(&conn, &req)).flatten() {
            self.client_error(conn.id, kind);
            // Never reached JS; id 0 is no exchange's, so the guard
            // reports to nobody.
            let guard = Guard {
                hub: self.clone(),
                id: 0,
            };
            let body = ResBody::full(Bytes::new(), guard);
            return Reply::ready(head::response(
                head::bad_request(),
                body,
                false,
                None,
                false,
            ));
        }
        let (id, tx, rx) = self.new_exchange();
        if conn.h2 {
            match conn.budget().admit(self.session_memory.get(), false) {
                Admit::Now => {}
                Admit::Refuse => return Reply::refused(),
                Admit::Wait => {
                    let first = self.parked.park(Parked {
                        id,
                        conn: conn.clone(),
                        req,
                        reply: tx,
                    });
                    if first {
                        tokio::task::spawn_local(self.clone().grace(conn));
                    }
                    return Reply::waiting(rx, self.clone(), id);
                }
            }
        }
        self.announce(id, tx, conn, req);
        // If hyper drops the reply while it waits (the client went away
        // before the response head), the reply reports the abort.
        Reply::waiting(rx, self.clone(), id)
    }

    /// A new exchange id and the channel of its response head.
    fn new_exchange(
        &self,
    ) -> (
        u32,
        oneshot::Sender<HubResponse>,
        oneshot::Receiver<HubResponse>,
    ) {
        let mut next = self.next_id.get();
        let id = ids::alloc(&mut next, &self.exchanges.borrow());
        self.next_id.set(next);
        let (tx, rx) = oneshot::channel();
        (id, tx, rx)
    }

    /// Tells JS of request `id` and keeps its exchange.
    fn announce(
        self: &Rc<Self>,
        id: u32,
        tx: oneshot::Sender<HubResponse>,
        conn: Rc<ConnState>,
        req: Request<Incoming>,
    ) {
        let mut req = req;
        // hyper attaches `OnUpgrade` only to HTTP/1.1 requests that ask to
        // switch protocols (`Connection: upgrade` with `Upgrade:`, or
        // CONNECT).
        let connect = req.method() == http::Method::CONNECT;
        let upgrade = if conn.h2 {
            None
        } else {
            req.extensions_mut()
                .remove::<OnUpgrade>()
                .map(|on_upgrade| Switch {
                    on_upgrade,
                    connect,
                })
        };
        if upgrade.is_some() && self.closing.get() {
            // A closing server takes no new long-lived connections; id 0
            // is no exchange's, so the guard reports to nobody.
            let guard = Guard {
                hub: self.clone(),
                id: 0,
            };
            let _ = tx.send(head::upgrade_refused(ResBody::full(Bytes::new(), guard)));
            return;
        }
        let (parts, incoming) = req.into_parts();
        let has_body = !incoming.is_end_stream();
        let flags = if has_body { wire::REQ_HAS_BODY } else { 0 }
            | if upgrade.is_some() {
                wire::REQ_UPGRADE
            } else {
                0
            };
        self.outbox
            .push(|b| wire::put_request(b, id, conn.id, &parts, flags));
        // The head's strings point into hyper's previous read buffer (8 KiB);
        // holding them until JS answers would pin that buffer for every
        // request in flight (a long poll, a slow handler).
        drop(parts);
        conn.begin(id);
        if conn.h2 {
            conn.budget().announced();
        }
        let mut deadline = None;
        if let (true, Some(limit)) = (has_body, self.request_timeout.get()) {
            let at = tokio::time::Instant::now() + limit;
            if conn.h2 {
                // The stream gets 408 (or is reset if its response has
                // started); the session goes on (see deadlines.rs).
                deadline = Some(self.sweeper.deadline(at));
            } else {
                conn.set_request_deadline(id, at);
            }
        }
        let body = if has_body {
            ReqBody::Idle(incoming)
        } else {
            ReqBody::Done
        };
        self.exchanges
            .borrow_mut()
            .insert(id, Exchange::new(tx, upgrade, body, conn, deadline));
    }

    /// Lets the streams of session `conn` that wait for its budget go on:
    /// announced while the budget admits them (all of them after their
    /// grace, at most [`budget::MAX_UNANSWERED`] per call), refused once it
    /// is spent or the session refuses new streams.
    fn release(self: &Rc<Self>, conn: &Rc<ConnState>, grace: bool) {
        let mut n = 0;
        while self.parked.has(conn.id) {
            let admit = if conn.refuses_new() {
                Admit::Refuse
            } else {
                conn.budget().admit(
                    self.session_memory.get(),
                    grace && n < budget::MAX_UNANSWERED,
                )
            };
            match admit {
                Admit::Wait => return,
                Admit::Refuse => return self.parked.refuse_all(conn.id),
                Admit::Now => {}
            }
            let Some(p) = self.parked.take(conn.id) else {
                return;
            };
            n += 1;
            self.announce(p.id, p.reply, p.conn, p.req);
        }
    }

    /// Streams of session `conn` wait at most [`budget::GRACE`] each round.
    async fn grace(self: Rc<Self>, conn: Rc<ConnState>) {
        while self.parked.has(conn.id) {
            tokio::time::sleep(budget::GRACE).await;
            self.release(&conn, true);
        }
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
                    keep_alive,
                    keep_alive_timeout,
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
                    let keep_alive = keep_alive.then(|| {
                        keep_alive_timeout
                            .then(|| self.keep_alive.borrow().clone())
                            .flatten()
                    });
                    let head = Head {
                        status,
                        reason,
                        headers,
                        keep_alive,
                    };
                    self.respond(id, head, whole);
                }
                Op::Data {
                    id,
                    chunk,
                    end,
                    want_drain,
                } => {
                    if let Some(ex) = self.exchanges.borrow().get(&id) {
                        let chunk = if ex.conn().h2 {
                            ex.conn().budget().count(chunk)
                        } else {
                            chunk
                        };
                        ex.push(chunk, end, want_drain);
                    }
                }
                Op::KeepAlive { value } => {
                    *self.keep_alive.borrow_mut() = HeaderValue::from_maybe_shared(value).ok();
                }
                Op::Demand { id } => self.demand(id),
                Op::Abort { id } => self.abort(id, false),
                Op::Trailers { id, headers } => {
                    if let Some(ex) = self.exchanges.borrow().get(&id) {
                        ex.set_trailers(head::trailer_map(headers));
                    }
                }
                Op::Close { id } => {
                    let flushing = self.exchanges.borrow().get(&id).map(|ex| ex.close());
                    if flushing == Some(false) {
                        self.abort(id, false);
                    }
                }
            }
        }
    }

    /// Hands JS's head for exchange `id` to hyper; `whole` is the entire
    /// body when JS ended the response in the same flush.
    fn respond(self: &Rc<Self>, id: u32, head: Head, whole: Option<Bytes>) {
        let mut map = self.exchanges.borrow_mut();
        let Some(ex) = map.get_mut(&id) else { return };
        let Some((reply, upgrade)) = ex.take_head() else {
            return;
        };
        let h2 = ex.conn().h2;
        let answered = h2.then(|| ex.conn().clone());
        let whole = match (&answered, whole) {
            (Some(conn), Some(bytes)) => {
                conn.budget().answered();
                Some(conn.budget().count(bytes))
            }
            (Some(conn), None) => {
                conn.budget().answered();
                None
            }
            (None, whole) => whole,
        };
        let guard = Guard {
            hub: self.clone(),
            id,
        };
        let whole = match upgrade {
            Some(switch) if switch.granted_by(head.status) => {
                let tunnel = ex.become_tunnel(id);
                let conn = ex.conn().clone();
                let on_upgrade = switch.on_upgrade;
                tokio::task::spawn_local(self.clone().run_tunnel(id, on_upgrade, tunnel, conn));
                Some(Bytes::new())
            }
            _ => whole,
        };
        // What hyper would add to an HTTP/2 response with a whole body
        // (HTTP/1.1 writes it straight into the head).
        let length = match &whole {
            Some(b) if h2 && !b.is_empty() => Some(b.len()),
            _ => None,
        };
        let body = match whole {
            Some(bytes) => ResBody::full(bytes, guard),
            None => ResBody::pipe(ex.stream(), guard),
        };
        drop(map);
        // A closed receiver means hyper already dropped the request; its
        // Reply has reported the abort.
        let _ = reply.send(head::response(head, body, h2, length, self.closing.get()));
        if let Some(conn) = answered {
            self.release(&conn, false);
        }
    }

    fn demand(self: &Rc<Self>, id: u32) {
        let start = match self.exchanges.borrow_mut().get_mut(&id) {
            Some(ex) => ex.demand(),
            None => return,
        };
        if let Some((incoming, credit)) = start {
            tokio::task::spawn_local(self.clone().read_body(id, incoming, credit));
        }
    }

    /// Ends an exchange early: JS destroyed it, or the server is forcing.
    /// `notify_js` sends EV_ABORT (not needed when JS asked for it).
    pub fn abort(&self, id: u32, notify_js: bool) {
        let Some(ex) = self.exchanges.borrow_mut().remove(&id) else {
            return;
        };
        let unanswered = (ex.conn().h2 && ex.awaits_head()).then(|| ex.conn().clone());
        ex.finish(id);
        // Streams parked behind it go on at their grace (budget.rs).
        if let Some(conn) = &unanswered {
            conn.budget().answered();
        }
        if notify_js {
            self.outbox.push_event(wire::EV_ABORT, id);
        }
    }

    /// Cancels every exchange of one connection whose response is still
    /// open; JS hears EV_ABORT for each (a forced close, DESIGN C9/C10).
    pub fn abort_all(&self, conn: &ConnState) {
        for id in conn.open_exchanges() {
            self.abort(id, true);
        }
    }

    fn response_closed(&self, id: u32, clean: bool) {
        let mut map = self.exchanges.borrow_mut();
        let Some(ex) = map.get_mut(&id) else { return };
        match ex.response_closed(id, clean) {
            After::Keep => {}
            After::Remove => {
                map.remove(&id);
            }
            After::Abort => {
                drop(map);
                self.abort(id, true);
            }
        }
    }

    /// Feeds the request body of exchange `id` to JS until it ends.
    async fn read_body(self: Rc<Self>, id: u32, incoming: Incoming, credit: Rc<Credit>) {
        match reader::read(&self.outbox, id, incoming, &credit).await {
            ReadEnd::Failed => self.abort(id, true),
            ReadEnd::Malformed => {
                if let Some(conn) = self.exchanges.borrow().get(&id).map(|ex| ex.conn().id) {
                    self.client_error(conn, wire::CLIENT_ERROR_CHUNKED);
                }
                // As Node: 400 if the response has not started (respond
                // does nothing otherwise), and JS hears the abort.
                self.respond(id, head::bad_request(), Some(Bytes::new()));
                self.abort(id, true);
            }
            ReadEnd::Ended | ReadEnd::Stopped => {
                let mut map = self.exchanges.borrow_mut();
                if let Some(After::Remove) = map.get_mut(&id).map(|ex| ex.reader_done()) {
                    map.remove(&id);
                }
            }
        }
    }

    /// Runs the tunnel of exchange `id` once hyper hands over the socket,
    /// then forgets the exchange.
    async fn run_tunnel(
        self: Rc<Self>,
        id: u32,
        on_upgrade: OnUpgrade,
        tunnel: Rc<Tunnel>,
        conn: Rc<ConnState>,
    ) {
        let clean = tunnel::open(on_upgrade, self.outbox.clone(), id, &tunnel).await;
        let gone = self.exchanges.borrow_mut().remove(&id);
        if gone.is_some() && !clean {
            self.outbox.push_event(wire::EV_ABORT, id);
        }
        conn.tunnel_closed(clean);
    }
}

/// Why an HTTP/1.1 request hyper accepted is one Node answers with 400
/// (DESIGN §7), as a client error kind: its lines end in a bare LF, or it is
/// framed by both Content-Length and Transfer-Encoding (hyper drops the
/// Content-Length, so the head scanner tells us it was there).
fn refused_by_node(conn: &ConnState, req: &Request<Incoming>) -> Option<u8> {
    let found = conn.activity().take_head_flags();
    if found & headscan::BARE_LF != 0 {
        Some(wire::CLIENT_ERROR_LF)
    } else if found & headscan::CONTENT_LENGTH != 0
        && req.headers().contains_key(http::header::TRANSFER_ENCODING)
    {
        Some(wire::CLIENT_ERROR_CONTENT_LENGTH)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    //! The hub's transitions, driven as JS and a client would drive them:
    //! real connections (the harness in testing.rs), ops applied as JS
    //! applies them, events read as JS reads them.

    use std::time::Duration;

    use bytes::Bytes;
    use tokio::io::AsyncWriteExt;

    use crate::core::config::Config;
    use crate::core::testing::{local, read_to_eof, read_until, Ev, Rig};
    use crate::core::wire::{self, Op};

    #[test]
    fn the_reply_hyper_moves_per_stream_stays_a_few_words() {
        // hyper moves this future into the task it spawns for every HTTP/2
        // stream; when it held the whole request (an async fn's state) the
        // copying showed in profiles.
        let size = std::mem::size_of::<super::HubReply>();
        assert!(size <= 48, "Reply grew to {size} bytes");
    }

    async fn conn_closed(rig: &mut Rig) {
        rig.wait_for(|e| matches!(e, Ev::ConnClose(_)).then_some(()))
            .await;
    }

    /// Head stage → gone: JS destroys the response before sending its head.
    /// hyper's reply fails, so the HTTP/1.1 connection closes without a
    /// response; the exchange and its gauge are released, and JS, which
    /// asked for it, hears no EV_ABORT.
    #[tokio::test(flavor = "current_thread")]
    async fn abort_before_the_head_closes_the_connection_and_frees_the_exchange() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let mut client = rig.client().await;
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let id = rig.next_request().await;
            assert_eq!(rig.tracker.info().active, 1);
            rig.hub.apply(vec![Op::Abort { id }]);
            assert!(rig.hub.is_empty());
            assert_eq!(rig.tracker.info().active, 0);
            assert_eq!(read_to_eof(&mut client).await, "", "no response");
            conn_closed(&mut rig).await;
            assert!(!rig.untaken().contains(&Ev::Abort(id)), "JS asked for it");
        })
        .await;
    }

    /// Node's keep-alive headers come from the head's flags and the value
    /// of the last OP_KEEP_ALIVE, after the app's headers; without the
    /// flags, none are added.
    #[tokio::test(flavor = "current_thread")]
    async fn keep_alive_flags_add_nodes_connection_headers() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let mut client = rig.client().await;
            let head = |id, keep_alive, keep_alive_timeout| Op::Head {
                id,
                status: 200,
                reason: None,
                headers: vec![(http::header::SERVER, Bytes::from_static(b"t"))],
                end: true,
                keep_alive,
                keep_alive_timeout,
            };
            let mut seen = Vec::new();
            for (flags, path) in [
                ((true, true), "/1"),
                ((true, false), "/2"),
                ((false, false), "/3"),
            ] {
                let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
                client.write_all(req.as_bytes()).await.unwrap();
                let id = rig.next_request().await;
                let mut ops = vec![];
                if path == "/1" {
                    ops.push(Op::KeepAlive {
                        value: Bytes::from_static(b"timeout=5"),
                    });
                }
                ops.push(head(id, flags.0, flags.1));
                rig.hub.apply(ops);
                seen.push(
                    read_until(&mut client, "\r\n\r\n")
                        .await
                        .to_ascii_lowercase(),
                );
            }
            assert!(
                seen[0]
                    .contains("server: t\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n"),
                "{}",
                seen[0]
            );
            assert!(
                seen[1].contains("connection: keep-alive\r\n"),
                "{}",
                seen[1]
            );
            assert!(!seen[1].contains("keep-alive: timeout"), "{}", seen[1]);
            assert!(!seen[2].contains("keep-alive"), "{}", seen[2]);
        })
        .await;
    }

    /// Whole → Delivered while the body reader runs: the exchange stays
    /// (JS may still read `req`) and the reader's credit is lifted, so the
    /// rest of the body arrives without another demand.
    #[tokio::test(flavor = "current_thread")]
    async fn clean_close_while_the_reader_runs_keeps_the_exchange_and_lifts_its_credit() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let mut client = rig.client().await;
            let total = 3 * crate::core::credit::READ_AHEAD;
            let head = format!("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n");
            client.write_all(head.as_bytes()).await.unwrap();
            let (mut rd, mut wr) = client.into_split();
            let writer = tokio::task::spawn_local(async move {
                wr.write_all(&vec![2u8; total]).await.unwrap();
                wr
            });
            let id = rig.next_request().await;
            rig.hub.apply(vec![Op::Demand { id }]);
            let body = move |e: &Ev| match e {
                Ev::Body(i, b) if *i == id => Some(b.len()),
                _ => None,
            };
            let mut got = 0;
            while got < crate::core::credit::READ_AHEAD {
                got += rig.wait_for(body).await;
            }
            rig.respond(id, b"early");
            let mut buf = vec![0u8; 4096];
            let mut response = Vec::new();
            while !String::from_utf8_lossy(&response).contains("early") {
                let n = tokio::io::AsyncReadExt::read(&mut rd, &mut buf)
                    .await
                    .unwrap();
                assert!(n > 0);
                response.extend_from_slice(&buf[..n]);
            }
            assert_eq!(rig.tracker.info().active, 0, "the response is over");
            // No further Demand: the credit is unlimited now, and the
            // exchange stays until the reader has delivered the end.
            while got < total {
                got += rig.wait_for(body).await;
            }
            assert_eq!(got, total);
            rig.wait_for(|e| (*e == Ev::End(id)).then_some(())).await;
            assert!(rig.hub.is_empty(), "freed once the body is in");
            drop(writer.await.unwrap());
        })
        .await;
    }

    /// Delivered → gone when the reader ends after the response (HTTP/2:
    /// the stream's end arrives on its own). JS hears EV_END and the
    /// exchange is forgotten.
    #[tokio::test(flavor = "current_thread")]
    async fn reader_done_after_the_response_frees_the_exchange() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let client = rig.client().await;
            let (mut h2, conn) = h2::client::handshake(client).await.unwrap();
            tokio::task::spawn_local(conn);
            let req = http::Request::post("http://x/up").body(()).unwrap();
            let (response, mut upload) = h2.send_request(req, false).unwrap();
            upload
                .send_data(Bytes::from_static(b"hello"), false)
                .unwrap();
            let id = rig.next_request().await;
            rig.hub.apply(vec![Op::Demand { id }]);
            let first = rig
                .wait_for(|e| match e {
                    Ev::Body(i, b) if *i == id => Some(b.clone()),
                    _ => None,
                })
                .await;
            assert_eq!(&first[..], b"hello");
            rig.respond(id, b"one");
            let mut body = response.await.unwrap().into_body();
            assert_eq!(&body.data().await.unwrap().unwrap()[..], b"one");
            assert!(body.data().await.is_none());
            assert_eq!(rig.hub.len(), 1, "kept for the reader");
            upload
                .send_data(Bytes::from_static(b"world"), true)
                .unwrap();
            rig.wait_for(|e| (*e == Ev::End(id)).then_some(())).await;
            assert!(rig.hub.is_empty());
            assert!(!rig.untaken().contains(&Ev::Abort(id)));
        })
        .await;
    }

    /// On HTTP/1.1, a request body whose last bytes arrive after its
    /// response was delivered still reports its end and frees the exchange
    /// (hyper's connection goes idle before it closes the body channel, so
    /// the reader ends the body at its Content-Length itself).
    #[tokio::test(flavor = "current_thread")]
    async fn h1_reader_done_after_the_response_frees_the_exchange() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let mut client = rig.client().await;
            client
                .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
                .await
                .unwrap();
            let id = rig.next_request().await;
            rig.hub.apply(vec![Op::Demand { id }]);
            rig.wait_for(|e| matches!(e, Ev::Body(i, _) if *i == id).then_some(()))
                .await;
            rig.respond(id, b"one");
            read_until(&mut client, "one").await;
            client.write_all(b"world").await.unwrap();
            rig.wait_for(|e| (*e == Ev::End(id)).then_some(())).await;
            assert!(rig.hub.is_empty());
        })
        .await;
    }

    /// The reader done before the response: the exchange stays until its
    /// response is delivered, then is gone, and the connection serves its
    /// next request.
    #[tokio::test(flavor = "current_thread")]
    async fn reader_done_before_the_response_keeps_the_exchange_until_it_is_delivered() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let mut client = rig.client().await;
            client
                .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhelloworld")
                .await
                .unwrap();
            let id = rig.next_request().await;
            rig.hub.apply(vec![Op::Demand { id }]);
            rig.wait_for(|e| (*e == Ev::End(id)).then_some(())).await;
            assert_eq!(rig.hub.len(), 1, "the response is still owed");
            rig.respond(id, b"one");
            read_until(&mut client, "one").await;
            assert!(rig.hub.is_empty());
            client
                .write_all(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let next = rig.next_request().await;
            assert_ne!(next, id);
            rig.respond(next, b"two");
            read_until(&mut client, "two").await;
        })
        .await;
    }

    /// Head → Tunnel: a 101 to an upgrade request turns the exchange into
    /// the connection's tunnel: bytes flow both ways under the same id, the
    /// connection counts as upgraded, and when both sides end in order the
    /// exchange is gone without an abort.
    #[tokio::test(flavor = "current_thread")]
    async fn a_101_turns_the_exchange_into_a_tunnel() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let mut client = rig.client().await;
            client
                .write_all(
                    b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: test\r\n\r\n",
                )
                .await
                .unwrap();
            let (id, flags) = rig
                .wait_for(|e| match e {
                    Ev::Request(id, flags, _) => Some((*id, *flags)),
                    _ => None,
                })
                .await;
            assert_eq!(flags & wire::REQ_UPGRADE, wire::REQ_UPGRADE);
            rig.hub.apply(vec![
                Op::Head {
                    id,
                    status: 101,
                    reason: None,
                    headers: vec![
                        (http::header::CONNECTION, Bytes::from_static(b"upgrade")),
                        (http::header::UPGRADE, Bytes::from_static(b"test")),
                    ],
                    end: false,
                    keep_alive: false,
                    keep_alive_timeout: false,
                },
                Op::Demand { id },
            ]);
            read_until(&mut client, "101 Switching Protocols").await;
            for _ in 0..100 {
                if rig.tracker.info().upgraded == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(rig.tracker.info().upgraded, 1);
            client.write_all(b"ping").await.unwrap();
            let got = rig
                .wait_for(|e| match e {
                    Ev::Body(i, b) if *i == id => Some(b.clone()),
                    _ => None,
                })
                .await;
            assert_eq!(&got[..], b"ping");
            rig.hub.apply(vec![Op::Data {
                id,
                chunk: Bytes::from_static(b"pong"),
                end: false,
                want_drain: true,
            }]);
            read_until(&mut client, "pong").await;
            rig.wait_for(|e| (*e == Ev::Drain(id)).then_some(())).await;
            client.shutdown().await.unwrap();
            rig.wait_for(|e| (*e == Ev::End(id)).then_some(())).await;
            rig.hub.apply(vec![Op::Data {
                id,
                chunk: Bytes::new(),
                end: true,
                want_drain: false,
            }]);
            assert_eq!(read_to_eof(&mut client).await, "");
            conn_closed(&mut rig).await;
            assert!(rig.hub.is_empty());
            assert_eq!(rig.tracker.info().upgraded, 0);
            assert!(!rig.untaken().contains(&Ev::Abort(id)), "ended in order");
        })
        .await;
    }

    /// HTTP/2 `maxSessionMemory` (budget.rs): a client whose window is 0
    /// opens 24 streams at once. 16 reach JS, the rest wait; once the
    /// answers queued for it pass the budget, the waiting ones are refused
    /// with REFUSED_STREAM without reaching JS, and so is a new stream.
    #[tokio::test(flavor = "current_thread")]
    async fn h2_streams_past_the_session_budget_are_refused_before_js() {
        static BODY: [u8; 128 * 1024] = [7; 128 * 1024];
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            rig.hub.set_session_memory(1 << 20);
            let client = rig.client().await;
            let (h2, conn) = h2::client::Builder::new()
                .initial_window_size(0)
                .handshake::<_, Bytes>(client)
                .await
                .unwrap();
            tokio::task::spawn_local(async move {
                let _ = conn.await;
            });
            let mut h2 = h2.ready().await.unwrap();
            let get = || http::Request::get("http://x/").body(()).unwrap();
            let mut responses = Vec::new();
            for _ in 0..24 {
                responses.push(h2.send_request(get(), true).unwrap().0);
            }
            let mut ids = Vec::new();
            for _ in 0..crate::core::budget::MAX_UNANSWERED {
                ids.push(rig.next_request().await);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            let announced = |evs: Vec<Ev>| evs.iter().any(|e| matches!(e, Ev::Request(..)));
            assert!(!announced(rig.untaken()), "the rest wait");
            for id in ids {
                rig.respond(id, &BODY);
            }
            let (mut answered, mut refused) = (0, 0);
            for response in responses {
                match response.await {
                    Ok(r) => {
                        assert_eq!(r.status(), 200);
                        answered += 1;
                    }
                    Err(e) => {
                        assert_eq!(e.reason(), Some(h2::Reason::REFUSED_STREAM));
                        refused += 1;
                    }
                }
            }
            assert_eq!((answered, refused), (16, 8));
            let late = h2.send_request(get(), true).unwrap().0.await;
            assert_eq!(
                late.err().and_then(|e| e.reason()),
                Some(h2::Reason::REFUSED_STREAM)
            );
            assert!(!announced(rig.untaken()), "none of them reached JS");
        })
        .await;
    }

    /// Waiting streams are kept per session: with two sessions of 20
    /// streams each, answering streams lets each session's waiting ones
    /// in oldest first, every stream reaches JS once, and the lot ends
    /// empty.
    #[tokio::test(flavor = "current_thread")]
    async fn waiting_streams_are_released_per_session_in_order() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let mut pending = Vec::new();
            let mut clients = Vec::new();
            for name in ["a", "b"] {
                let client = rig.client().await;
                let (h2, conn) = h2::client::handshake(client).await.unwrap();
                tokio::task::spawn_local(async move {
                    let _ = conn.await;
                });
                let mut h2 = h2.ready().await.unwrap();
                for n in 0..20 {
                    let req = http::Request::get(format!("http://x/{name}{n:02}"))
                        .body(())
                        .unwrap();
                    pending.push(h2.send_request(req, true).unwrap().0);
                }
                clients.push(h2);
            }
            let mut seen: Vec<String> = Vec::new();
            while seen.len() < 40 {
                let (id, url) = rig
                    .wait_for(|e| match e {
                        Ev::Request(id, _, url) => Some((*id, url.clone())),
                        _ => None,
                    })
                    .await;
                seen.push(url);
                rig.respond(id, b"ok");
            }
            for response in pending {
                assert_eq!(response.await.unwrap().status(), 200);
            }
            for name in ["/a", "/b"] {
                let order: Vec<&String> = seen.iter().filter(|u| u.starts_with(name)).collect();
                let mut sorted = order.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(order.len(), 20, "{seen:?}");
                assert_eq!(order, sorted, "in order, once each");
            }
            assert_eq!(rig.hub.parked.waiting(), 0);
            drop(clients);
        })
        .await;
    }

    /// Head stage, reply dropped: the client goes away before the head, hyper
    /// drops the reply, and JS hears EV_ABORT for the exchange, which is
    /// gone.
    #[tokio::test(flavor = "current_thread")]
    async fn a_reply_dropped_before_the_head_aborts_the_exchange() {
        local(async {
            let mut rig = Rig::new(Config::default()).await;
            let client = rig.client().await;
            client
                .try_write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let id = rig.next_request().await;
            // A reset, so hyper's next read fails at once.
            socket2::SockRef::from(&client)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(client);
            rig.wait_for(|e| (*e == Ev::Abort(id)).then_some(())).await;
            assert!(rig.hub.is_empty());
            conn_closed(&mut rig).await;
            assert_eq!(rig.tracker.open(), 0);
            // JS's late answer goes nowhere.
            rig.respond(id, b"late");
            assert!(rig.hub.is_empty());
        })
        .await;
    }
}
