//! The two mailboxes between the I/O thread and the JS thread.
//!
//! DESIGN §3: the per-request cost is dominated by thread hand-off, so each
//! direction wakes the other side only when its mailbox goes from empty to
//! non-empty, and the other side takes everything in one go.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::core::wire::{self, Op};

/// Body chunks at least this long travel beside the records (EV_BODY_AT)
/// instead of inside them. JS gets each as a Buffer of its own, so a chunk
/// it keeps pins only itself, not a whole batch of other requests' bodies,
/// and its bytes are copied once (hyper's buffer → JS) instead of twice.
/// Shorter chunks are not worth a native call each.
pub const OUT_OF_BAND: usize = 4 * 1024;

/// What the core needs from its host (the JS binding, or a test).
pub trait Doorbell: Send + Sync + 'static {
    /// Events are waiting in the outbox. Called only when the outbox goes
    /// from empty to non-empty; must not block.
    fn ring(&self);
    /// The server is fully closed: the listener is gone and every connection
    /// has ended. Called exactly once, as the I/O thread's last act.
    fn closed(&self);
}

/// A doorbell nobody listens to, for the core's own tests.
#[cfg(test)]
pub struct Quiet;

#[cfg(test)]
impl Doorbell for Quiet {
    fn ring(&self) {}
    fn closed(&self) {}
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these plain buffers
    // half-updated in a way that matters more than losing the server, so
    // poisoning is ignored rather than turned into a second panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one drain hands over: the records, and the large body chunks that
/// EV_BODY_AT records point into by index.
#[derive(Default)]
struct Batch {
    records: Vec<u8>,
    chunks: Vec<Bytes>,
}

/// Events from the I/O thread to JS, as one growing byte buffer.
pub struct Outbox {
    buf: Mutex<Batch>,
    /// The buffer last drained, emptied and kept for the next swap, so a
    /// drain neither allocates nor touches fresh pages.
    spare: Mutex<Vec<u8>>,
    doorbell: Arc<dyn Doorbell>,
    /// Ring when the I/O thread is about to park rather than at once.
    deferred: bool,
    pending: std::sync::atomic::AtomicBool,
}

impl Outbox {
    /// An empty outbox that rings `doorbell`.
    pub fn new(doorbell: Arc<dyn Doorbell>) -> Self {
        Outbox {
            buf: Mutex::new(Batch {
                records: Vec::with_capacity(16 * 1024),
                chunks: Vec::new(),
            }),
            spare: Mutex::new(Vec::with_capacity(16 * 1024)),
            doorbell,
            deferred: false,
            pending: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// An outbox that rings only from [`Outbox::ring_if_pending`], which the
    /// I/O thread calls just before it parks: everything it found in one
    /// pass over the ready sockets reaches JS in one wake-up.
    pub fn deferred(doorbell: Arc<dyn Doorbell>) -> Self {
        Outbox {
            deferred: true,
            ..Outbox::new(doorbell)
        }
    }

    /// Rings if a deferred ring is owed.
    pub fn ring_if_pending(&self) {
        if self
            .pending
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            self.doorbell.ring();
        }
    }

    /// Appends records with `write` and rings if the outbox was empty.
    pub fn push(&self, write: impl FnOnce(&mut Vec<u8>)) {
        self.push_batch(|b| write(&mut b.records));
    }

    /// Appends a record that is only a kind and an id (EV_END, EV_ABORT,
    /// EV_DRAIN, EV_CONN_CLOSE): every such event goes through here.
    pub fn push_event(&self, kind: u8, id: u32) {
        self.push(|b| wire::put_event(b, kind, id));
    }

    /// Appends one request-body (or tunnel) chunk for exchange `id`: in the
    /// records when short, beside them when long (see [`OUT_OF_BAND`]).
    pub fn push_body(&self, id: u32, data: Bytes) {
        self.push_batch(|b| {
            if data.len() < OUT_OF_BAND {
                wire::put_body(&mut b.records, id, &data);
            } else {
                wire::put_body_at(&mut b.records, id, b.chunks.len() as u32);
                b.chunks.push(data);
            }
        });
    }

    fn push_batch(&self, write: impl FnOnce(&mut Batch)) {
        let was_empty = {
            let mut batch = lock(&self.buf);
            let was_empty = batch.records.is_empty();
            write(&mut batch);
            was_empty && !batch.records.is_empty()
        };
        // Ring outside the lock: the doorbell may take its own locks.
        if was_empty {
            if self.deferred {
                self.pending
                    .store(true, std::sync::atomic::Ordering::Release);
            } else {
                self.doorbell.ring();
            }
        }
    }

    /// Takes every pending record (tests read the outbox this way).
    #[cfg(test)]
    pub fn take(&self) -> Vec<u8> {
        self.drain_with(|records, _| records.to_vec())
    }

    /// Hands every pending record, and the chunks EV_BODY_AT records point
    /// to, to `read` without holding the lock while it runs; the record
    /// buffer is then recycled.
    pub fn drain_with<R>(&self, read: impl FnOnce(&[u8], Vec<Bytes>) -> R) -> R {
        let mut taken = std::mem::take(&mut *lock(&self.spare));
        let chunks = {
            let mut batch = lock(&self.buf);
            std::mem::swap(&mut taken, &mut batch.records);
            std::mem::take(&mut batch.chunks)
        };
        let out = read(&taken, chunks);
        taken.clear();
        // A burst may have grown it a lot; do not keep that forever.
        if taken.capacity() > 1024 * 1024 {
            taken = Vec::with_capacity(16 * 1024);
        }
        *lock(&self.spare) = taken;
        out
    }

    /// Tells the host the server is fully closed.
    pub fn closed(&self) {
        self.doorbell.closed();
    }
}

/// Instructions from JS to the I/O thread.
#[derive(Default)]
pub struct Inbox {
    ops: Mutex<Vec<Op>>,
    notify: Notify,
}

impl Inbox {
    /// Queues `ops` and wakes the pump. One wake per flush from JS.
    pub fn submit(&self, ops: Vec<Op>) {
        if ops.is_empty() {
            return;
        }
        lock(&self.ops).extend(ops);
        self.notify.notify_one();
    }

    /// Waits until ops are queued, then takes them all.
    pub async fn next(&self) -> Vec<Op> {
        loop {
            let ops = std::mem::take(&mut *lock(&self.ops));
            if !ops.is_empty() {
                return ops;
            }
            self.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counter(AtomicUsize);
    impl Doorbell for Counter {
        fn ring(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn closed(&self) {}
    }

    #[test]
    fn rings_only_when_the_outbox_goes_from_empty_to_non_empty() {
        let bell = Arc::new(Counter::default());
        let out = Outbox::new(bell.clone());
        out.push(|b| b.push(1));
        out.push(|b| b.push(2));
        out.push(|_| {});
        assert_eq!(bell.0.load(Ordering::SeqCst), 1);
        assert_eq!(out.take(), vec![1, 2]);
        out.push(|_| {});
        assert_eq!(
            bell.0.load(Ordering::SeqCst),
            1,
            "an empty push does not ring"
        );
        out.push(|b| b.push(3));
        assert_eq!(bell.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn long_body_chunks_travel_beside_the_records_in_order() {
        let out = Outbox::new(Arc::new(Counter::default()));
        let long = Bytes::from(vec![7u8; OUT_OF_BAND]);
        out.push_body(1, Bytes::from_static(b"short"));
        out.push_body(2, long.clone());
        out.push_body(3, long.slice(1..));
        let (records, chunks) = out.drain_with(|r, c| (r.to_vec(), c));
        let mut want = vec![wire::EV_BODY, 1, 0, 0, 0, 5, 0, 0, 0];
        want.extend_from_slice(b"short");
        want.extend_from_slice(&[wire::EV_BODY_AT, 2, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[wire::EV_BODY, 3, 0, 0, 0]);
        want.extend_from_slice(&((OUT_OF_BAND - 1) as u32).to_le_bytes());
        want.extend_from_slice(&long[1..]);
        assert_eq!(records, want);
        assert_eq!(chunks, vec![long]);
        let (records, chunks) = out.drain_with(|r, c| (r.to_vec(), c));
        assert!(
            records.is_empty() && chunks.is_empty(),
            "a drain takes the chunks too"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn inbox_wakeup_is_never_lost() {
        let inbox = Arc::new(Inbox::default());
        inbox.submit(vec![Op::Demand { id: 1 }]);
        assert_eq!(inbox.next().await, vec![Op::Demand { id: 1 }]);
        let i2 = inbox.clone();
        let t = std::thread::spawn(move || i2.submit(vec![Op::Abort { id: 2 }]));
        assert_eq!(inbox.next().await, vec![Op::Abort { id: 2 }]);
        let _ = t.join();
    }
}
