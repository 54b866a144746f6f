//! A future that is polled only after its own waker fired.
//!
//! A connection task waits in one `select!` on hyper's connection and on
//! rare events (closing, `closeIdleConnections()`, a forced close, a request
//! deadline being set). `select!` polls every branch at every wake of the
//! task, and the task wakes two or three times per request for hyper; each
//! pending `watch::changed()` / `Notify::notified()` takes a lock on every
//! poll. Behind a [`Gate`], those waits cost one lock per wake and are
//! polled only when one of them was actually woken.
//!
//! A leaf: it knows only futures and wakers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// The waker the inner future sees: it marks the gate open and wakes the
/// task that polls the gate. `Send + Sync`, as the events may come from the
/// JS thread (`closeIdleConnections()`).
struct Opener {
    open: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for Opener {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.open.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// Polls `F` on its first poll and then only after `F` asked to be woken.
pub struct Gate<F> {
    inner: F,
    opener: Arc<Opener>,
}

/// Puts `inner` behind a gate.
pub fn gate<F: Future>(inner: F) -> Gate<F> {
    Gate {
        inner,
        opener: Arc::new(Opener {
            open: AtomicBool::new(true),
            task: Mutex::new(None),
        }),
    }
}

impl<F: Future> Future for Gate<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of
        // the gate nor handed out unpinned; `opener` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        {
            let mut task = this.opener.task.lock().unwrap_or_else(|e| e.into_inner());
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        // Cleared before polling: a wake during the poll opens it again.
        if !this.opener.open.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let waker = Waker::from(this.opener.clone());
        // SAFETY: see above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        inner.poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use super::gate;
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::pin;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    /// The inner future is polled first, then only once woken; the gate's
    /// own waker reaches the task.
    #[tokio::test(flavor = "current_thread")]
    async fn inner_is_polled_only_after_its_waker_fired() {
        let polls = Rc::new(Cell::new(0));
        let notify = Rc::new(tokio::sync::Notify::new());
        let (p, n) = (polls.clone(), notify.clone());
        let mut g = pin!(gate(async move {
            p.set(p.get() + 1);
            let first = n.notified();
            let mut first = pin!(first);
            std::future::poll_fn(|cx| {
                p.set(p.get() + 1);
                first.as_mut().poll(cx)
            })
            .await;
            7
        }));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(g.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 2);
        // Woken for something else: the inner future is left alone.
        assert!(g.as_mut().poll(&mut cx).is_pending());
        assert!(g.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 2);
        notify.notify_one();
        assert_eq!(g.as_mut().poll(&mut cx), Poll::Ready(7));
        assert_eq!(polls.get(), 3);
    }
}
