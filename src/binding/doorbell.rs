//! The doorbell: how the I/O thread wakes JS.

use std::sync::Mutex;

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;

use crate::core::dispatch::Doorbell;

/// Rings JS through two threadsafe functions.
///
/// `ring` is weak: it never keeps Node alive. `closed` is strong and is the
/// one anchor that keeps the event loop running while the server listens or
/// closes (DESIGN §4); it is released right after its single call.
pub struct JsDoorbell {
    ring: ThreadsafeFunction<(), (), (), Status, false, true>,
    closed: Mutex<Option<ThreadsafeFunction<(), (), (), Status, false, false>>>,
}

impl JsDoorbell {
    /// Wraps the two threadsafe functions.
    pub fn new(
        ring: ThreadsafeFunction<(), (), (), Status, false, true>,
        closed: ThreadsafeFunction<(), (), (), Status, false, false>,
    ) -> Self {
        JsDoorbell {
            ring,
            closed: Mutex::new(Some(closed)),
        }
    }
}

impl Doorbell for JsDoorbell {
    fn ring(&self) {
        self.ring.call((), ThreadsafeFunctionCallMode::NonBlocking);
    }

    fn closed(&self) {
        let tsfn = self.closed.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tsfn) = tsfn {
            tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
            // Dropping releases the anchor; the queued call is still delivered.
            drop(tsfn);
        }
    }
}
