//! The doorbell: how the I/O thread wakes JS.

use std::sync::Mutex;

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};

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

impl JsDoorbell {
    /// Whether the anchor keeps Node's event loop alive: `server.unref()`
    /// lets the process exit while the server still listens, as Node's
    /// handles do. A no-op once the server has closed.
    pub fn set_ref(&self, env: &Env, keep_alive: bool) -> napi::Result<()> {
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tsfn) = closed.as_mut() else {
            return Ok(());
        };
        // napi-rs deprecates these in favour of cloning for reference
        // counting; here they mean what napi_ref/unref_threadsafe_function
        // mean, whether the function keeps the event loop alive.
        #[allow(deprecated)]
        if keep_alive {
            tsfn.refer(env)
        } else {
            tsfn.unref(env)
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
