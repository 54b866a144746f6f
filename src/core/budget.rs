//! The memory budget of one HTTP/2 session (Node's `maxSessionMemory`,
//! DESIGN §8 "Memory is budgeted", issue 15): what waits to be written for
//! its streams is counted, and past the budget new streams are refused.
//!
//! Counting is by the bytes themselves: every response chunk handed to an
//! HTTP/2 stream is wrapped so that dropping its last clone (once hyper and
//! h2 have written it, or the stream is gone) takes it off the count. That
//! covers the whole way out: the response body waiting for flow-control
//! window, and data h2 has taken but not yet written.
//!
//! The count only moves when JS answers, but requests reach JS in batches:
//! a client that opens 199 streams in one write would have all of them
//! answered before the first answer is counted (Node runs a synchronous
//! handler between two HEADERS frames, so its count is current at each
//! stream). So a session also has at most [`MAX_UNANSWERED`] streams waiting
//! for JS's answer, and no more than the budget left allows at the size of
//! its latest response; the rest wait (parked, not yet announced to JS)
//! until an answer comes or [`GRACE`] passes.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

/// Node's default `maxSessionMemory`: 10 (MiB here).
pub const DEFAULT_LIMIT: usize = 10 << 20;

/// Streams of one session announced to JS and not answered yet, beyond
/// which new ones wait. Bounds what one batch of requests can queue before
/// the count hears of it, to about this many responses.
pub const MAX_UNANSWERED: usize = 16;

/// How long a stream waits at most before it is announced anyway (unless
/// the session is over budget, then it is refused): long polls that do not
/// answer for a while must not hold the rest of the session.
pub const GRACE: Duration = Duration::from_millis(50);

/// What to do with a new stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Announce it to JS now.
    Now,
    /// Hold it until an answer or the grace period.
    Wait,
    /// Refuse it (RST_STREAM(REFUSED_STREAM)): the session is over budget.
    Refuse,
}

/// The budget of one HTTP/2 session.
#[derive(Default)]
pub struct SessionBudget {
    /// Bytes of responses not yet written (dropped), counted across
    /// threads because `Bytes` owners must be `Send`.
    queued: Arc<AtomicUsize>,
    /// Streams announced to JS whose head JS has not sent.
    unanswered: Cell<usize>,
    /// The size of the latest response chunk: what the next answer is
    /// likely to add.
    estimate: Cell<usize>,
}

impl SessionBudget {
    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Streams waiting for JS's answer.
    pub fn unanswered(&self) -> usize {
        self.unanswered.get()
    }

    /// Whether a new stream may go to JS under `limit` bytes. `grace`: it
    /// has waited long enough, so only the budget itself holds it back.
    pub fn admit(&self, limit: usize, grace: bool) -> Admit {
        let queued = self.queued();
        if queued >= limit {
            return Admit::Refuse;
        }
        if grace {
            return Admit::Now;
        }
        let unanswered = self.unanswered.get();
        let expected = unanswered.saturating_mul(self.estimate.get());
        if unanswered >= MAX_UNANSWERED || queued.saturating_add(expected) >= limit {
            Admit::Wait
        } else {
            Admit::Now
        }
    }

    /// A stream went to JS.
    pub fn announced(&self) {
        self.unanswered.set(self.unanswered.get() + 1);
    }

    /// JS answered a stream (or it ended before the answer).
    pub fn answered(&self) {
        self.unanswered.set(self.unanswered.get().saturating_sub(1));
    }

    /// `bytes`, counted until its last clone is dropped.
    pub fn count(&self, bytes: Bytes) -> Bytes {
        let len = bytes.len();
        if len == 0 {
            return bytes;
        }
        self.estimate.set(len);
        self.queued.fetch_add(len, Ordering::Relaxed);
        Bytes::from_owner(Counted {
            bytes,
            queued: self.queued.clone(),
        })
    }
}

/// Bytes on the session's count while they live.
struct Counted {
    bytes: Bytes,
    queued: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.queued.fetch_sub(self.bytes.len(), Ordering::Relaxed);
    }
}

/// `mib` (Node's `maxSessionMemory`, at least 1) in bytes.
pub fn limit_of(mib: f64) -> usize {
    if mib.is_nan() {
        return DEFAULT_LIMIT;
    }
    let bytes = mib.max(1.0) * (1u64 << 20) as f64;
    if bytes >= (usize::MAX / 2) as f64 {
        usize::MAX / 2
    } else {
        bytes as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_count_until_their_last_clone_is_dropped() {
        let b = SessionBudget::default();
        let counted = b.count(Bytes::from(vec![0u8; 1000]));
        let slice = counted.slice(10..20);
        assert_eq!(b.queued(), 1000);
        drop(counted);
        assert_eq!(b.queued(), 1000, "a slice still holds it");
        drop(slice);
        assert_eq!(b.queued(), 0);
    }

    #[test]
    fn past_the_budget_streams_are_refused_and_a_burst_waits() {
        let b = SessionBudget::default();
        let limit = 10 << 20;
        for _ in 0..MAX_UNANSWERED {
            assert_eq!(b.admit(limit, false), Admit::Now);
            b.announced();
        }
        assert_eq!(b.admit(limit, false), Admit::Wait, "a burst waits");
        assert_eq!(b.admit(limit, true), Admit::Now, "until its grace");
        // Answers of 1 MiB each: with 8 queued and 8 unanswered, the
        // budget left is expected to go to those.
        let held: Vec<Bytes> = (0..8)
            .map(|_| {
                b.answered();
                b.count(Bytes::from(vec![0u8; 1 << 20]))
            })
            .collect();
        assert_eq!(b.admit(limit, false), Admit::Wait);
        let more: Vec<Bytes> = (0..2)
            .map(|_| {
                b.answered();
                b.count(Bytes::from(vec![0u8; 1 << 20]))
            })
            .collect();
        assert_eq!(b.admit(limit, true), Admit::Refuse, "10 MiB queued");
        drop(held);
        drop(more);
        assert_eq!(b.admit(limit, true), Admit::Now, "written: room again");
    }

    #[test]
    fn the_limit_is_in_mib_and_at_least_one() {
        assert_eq!(limit_of(10.0), DEFAULT_LIMIT);
        assert_eq!(limit_of(0.0), 1 << 20);
        assert_eq!(limit_of(f64::NAN), DEFAULT_LIMIT);
        assert_eq!(limit_of(f64::INFINITY), usize::MAX / 2);
    }
}
