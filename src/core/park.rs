//! HTTP/2 streams hyper accepted that wait before JS hears of them: their
//! session has as many streams waiting for JS's answer as its budget allows
//! (budget.rs). Each is announced later, or refused with REFUSED_STREAM,
//! which the client may safely retry since it never reached JS (DESIGN C13).

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;

use http::Request;
use hyper::body::Incoming;
use tokio::sync::oneshot;

use crate::core::conn_state::ConnState;

/// One waiting stream: the id its reply waits under, and what announcing
/// it needs.
pub struct Parked<R> {
    /// The exchange id it will have.
    pub id: u32,
    /// Its session.
    pub conn: Rc<ConnState>,
    /// The request, unread.
    pub req: Request<Incoming>,
    /// Where its response head goes.
    pub reply: oneshot::Sender<R>,
}

/// Every waiting stream of one server, oldest first, and the ids refused
/// whose reply has not heard it yet.
pub struct ParkingLot<R> {
    waiting: RefCell<VecDeque<Parked<R>>>,
    refused: RefCell<HashSet<u32>>,
}

impl<R> Default for ParkingLot<R> {
    fn default() -> Self {
        ParkingLot {
            waiting: RefCell::new(VecDeque::new()),
            refused: RefCell::new(HashSet::new()),
        }
    }
}

impl<R> ParkingLot<R> {
    /// Holds a stream; `true` if it is the first of its session waiting.
    pub fn park(&self, parked: Parked<R>) -> bool {
        let mut waiting = self.waiting.borrow_mut();
        let first = !waiting.iter().any(|p| p.conn.id == parked.conn.id);
        waiting.push_back(parked);
        first
    }

    /// Whether session `conn` has a stream waiting.
    pub fn has(&self, conn: u32) -> bool {
        self.waiting.borrow().iter().any(|p| p.conn.id == conn)
    }

    /// The oldest stream of session `conn`.
    pub fn take(&self, conn: u32) -> Option<Parked<R>> {
        let mut waiting = self.waiting.borrow_mut();
        let at = waiting.iter().position(|p| p.conn.id == conn)?;
        waiting.remove(at)
    }

    /// Refuses every waiting stream of session `conn`: their replies fail,
    /// and [`ParkingLot::was_refused`] tells them why.
    pub fn refuse_all(&self, conn: u32) {
        let mut gone = Vec::new();
        let mut waiting = self.waiting.borrow_mut();
        while let Some(at) = waiting.iter().position(|p| p.conn.id == conn) {
            gone.extend(waiting.remove(at));
        }
        drop(waiting);
        self.refused.borrow_mut().extend(gone.iter().map(|p| p.id));
        // Dropped after the ids are marked: each reply, woken by its sender
        // closing, finds its id.
        drop(gone);
    }

    /// Whether stream `id` was refused (asked once, by its reply).
    pub fn was_refused(&self, id: u32) -> bool {
        self.refused.borrow_mut().remove(&id)
    }

    /// Forgets stream `id` (its client went away).
    pub fn forget(&self, id: u32) {
        self.waiting.borrow_mut().retain(|p| p.id != id);
        self.refused.borrow_mut().remove(&id);
    }
}
