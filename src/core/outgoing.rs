//! Bytes JS wrote for the peer that are not written yet: one queue for
//! streaming response bodies and for tunnels, with the same rules for the
//! end, an abort and `'drain'`.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

/// What a writer finds in the queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Bytes to write.
    Bytes(Bytes),
    /// Everything is written and JS ended the stream.
    End,
    /// The stream was aborted: stop writing.
    Aborted,
}

/// Bytes from JS waiting to be written, in order.
#[derive(Default)]
pub struct Outgoing {
    queue: VecDeque<Bytes>,
    queued: usize,
    ended: bool,
    aborted: bool,
    want_drain: bool,
    trailers: Option<HeaderMap>,
    waker: Option<Waker>,
}

impl Outgoing {
    /// Appends a chunk from JS; `end` marks the last one; `want_drain`: JS
    /// wants to hear when the queue has been written out.
    pub fn push(&mut self, chunk: Bytes, end: bool, want_drain: bool) {
        if !chunk.is_empty() {
            self.queued += chunk.len();
            self.queue.push_back(chunk);
        }
        self.ended |= end;
        self.want_drain |= want_drain;
        self.wake();
    }

    /// Trailers to send after the last chunk (response bodies only).
    pub fn set_trailers(&mut self, trailers: HeaderMap) {
        self.trailers = Some(trailers);
    }

    /// The trailers, once: taken by the body after its last chunk.
    pub fn take_trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }

    /// Drops what is queued and fails the stream.
    pub fn abort(&mut self) {
        self.aborted = true;
        self.queue.clear();
        self.queued = 0;
        self.wake();
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Whether JS ended the stream (its last bytes may still be queued).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The next chunk, the end, or the abort; `Pending` (and a wake when
    /// JS pushes) while there is nothing to do.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        self.poll_with(cx, |queue| queue.pop_front())
    }

    /// As [`Outgoing::poll_next`], but small chunks queued together (a
    /// WebSocket frame header and its payload, several messages) come as
    /// one, so they go out in one write instead of one syscall each.
    pub fn poll_gathered(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        self.poll_with(cx, take_batch)
    }

    fn poll_with(
        &mut self,
        cx: &mut Context<'_>,
        take: impl FnOnce(&mut VecDeque<Bytes>) -> Option<Bytes>,
    ) -> Poll<Next> {
        if self.aborted {
            return Poll::Ready(Next::Aborted);
        }
        if let Some(chunk) = take(&mut self.queue) {
            self.queued -= chunk.len();
            return Poll::Ready(Next::Bytes(chunk));
        }
        if self.ended {
            return Poll::Ready(Next::End);
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Whether JS is owed a `'drain'` now: it asked, and the queue is
    /// empty. Answers yes once per ask.
    pub fn take_drain(&mut self) -> bool {
        if self.queued == 0 && self.want_drain {
            self.want_drain = false;
            return true;
        }
        false
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// The next bytes to write, small chunks joined up to 64 KiB.
fn take_batch(queue: &mut VecDeque<Bytes>) -> Option<Bytes> {
    const GATHER: usize = 64 * 1024;
    let first = queue.pop_front()?;
    if first.len() >= GATHER || queue.front().is_none_or(|n| first.len() + n.len() > GATHER) {
        return Some(first);
    }
    let mut joined = BytesMut::with_capacity(GATHER.min(first.len() * 4).max(first.len()));
    joined.extend_from_slice(&first);
    while let Some(next) = queue.front() {
        if joined.len() + next.len() > GATHER {
            break;
        }
        joined.extend_from_slice(next);
        queue.pop_front();
    }
    Some(joined.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn next(q: &mut Outgoing, gather: bool) -> Poll<Next> {
        let mut cx = Context::from_waker(Waker::noop());
        if gather {
            q.poll_gathered(&mut cx)
        } else {
            q.poll_next(&mut cx)
        }
    }

    #[test]
    fn small_chunks_are_gathered_large_ones_go_alone() {
        let mut q: VecDeque<Bytes> = VecDeque::new();
        q.push_back(Bytes::from_static(b"head"));
        q.push_back(Bytes::from_static(b"payload"));
        q.push_back(Bytes::from(vec![1u8; 70_000]));
        q.push_back(Bytes::from_static(b"tail"));
        assert_eq!(&take_batch(&mut q).unwrap()[..], b"headpayload");
        assert_eq!(take_batch(&mut q).unwrap().len(), 70_000);
        assert_eq!(&take_batch(&mut q).unwrap()[..], b"tail");
        assert!(take_batch(&mut q).is_none());
    }

    #[test]
    fn drain_is_owed_once_the_queue_is_empty_and_once_per_ask() {
        let mut q = Outgoing::default();
        q.push(Bytes::from_static(b"ab"), false, true);
        q.push(Bytes::from_static(b"cd"), false, false);
        assert!(!q.take_drain());
        assert_eq!(next(&mut q, false), Poll::Ready(Next::Bytes("ab".into())));
        assert!(!q.take_drain(), "two bytes still queued");
        assert_eq!(next(&mut q, false), Poll::Ready(Next::Bytes("cd".into())));
        assert!(q.take_drain());
        assert!(!q.take_drain());
        assert_eq!(next(&mut q, false), Poll::Pending);
        q.push(Bytes::new(), true, false);
        assert_eq!(next(&mut q, true), Poll::Ready(Next::End));
    }

    #[test]
    fn an_abort_drops_what_is_queued() {
        let mut q = Outgoing::default();
        q.push(Bytes::from_static(b"lost"), true, false);
        q.abort();
        assert_eq!(q.queued(), 0);
        assert_eq!(next(&mut q, false), Poll::Ready(Next::Aborted));
    }
}
