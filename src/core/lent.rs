//! Bytes lent by the host (JS Buffers written with `res.write()` /
//! `res.end()`), used in place instead of copied (DESIGN §8 "Memory is
//! budgeted"; issue 15: 100 non-reading connections each sent the same
//! 4 MiB Buffer held 100 copies, 456 MiB, where Node holds one).
//!
//! The host keeps the memory alive until it hears `EV_RELEASE` with the
//! loan's token; that record is pushed when the last `Bytes` over the loan
//! is dropped, on whichever thread drops it.

use std::sync::Arc;

use bytes::Bytes;

use crate::core::dispatch::Outbox;
use crate::core::wire;

/// One loan: the host's bytes and the token it is returned under.
struct Loan<T> {
    bytes: T,
    token: u32,
    outbox: Arc<Outbox>,
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Loan<T> {
    fn as_ref(&self) -> &[u8] {
        self.bytes.as_ref()
    }
}

impl<T> Drop for Loan<T> {
    fn drop(&mut self) {
        self.outbox.push_event(wire::EV_RELEASE, self.token);
    }
}

/// `bytes` as a `Bytes`, returned to the host under `token` (an
/// `EV_RELEASE` record in `outbox`) when the last clone is dropped.
pub fn lend<T>(bytes: T, token: u32, outbox: Arc<Outbox>) -> Bytes
where
    T: AsRef<[u8]> + Send + 'static,
{
    Bytes::from_owner(Loan {
        bytes,
        token,
        outbox,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dispatch::Quiet;

    #[test]
    fn a_loan_is_returned_when_its_last_clone_is_dropped() {
        let outbox = Arc::new(Outbox::new(Arc::new(Quiet)));
        let b = lend(vec![1u8; 100], 7, outbox.clone());
        let c = b.slice(10..20);
        drop(b);
        let mut records = Vec::new();
        outbox.drain_with(|r, _| records.extend_from_slice(r));
        assert!(records.is_empty(), "a slice still holds it");
        drop(c);
        outbox.drain_with(|r, _| records.extend_from_slice(r));
        let mut want = Vec::new();
        wire::put_event(&mut want, wire::EV_RELEASE, 7);
        assert_eq!(records, want);
    }
}
