//! The response head of one exchange, as hyper awaits it.
//!
//! The work of serving a request is done before this future exists, so the
//! future hyper keeps (and moves into the task it spawns per HTTP/2 stream)
//! is a few words, not the whole request: moving that state around was a
//! visible share of the I/O thread's time.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::core::body::Aborted;

/// Who hears of a reply dropped before JS answered it (the client went
/// away before the response head). Declared here, implemented by the hub.
pub trait Abandon {
    /// Exchange `id` lost its client before its head was sent.
    fn abandoned(&self, id: u32);
    /// Whether exchange `id`'s reply failed because it was refused before
    /// reaching JS (asked once, when it fails).
    fn was_refused(&self, id: u32) -> bool;
}

/// The response head of one exchange, as hyper awaits it.
pub struct Reply<R, A: Abandon>(State<R, A>);

enum State<R, A> {
    /// Refused before reaching JS (RST_STREAM(REFUSED_STREAM)).
    Refused,
    /// Answered without JS (an upgrade refused while closing).
    Ready(Box<R>),
    /// Waiting for JS to send the head of exchange `id`; dropped in this
    /// state, the exchange is abandoned.
    Waiting(oneshot::Receiver<R>, Rc<A>, u32),
    /// Already returned its output.
    Done,
}

impl<R, A: Abandon> Reply<R, A> {
    /// Refused before any processing, so the client may retry it.
    pub fn refused() -> Self {
        Reply(State::Refused)
    }

    /// Answered at once, without JS.
    pub fn ready(res: R) -> Self {
        Reply(State::Ready(Box::new(res)))
    }

    /// Waits for `rx`; if dropped first, `owner` hears exchange `id` was
    /// abandoned.
    pub fn waiting(rx: oneshot::Receiver<R>, owner: Rc<A>, id: u32) -> Self {
        Reply(State::Waiting(rx, owner, id))
    }
}

impl<R, A: Abandon> Future for Reply<R, A> {
    type Output = Result<R, Aborted>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let state = &mut self.0;
        if let State::Waiting(rx, owner, id) = state {
            let got = match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(got) => got,
            };
            let got = match got {
                Ok(res) => Ok(res),
                Err(_) if owner.was_refused(*id) => Err(Aborted::refused()),
                Err(_) => Err(Aborted::cancel()),
            };
            // Answered (or aborted already): nothing to report on drop.
            *state = State::Done;
            return Poll::Ready(got);
        }
        Poll::Ready(match std::mem::replace(state, State::Done) {
            State::Ready(res) => Ok(*res),
            State::Refused => Err(Aborted::refused()),
            State::Waiting(..) | State::Done => Err(Aborted::cancel()),
        })
    }
}

impl<R, A: Abandon> Drop for Reply<R, A> {
    fn drop(&mut self) {
        if let State::Waiting(_, owner, id) = &self.0 {
            owner.abandoned(*id);
        }
    }
}
