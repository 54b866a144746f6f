//! Upgraded connections (WebSocket and the like). Once hyper has written the
//! `101 Switching Protocols` response, the raw socket is piped to and from JS:
//! bytes read go out as EV_BODY/EV_END records (as far as JS has granted
//! credit), bytes JS writes are queued here and written in order.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::sync::Notify;

use crate::core::dispatch::Outbox;
use crate::core::tls::Stream;
use crate::core::wire::{self, Put};

/// How much the tunnel may read ahead of JS per demand.
const READ_AHEAD: usize = 256 * 1024;

/// One upgraded connection's state, shared by the hub (ops from JS) and the
/// tunnel task.
#[derive(Default)]
pub struct Tunnel {
    queue: RefCell<VecDeque<Bytes>>,
    queued: Cell<usize>,
    end: Cell<bool>,
    /// JS destroyed the socket: once the queue is written, half-close and
    /// stop, without waiting for the peer's end.
    close: Cell<bool>,
    want_drain: Cell<bool>,
    aborted: Cell<bool>,
    credit: Cell<usize>,
    write_wake: Notify,
    read_wake: Notify,
    abort_wake: Notify,
}

impl Tunnel {
    /// Queues bytes from JS; `end` half-closes our side after them.
    pub fn push(&self, chunk: Bytes, end: bool, want_drain: bool) {
        if !chunk.is_empty() {
            self.queued.set(self.queued.get() + chunk.len());
            self.queue.borrow_mut().push_back(chunk);
        }
        if end {
            self.end.set(true);
        }
        if want_drain {
            self.want_drain.set(true);
        }
        self.write_wake.notify_one();
    }

    /// JS destroyed the socket after writing: write what is queued, then
    /// end the tunnel (cleanly: the connection closes with FIN, DESIGN C6).
    pub fn close(&self) {
        self.end.set(true);
        self.close.set(true);
        self.write_wake.notify_one();
    }

    /// JS wants more bytes.
    pub fn demand(&self) {
        self.credit.set(READ_AHEAD);
        self.read_wake.notify_one();
    }

    /// Ends the tunnel now (JS destroyed the socket, or a forced close).
    pub fn abort(&self) {
        self.aborted.set(true);
        self.abort_wake.notify_one();
        self.read_wake.notify_one();
        self.write_wake.notify_one();
    }

    /// Whether the tunnel was aborted.
    pub fn is_aborted(&self) -> bool {
        self.aborted.get()
    }
}

/// Pipes `io` until both directions are closed, or JS closed it after its
/// last write (`true`), or until it fails or is aborted (`false`). `early` is what hyper had read past the request
/// head; JS gets it first.
pub async fn run(outbox: Arc<Outbox>, id: u32, io: Stream, early: Bytes, t: &Tunnel) -> bool {
    let stream = io.stream();
    let (mut rd, mut wr) = tokio::io::split(io);
    if !early.is_empty() {
        outbox.push_body(id, early);
    }
    let reader = async {
        loop {
            while t.credit.get() == 0 && !t.aborted.get() {
                // Not reading for JS, but a reset must still end the tunnel.
                tokio::select! {
                    _ = t.read_wake.notified() => {}
                    r = stream.ready(Interest::ERROR) => {
                        if r.map_or(true, |r| r.is_error()) {
                            return Err(false);
                        }
                    }
                }
            }
            if t.aborted.get() {
                return Err(false);
            }
            let mut buf = BytesMut::with_capacity(t.credit.get().min(64 * 1024));
            match rd.read_buf(&mut buf).await {
                Ok(0) => {
                    outbox.push(|b| {
                        b.put_u8(wire::EV_END);
                        b.put_u32(id);
                    });
                    return Ok(());
                }
                Ok(n) => {
                    t.credit.set(t.credit.get().saturating_sub(n));
                    outbox.push_body(id, buf.freeze());
                }
                Err(_) => return Err(false),
            }
        }
    };
    let writer = async {
        loop {
            if t.aborted.get() {
                return Err(false);
            }
            let next = take_batch(&mut t.queue.borrow_mut());
            if let Some(chunk) = next {
                t.queued.set(t.queued.get() - chunk.len());
                if wr.write_all(&chunk).await.is_err() {
                    return Err(false);
                }
                if t.queued.get() == 0 && t.want_drain.replace(false) {
                    outbox.push(|b| {
                        b.put_u8(wire::EV_DRAIN);
                        b.put_u32(id);
                    });
                }
                continue;
            }
            if t.end.get() {
                // Half-close: the peer may still send (and JS still read),
                // unless JS closed the socket; then the reader is dropped
                // by ending here with `Err(true)`.
                let shut = wr.shutdown().await.is_ok();
                return if t.close.get() {
                    Err(shut)
                } else if shut {
                    Ok(())
                } else {
                    Err(false)
                };
            }
            t.write_wake.notified().await;
        }
    };
    // `Err(true)`: ended on purpose, cleanly (JS closed after writing).
    let both = async { tokio::try_join!(reader, writer).map_or_else(|clean| clean, |_| true) };
    tokio::select! {
        clean = both => clean && !t.aborted.get(),
        _ = t.abort_wake.notified() => false,
    }
}

/// The next bytes to write: small chunks queued together (a WebSocket
/// frame header and its payload, several messages) go out in one write
/// instead of one syscall each.
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
}
