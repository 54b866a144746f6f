//! Counting connections (DESIGN C2): from accept until the socket is closed
//! and its task has ended. Reaching zero wakes whoever waits for it; nothing
//! polls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::core::dispatch::Outbox;
use crate::core::wire::{self, Put};

/// Open-connection count of one server.
#[derive(Default)]
pub struct Tracker {
    open: AtomicUsize,
    zero: Notify,
}

impl Tracker {
    /// Connections currently counted.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts a new connection until the guard is dropped.
    pub fn track(self: &Arc<Self>, id: u32, outbox: Arc<Outbox>) -> ConnGuard {
        self.open.fetch_add(1, Ordering::AcqRel);
        ConnGuard {
            tracker: self.clone(),
            id,
            outbox,
        }
    }

    /// Resolves once no connection is open.
    pub async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One counted connection. Drop it only after the socket is closed.
pub struct ConnGuard {
    tracker: Arc<Tracker>,
    id: u32,
    outbox: Arc<Outbox>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let id = self.id;
        self.outbox.push(|b| {
            b.put_u8(wire::EV_CONN_CLOSE);
            b.put_u32(id);
        });
        if self.tracker.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker.zero.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dispatch::Doorbell;

    struct Quiet;
    impl Doorbell for Quiet {
        fn ring(&self) {}
        fn closed(&self) {}
    }

    #[tokio::test(flavor = "current_thread")]
    async fn wait_zero_resolves_when_the_last_guard_drops() {
        let t = Arc::new(Tracker::default());
        let out = Arc::new(Outbox::new(Arc::new(Quiet)));
        let a = t.track(1, out.clone());
        let b = t.track(2, out.clone());
        assert_eq!(t.open(), 2);
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.wait_zero().await });
        tokio::task::yield_now().await;
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.unwrap();
        assert_eq!(t.open(), 0);
        assert_eq!(out.take().len(), 10, "two EV_CONN_CLOSE records");
    }
}
