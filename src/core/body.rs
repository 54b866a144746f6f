//! Response bodies as hyper sees them.
//!
//! A response whose head and end arrive in the same flush from JS is a
//! [`ResBody::full`] with an exact length (hyper then writes Content-Length);
//! anything else streams through an [`Outgoing`] queue (chunked on HTTP/1.1).

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::core::outgoing::{Next, Outgoing};

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

/// What a response body tells the exchange it belongs to. Declared here
/// and implemented by the hub, so this module knows no exchange. (`Unpin`:
/// hyper polls the body pinned, and nothing in it is structurally pinned.)
pub trait BodyEvents: Unpin {
    /// The queued bytes were taken by hyper after JS asked to hear of it.
    fn drained(&self);
    /// hyper dropped the body; `clean` if it was delivered whole.
    fn closed(self, clean: bool);
}

enum Kind {
    Full(Option<Bytes>),
    Pipe(Rc<RefCell<Outgoing>>),
}

/// A response body, tied to its exchange through `G`: dropping it tells the
/// exchange whether the body was delivered whole.
pub struct ResBody<G: BodyEvents> {
    kind: Kind,
    finished: bool,
    guard: Option<G>,
}

impl<G: BodyEvents> ResBody<G> {
    /// A body known in full (possibly empty).
    pub fn full(bytes: Bytes, guard: G) -> Self {
        ResBody {
            kind: Kind::Full(Some(bytes).filter(|b| !b.is_empty())),
            finished: false,
            guard: Some(guard),
        }
    }

    /// A streaming body fed through `pipe`.
    pub fn pipe(pipe: Rc<RefCell<Outgoing>>, guard: G) -> Self {
        ResBody {
            kind: Kind::Pipe(pipe),
            finished: false,
            guard: Some(guard),
        }
    }
}

impl<G: BodyEvents> Body for ResBody<G> {
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
                match p.poll_next(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Next::Aborted) => Poll::Ready(Some(Err(Aborted::cancel()))),
                    Poll::Ready(Next::End) => match p.take_trailers() {
                        Some(trailers) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                        None => {
                            this.finished = true;
                            Poll::Ready(None)
                        }
                    },
                    Poll::Ready(Next::Bytes(chunk)) => {
                        if p.take_drain() {
                            if let Some(g) = &this.guard {
                                g.drained();
                            }
                        }
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                }
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

impl<G: BodyEvents> Drop for ResBody<G> {
    fn drop(&mut self) {
        // A full body was handed over whole even if hyper never polled it
        // (HEAD, 304): only a streaming body can be cut short.
        let clean = self.finished || matches!(self.kind, Kind::Full(_));
        if let Some(g) = self.guard.take() {
            g.closed(clean);
        }
    }
}
