//! Response bodies as hyper sees them.
//!
//! A response whose head and end arrive in the same flush from JS is a
//! [`ResBody::full`] with an exact length (hyper then writes Content-Length);
//! anything else streams through a [`Pipe`] (chunked on HTTP/1.1).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::core::exchange::ExchangeGuard;

/// The exchange ended before its response was complete.
///
/// It carries the HTTP/2 reason hyper puts in the RST_STREAM it sends (hyper
/// looks for an `h2::Error` among the error's sources); on HTTP/1.1 hyper
/// closes the connection instead.
#[derive(Debug)]
pub struct Aborted(h2::Error);

impl Aborted {
    /// Cancelled by the server: JS destroyed the response, or a forced close
    /// (RST_STREAM(CANCEL), DESIGN C9).
    pub fn cancel() -> Self {
        Aborted(h2::Reason::CANCEL.into())
    }

    /// Refused before any processing, so the client may retry it
    /// (RST_STREAM(REFUSED_STREAM), RFC 9113 §8.7).
    pub fn refused() -> Self {
        Aborted(h2::Reason::REFUSED_STREAM.into())
    }
}

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response aborted")
    }
}

impl std::error::Error for Aborted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Body bytes written by JS and not yet taken by hyper.
#[derive(Default)]
pub struct Pipe {
    queue: VecDeque<Bytes>,
    queued: usize,
    ended: bool,
    aborted: bool,
    want_drain: bool,
    waker: Option<Waker>,
}

impl Pipe {
    /// Appends a chunk from JS; `end` marks the last one.
    pub fn push(&mut self, chunk: Bytes, end: bool, want_drain: bool) {
        if !chunk.is_empty() {
            self.queued += chunk.len();
            self.queue.push_back(chunk);
        }
        self.ended |= end;
        self.want_drain |= want_drain;
        self.wake();
    }

    /// Fails the body: hyper resets the stream or closes the connection, so
    /// a truncated body is never taken for a complete one.
    pub fn abort(&mut self) {
        self.aborted = true;
        self.queue.clear();
        self.queued = 0;
        self.wake();
    }

    /// Bytes waiting for hyper.
    pub fn queued(&self) -> usize {
        self.queued
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

enum Kind {
    Full(Option<Bytes>),
    Pipe(Rc<RefCell<Pipe>>),
}

/// A response body, tied to its exchange: dropping it tells the exchange
/// whether the body was delivered whole.
pub struct ResBody {
    kind: Kind,
    finished: bool,
    guard: Option<ExchangeGuard>,
}

impl ResBody {
    /// A body known in full (possibly empty).
    pub fn full(bytes: Bytes, guard: ExchangeGuard) -> Self {
        ResBody {
            kind: Kind::Full(Some(bytes).filter(|b| !b.is_empty())),
            finished: false,
            guard: Some(guard),
        }
    }

    /// A streaming body fed through `pipe`.
    pub fn pipe(pipe: Rc<RefCell<Pipe>>, guard: ExchangeGuard) -> Self {
        ResBody {
            kind: Kind::Pipe(pipe),
            finished: false,
            guard: Some(guard),
        }
    }
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        let this = &mut *self;
        match &mut this.kind {
            Kind::Full(bytes) => match bytes.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => {
                    this.finished = true;
                    Poll::Ready(None)
                }
            },
            Kind::Pipe(pipe) => {
                let mut p = pipe.borrow_mut();
                if p.aborted {
                    return Poll::Ready(Some(Err(Aborted::cancel())));
                }
                if let Some(chunk) = p.queue.pop_front() {
                    p.queued -= chunk.len();
                    if p.queued == 0 && p.want_drain {
                        p.want_drain = false;
                        if let Some(g) = &this.guard {
                            g.drained();
                        }
                    }
                    return Poll::Ready(Some(Ok(Frame::data(chunk))));
                }
                if p.ended {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                p.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Pipe(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Pipe(_) => SizeHint::default(),
        }
    }
}

impl Drop for ResBody {
    fn drop(&mut self) {
        // A full body was handed over whole even if hyper never polled it
        // (HEAD, 304): only a streaming body can be cut short.
        let clean = self.finished || matches!(self.kind, Kind::Full(_));
        if let Some(g) = self.guard.take() {
            g.response_closed(clean);
        }
    }
}
