//! HTTP/2 `requestTimeout`: the deadlines of uploads still arriving, and one
//! sweep timer for all of them instead of a timer per upload (which cost 5%
//! of a small-upload benchmark).
//!
//! Node has no requestTimeout for HTTP/2, but without one a client that
//! stalls mid-upload would hold close() forever (DESIGN C7). HTTP/1.1 keeps
//! its one deadline in the connection task instead.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How often the sweeper looks for uploads past their deadline. Node checks
/// HTTP/1.1's every 30 s.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// The deadline of one upload. It counts itself among the sweeper's timed
/// uploads while it lives, so the sweeper sleeps when there are none.
pub struct Deadline {
    at: Instant,
    timed: Rc<Cell<usize>>,
}

impl Deadline {
    /// Whether the deadline has passed at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.at <= now
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.timed.set(self.timed.get() - 1);
    }
}

/// Counts the live deadlines and paces the sweep.
#[derive(Default)]
pub struct Sweeper {
    timed: Rc<Cell<usize>>,
    /// Wakes the sweep when the first timed upload begins.
    wake: Notify,
}

impl Sweeper {
    /// A deadline at `at`, counted until it is dropped.
    pub fn deadline(&self, at: Instant) -> Deadline {
        if self.timed.get() == 0 {
            self.wake.notify_one();
        }
        self.timed.set(self.timed.get() + 1);
        Deadline {
            at,
            timed: self.timed.clone(),
        }
    }

    /// Resolves when it is time to look for deadlines that passed: every
    /// [`SWEEP_EVERY`] while any deadline lives, never while none does.
    pub async fn tick(&self) {
        while self.timed.get() == 0 {
            self.wake.notified().await;
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_sweep_sleeps_while_no_deadline_lives() {
        let sweeper = Sweeper::default();
        let idle = tokio::time::timeout(SWEEP_EVERY * 2, sweeper.tick()).await;
        assert!(idle.is_err(), "no sweep while no deadline lives");
        let d = sweeper.deadline(Instant::now());
        assert!(d.is_due(Instant::now()));
        let busy = tokio::time::timeout(SWEEP_EVERY * 2, sweeper.tick()).await;
        assert!(busy.is_ok(), "a sweep while one lives");
        drop(d);
        assert_eq!(sweeper.timed.get(), 0);
    }
}
