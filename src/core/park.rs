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
use crate::core::ids::IdMap;

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

/// Every waiting stream of one server, by session, oldest first, and the
/// ids refused whose reply has not heard it yet.
///
/// One queue per session: a server-wide queue scanned for a session's
/// streams cost a scan and a shift of the whole queue per stream taken, and
/// with 100 sessions of 100 streams each that was a quarter of the I/O
/// thread (memmove).
pub struct ParkingLot<R> {
    sessions: RefCell<IdMap<VecDeque<Parked<R>>>>,
    /// The session of every waiting stream, by stream id.
    session_of: RefCell<IdMap<u32>>,
    refused: RefCell<HashSet<u32>>,
}

impl<R> Default for ParkingLot<R> {
    fn default() -> Self {
        ParkingLot {
            sessions: RefCell::new(IdMap::default()),
            session_of: RefCell::new(IdMap::default()),
            refused: RefCell::new(HashSet::new()),
        }
    }
}

impl<R> ParkingLot<R> {
    /// Holds a stream; `true` if it is the first of its session waiting.
    pub fn park(&self, parked: Parked<R>) -> bool {
        let conn = parked.conn.id;
        self.session_of.borrow_mut().insert(parked.id, conn);
        let mut sessions = self.sessions.borrow_mut();
        let queue = sessions.entry(conn).or_default();
        queue.push_back(parked);
        queue.len() == 1
    }

    /// Whether session `conn` has a stream waiting.
    pub fn has(&self, conn: u32) -> bool {
        self.sessions.borrow().contains_key(&conn)
    }

    /// The oldest stream of session `conn`.
    pub fn take(&self, conn: u32) -> Option<Parked<R>> {
        let mut sessions = self.sessions.borrow_mut();
        let queue = sessions.get_mut(&conn)?;
        let parked = queue.pop_front();
        if queue.is_empty() {
            sessions.remove(&conn);
        }
        if let Some(p) = &parked {
            self.session_of.borrow_mut().remove(&p.id);
        }
        parked
    }

    /// Refuses every waiting stream of session `conn`: their replies fail,
    /// and [`ParkingLot::was_refused`] tells them why.
    pub fn refuse_all(&self, conn: u32) {
        let gone = self.sessions.borrow_mut().remove(&conn).unwrap_or_default();
        {
            let mut session_of = self.session_of.borrow_mut();
            let mut refused = self.refused.borrow_mut();
            for p in &gone {
                session_of.remove(&p.id);
                refused.insert(p.id);
            }
        }
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
        self.refused.borrow_mut().remove(&id);
        let Some(conn) = self.session_of.borrow_mut().remove(&id) else {
            return;
        };
        let gone = {
            let mut sessions = self.sessions.borrow_mut();
            let Some(queue) = sessions.get_mut(&conn) else {
                return;
            };
            let gone = queue
                .iter()
                .position(|p| p.id == id)
                .and_then(|at| queue.remove(at));
            if queue.is_empty() {
                sessions.remove(&conn);
            }
            gone
        };
        drop(gone);
    }

    /// How many streams wait, in every session (tests).
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.session_of.borrow().len()
    }
}
