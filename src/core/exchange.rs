//! One exchange: a request and its response, from the moment hyper hands us
//! the request until the response is delivered and JS has read the request
//! body, or either is cut short.
//!
//! Its life is two small state machines side by side: [`Stage`] for the
//! response and [`ReqBody`] for the request body. The hub keeps exchanges
//! by id and routes JS's ops and hyper's callbacks to them; the transitions
//! themselves are here, and tell the hub what to do with the exchange next
//! ([`After`]).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::core::conn_state::ConnState;
use crate::core::credit::{Credit, READ_AHEAD};
use crate::core::deadlines::Deadline;
use crate::core::outgoing::Outgoing;
use crate::core::tunnel::Tunnel;

/// A protocol switch hyper grants on an HTTP/1.1 connection: after a 101
/// to an `Upgrade:` request, or after a 2xx to a CONNECT (RFC 9110 §9.3.6).
pub struct Switch {
    /// hyper's handle on the connection once it has switched.
    pub on_upgrade: OnUpgrade,
    /// The request was a CONNECT.
    pub connect: bool,
}

impl Switch {
    /// Whether a response with `status` switches the connection.
    pub fn granted_by(&self, status: u16) -> bool {
        if self.connect {
            (200..300).contains(&status)
        } else {
            status == 101
        }
    }
}

/// Where an exchange's response is. `R` is the response hyper awaits.
pub enum Stage<R> {
    /// JS has not sent the head; hyper waits for it on `reply`. `upgrade`
    /// is set when the request asked to switch protocols (HTTP/1.1
    /// `Upgrade:`, or CONNECT).
    Head {
        /// Where the head goes.
        reply: oneshot::Sender<R>,
        /// The switch hyper grants after a 101 (a 2xx for CONNECT).
        upgrade: Option<Switch>,
    },
    /// The head went out with the whole body; hyper is writing it.
    Whole,
    /// The head went out; the body streams through the queue as JS writes.
    Streaming(Rc<RefCell<Outgoing>>),
    /// The 101 went out (or is going out): the exchange is now the
    /// connection's tunnel, until the tunnel closes.
    Tunnel(Rc<Tunnel>),
    /// The response was delivered whole; the exchange lives on only while
    /// JS still reads the request body (Node keeps `req` readable).
    Delivered,
}

/// Where an exchange's request body is.
pub enum ReqBody {
    /// No body, or it has been read to the end.
    Done,
    /// A body JS has not asked for yet.
    Idle(Incoming),
    /// A reader task is feeding JS as far as the credit allows.
    Reading(Rc<Credit>),
}

/// What the hub does with an exchange after a transition.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// It goes on.
    Keep,
    /// It is over: forget it.
    Remove,
    /// It failed: tear it down and tell JS (EV_ABORT).
    Abort,
}

/// One request and its response.
pub struct Exchange<R> {
    stage: Stage<R>,
    body: ReqBody,
    conn: Rc<ConnState>,
    /// HTTP/2: when the request body must have arrived (`requestTimeout`);
    /// HTTP/1.1 keeps its one timer in the connection task.
    deadline: Option<Deadline>,
}

impl<R> Exchange<R> {
    /// An exchange waiting for its response head on `reply`.
    pub fn new(
        reply: oneshot::Sender<R>,
        upgrade: Option<Switch>,
        body: ReqBody,
        conn: Rc<ConnState>,
        deadline: Option<Deadline>,
    ) -> Self {
        Exchange {
            stage: Stage::Head { reply, upgrade },
            body,
            conn,
            deadline,
        }
    }

    /// The connection the exchange belongs to.
    pub fn conn(&self) -> &Rc<ConnState> {
        &self.conn
    }

    /// Whether JS has not sent the head yet.
    pub fn awaits_head(&self) -> bool {
        matches!(self.stage, Stage::Head { .. })
    }

    /// JS sends the head now: takes the reply (and the pending switch), and
    /// moves to [`Stage::Whole`]; the caller moves on to
    /// [`Exchange::stream`] or [`Exchange::become_tunnel`] if need be.
    /// `None` if the head was sent already.
    pub fn take_head(&mut self) -> Option<(oneshot::Sender<R>, Option<Switch>)> {
        match std::mem::replace(&mut self.stage, Stage::Whole) {
            Stage::Head { reply, upgrade } => Some((reply, upgrade)),
            other => {
                self.stage = other;
                None
            }
        }
    }

    /// The head went out without its whole body: the rest streams through
    /// the returned queue.
    pub fn stream(&mut self) -> Rc<RefCell<Outgoing>> {
        let pipe = Rc::new(RefCell::new(Outgoing::default()));
        self.stage = Stage::Streaming(pipe.clone());
        pipe
    }

    /// A 101 went out: exchange `id` is now the connection's tunnel.
    pub fn become_tunnel(&mut self, id: u32) -> Rc<Tunnel> {
        let tunnel = Rc::new(Tunnel::default());
        self.stage = Stage::Tunnel(tunnel.clone());
        self.conn.tunnel_opened(id);
        tunnel
    }

    /// Bytes from JS for the peer; ignored once nothing takes them.
    pub fn push(&self, chunk: Bytes, end: bool, want_drain: bool) {
        match &self.stage {
            Stage::Tunnel(t) => t.push(chunk, end, want_drain),
            Stage::Streaming(pipe) => pipe.borrow_mut().push(chunk, end, want_drain),
            Stage::Head { .. } | Stage::Whole | Stage::Delivered => {}
        }
    }

    /// Trailers for a streaming response body; ignored on any other stage
    /// (a response sent whole has no trailers, as on Node when not chunked).
    pub fn set_trailers(&self, trailers: http::HeaderMap) {
        if let Stage::Streaming(pipe) = &self.stage {
            pipe.borrow_mut().set_trailers(trailers);
        }
    }

    /// JS destroyed an upgrade socket it had written to: what it wrote still
    /// goes out, then the connection ends. A tunnel flushes, half-closes
    /// and stops reading; a refusal's body ends (its head carries
    /// `Connection: close`, lib/upgrade.js). `false` when there is nothing
    /// to flush: then this is an abort.
    pub fn close(&self) -> bool {
        match &self.stage {
            Stage::Tunnel(t) => t.close(),
            Stage::Streaming(pipe) => pipe.borrow_mut().push(Bytes::new(), true, false),
            Stage::Head { .. } | Stage::Whole | Stage::Delivered => return false,
        }
        true
    }

    /// JS wants more of the request body (or of the tunnel). Returns the
    /// body and its credit when a reader must be started.
    pub fn demand(&mut self) -> Option<(Incoming, Rc<Credit>)> {
        if let Stage::Tunnel(t) = &self.stage {
            t.demand();
            return None;
        }
        match std::mem::replace(&mut self.body, ReqBody::Done) {
            ReqBody::Idle(incoming) => {
                let credit = Rc::new(Credit::new(READ_AHEAD));
                self.body = ReqBody::Reading(credit.clone());
                Some((incoming, credit))
            }
            ReqBody::Reading(credit) => {
                credit.demand();
                self.body = ReqBody::Reading(credit);
                None
            }
            ReqBody::Done => None,
        }
    }

    /// hyper dropped the response body of exchange `id`; `clean` if it was
    /// delivered whole.
    pub fn response_closed(&mut self, id: u32, clean: bool) -> After {
        if !clean {
            return After::Abort;
        }
        self.conn.end(id);
        if let Stage::Tunnel(_) = self.stage {
            // The 101 went out; the exchange lives on as the tunnel.
            return After::Keep;
        }
        self.stage = Stage::Delivered;
        match &self.body {
            // Still feeding a reader: let it finish without limits, as Node
            // keeps `req` readable after the response.
            ReqBody::Reading(credit) => {
                credit.grant(usize::MAX);
                After::Keep
            }
            // JS never read the body: dropping it lets hyper discard the rest
            // and keep the connection reusable.
            ReqBody::Idle(_) | ReqBody::Done => After::Remove,
        }
    }

    /// The request body was read to its end (or the reader stopped).
    pub fn reader_done(&mut self) -> After {
        self.body = ReqBody::Done;
        self.deadline = None;
        match self.stage {
            Stage::Delivered => After::Remove,
            _ => After::Keep,
        }
    }

    /// For `requestTimeout`: `None` if the request body is in; else whether
    /// the response head is still JS's to send.
    pub fn awaiting_body(&self) -> Option<bool> {
        match self.body {
            ReqBody::Done => None,
            _ => Some(matches!(self.stage, Stage::Head { .. })),
        }
    }

    /// Whether its HTTP/2 request deadline has passed at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.deadline.as_ref().is_some_and(|d| d.is_due(now))
    }

    /// Tears exchange `id` down: whatever is still open is cut.
    pub fn finish(self, id: u32) {
        let Exchange {
            stage,
            body,
            conn,
            deadline: _,
        } = self;
        let delivered = matches!(stage, Stage::Delivered);
        match stage {
            Stage::Tunnel(t) => t.abort(),
            // Dropping the sender fails the reply: hyper closes the HTTP/1.1
            // connection or resets the HTTP/2 stream.
            Stage::Head { reply, .. } => drop(reply),
            Stage::Streaming(pipe) => pipe.borrow_mut().abort(),
            Stage::Whole | Stage::Delivered => {}
        }
        if let ReqBody::Reading(credit) = body {
            credit.stop();
        }
        if !delivered {
            conn.end(id);
        }
    }
}
