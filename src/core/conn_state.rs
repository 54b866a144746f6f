//! Per-connection state shared by the connection task and the exchanges it
//! serves: which exchanges are open, whether the connection became a tunnel,
//! the HTTP/1.1 request deadline, and the gauges they move.
//!
//! It sits below both its users: the hub marks exchanges begun and ended
//! here, the connection task reads and waits on it; neither is named.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::core::budget::SessionBudget;
use crate::core::io::Activity;
use crate::core::tracker::{Gauge, Tracker};

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

/// Per-connection state shared by the connection task and its exchanges.
pub struct ConnState {
    /// Connection id, as JS knows it.
    pub id: u32,
    /// Whether the connection speaks HTTP/2.
    pub h2: bool,
    tracker: Arc<Tracker>,
    /// Exchanges whose response is still open.
    open: RefCell<Vec<u32>>,
    /// How many exchanges have begun on this connection.
    begun: Cell<u64>,
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
    /// HTTP/2: what waits to be written, against `maxSessionMemory`.
    budget: SessionBudget,
}

impl ConnState {
    /// A fresh connection state.
    pub fn new(id: u32, h2: bool, tracker: Arc<Tracker>) -> Self {
        ConnState::with_activity(id, h2, tracker, Arc::new(Activity::new()))
    }

    /// A fresh connection state over an activity record the socket already
    /// updates (a TLS handshake came first).
    pub fn with_activity(
        id: u32,
        h2: bool,
        tracker: Arc<Tracker>,
        activity: Arc<Activity>,
    ) -> Self {
        ConnState {
            id,
            h2,
            tracker,
            open: RefCell::new(Vec::new()),
            begun: Cell::new(0),
            activity,
            refuse_new: Cell::new(false),
            request_deadline: Cell::new(None),
            tunnel: Cell::new(None),
            changed: Notify::new(),
            deadline_set: Notify::new(),
            budget: SessionBudget::default(),
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
        self.begun.set(self.begun.get() + 1);
        self.activity.exchange_began();
        self.changed.notify_one();
    }

    /// Exchange `id`'s response ended (or it was aborted). Ending an
    /// exchange that is not open does nothing.
    pub fn end(&self, id: u32) {
        let mut open = self.open.borrow_mut();
        let Some(at) = open.iter().position(|&x| x == id) else {
            return;
        };
        open.swap_remove(at);
        self.activity.set_busy(!open.is_empty());
        if self.h2 {
            self.tracker.dec(Gauge::H2Streams);
        } else if open.is_empty() {
            self.tracker.dec(Gauge::H1Busy);
        }
        drop(open);
        self.activity.touch();
        self.changed.notify_one();
    }

    /// The session's memory budget (HTTP/2).
    pub fn budget(&self) -> &SessionBudget {
        &self.budget
    }

    /// The activity record the socket wrapper updates.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// How many exchanges have begun on this connection: a request head
    /// that is still unfinished at two looks with the same count is the same
    /// head.
    pub fn begun(&self) -> u64 {
        self.begun.get()
    }

    /// No exchange is open.
    pub fn is_idle(&self) -> bool {
        self.open.borrow().is_empty()
    }

    /// Ids of the exchanges whose response is still open.
    pub fn open_exchanges(&self) -> Vec<u32> {
        self.open.borrow().clone()
    }

    /// Resolves at the next begin or end of an exchange, or when the
    /// tunnel closes (one wake is kept if nobody was waiting).
    pub async fn changed(&self) {
        self.changed.notified().await;
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

    /// The exchange that switched protocols, and where its tunnel is.
    pub fn tunnel(&self) -> Option<(u32, TunnelState)> {
        self.tunnel.get()
    }

    /// Exchange `id` must have received its whole body by `at`.
    pub fn set_request_deadline(&self, id: u32, at: Instant) {
        self.request_deadline.set(Some((at, id)));
        self.deadline_set.notify_one();
    }

    /// The pending request deadline, and whose it is.
    pub fn request_deadline(&self) -> Option<(Instant, u32)> {
        self.request_deadline.get()
    }

    /// Forgets the request deadline (it fired).
    pub fn clear_request_deadline(&self) {
        self.request_deadline.set(None);
    }

    /// Resolves when a request deadline is set (one wake is kept if nobody
    /// was waiting).
    pub async fn deadline_set(&self) {
        self.deadline_set.notified().await;
    }

    /// From now on, new HTTP/2 streams are refused.
    pub fn refuse_new(&self) {
        self.refuse_new.set(true);
    }

    /// Whether new HTTP/2 streams are refused.
    pub fn refuses_new(&self) -> bool {
        self.refuse_new.get()
    }

    /// The connection is going away: anything still counted here is dropped
    /// with it.
    pub fn release(&self) {
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
