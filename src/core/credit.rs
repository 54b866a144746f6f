//! Read-ahead credit: how many bytes the I/O thread may read from a peer
//! before JS asks for more. One type for request bodies and tunnels, so
//! backpressure works the same way in both (DESIGN §3: a body is read only
//! as JS consumes it).

use std::cell::Cell;

use tokio::sync::Notify;

/// How much may be read ahead of JS per demand.
pub const READ_AHEAD: usize = 256 * 1024;

/// Bytes a reader may still take before it waits for JS, shared by whoever
/// grants them (the hub, on JS's demand) and the reader task.
#[derive(Default)]
pub struct Credit {
    bytes: Cell<usize>,
    stop: Cell<bool>,
    notify: Notify,
}

impl Credit {
    /// A credit of `bytes` to begin with.
    pub fn new(bytes: usize) -> Self {
        let credit = Credit::default();
        credit.bytes.set(bytes);
        credit
    }

    /// JS wants more: the reader may take up to [`READ_AHEAD`] bytes.
    pub fn demand(&self) {
        self.grant(READ_AHEAD);
    }

    /// The reader may take up to `bytes` from now (`usize::MAX`: no limit).
    pub fn grant(&self, bytes: usize) {
        self.bytes.set(bytes);
        self.notify.notify_one();
    }

    /// The reader took `n` bytes.
    pub fn spend(&self, n: usize) {
        self.bytes.set(self.bytes.get().saturating_sub(n));
    }

    /// What the reader may take now.
    pub fn available(&self) -> usize {
        self.bytes.get()
    }

    /// The reader must stop.
    pub fn stop(&self) {
        self.stop.set(true);
        self.notify.notify_one();
    }

    /// Whether the reader must stop.
    pub fn is_stopped(&self) -> bool {
        self.stop.get()
    }

    /// Whether the reader has to wait: no credit, and not stopped.
    pub fn is_exhausted(&self) -> bool {
        self.bytes.get() == 0 && !self.stop.get()
    }

    /// Resolves at the next grant or stop (one wake is kept if nobody was
    /// waiting, so a grant between a check and this wait is not lost).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }

    /// Waits while there is no credit; `false` once the reader must stop.
    pub async fn ready(&self) -> bool {
        while self.is_exhausted() {
            self.changed().await;
        }
        !self.stop.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_reader_waits_for_credit_and_stops_when_told() {
        let credit = std::rc::Rc::new(Credit::new(10));
        assert!(credit.ready().await);
        credit.spend(25);
        assert!(credit.is_exhausted());
        credit.demand();
        assert!(credit.ready().await);
        assert_eq!(credit.available(), READ_AHEAD);
        credit.spend(READ_AHEAD);
        credit.stop();
        assert!(!credit.ready().await);
    }
}
