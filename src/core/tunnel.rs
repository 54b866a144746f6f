//! Upgraded connections (WebSocket and the like). Once hyper has written the
//! `101 Switching Protocols` response, the raw socket is piped to and from JS:
//! bytes read go out as EV_BODY/EV_END records (as far as JS has granted
//! credit), bytes JS writes are queued here and written in order.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::sync::Notify;

use crate::core::credit::Credit;
use crate::core::dispatch::Outbox;
use crate::core::outgoing::{Next, Outgoing};
use crate::core::tls::Stream;
use crate::core::wire;

/// One upgraded connection's state, shared by the hub (ops from JS) and the
/// tunnel task.
#[derive(Default)]
pub struct Tunnel {
    /// What JS wrote, not yet written to the socket.
    out: RefCell<Outgoing>,
    /// JS destroyed the socket: once the queue is written, half-close and
    /// stop, without waiting for the peer's end.
    close: Cell<bool>,
    /// How much may be read for JS (none until JS first reads).
    credit: Credit,
    aborted: Cell<bool>,
    abort_wake: Notify,
}

impl Tunnel {
    /// Queues bytes from JS; `end` half-closes our side after them.
    pub fn push(&self, chunk: Bytes, end: bool, want_drain: bool) {
        self.out.borrow_mut().push(chunk, end, want_drain);
    }

    /// JS destroyed the socket after writing: write what is queued, then
    /// end the tunnel (cleanly: the connection closes with FIN, DESIGN C6).
    pub fn close(&self) {
        self.close.set(true);
        self.out.borrow_mut().push(Bytes::new(), true, false);
    }

    /// JS wants more bytes.
    pub fn demand(&self) {
        self.credit.demand();
    }

    /// Ends the tunnel now (JS destroyed the socket, or a forced close).
    pub fn abort(&self) {
        self.aborted.set(true);
        self.abort_wake.notify_one();
        self.credit.stop();
        self.out.borrow_mut().abort();
    }

    /// Whether the tunnel was aborted.
    pub fn is_aborted(&self) -> bool {
        self.aborted.get()
    }
}

/// Waits for hyper to hand over the socket after the 101, then pipes it
/// until the tunnel ends (see [`run`]); `false` if the hand-over failed.
pub async fn open(on_upgrade: OnUpgrade, outbox: Arc<Outbox>, id: u32, t: &Tunnel) -> bool {
    match on_upgrade.await {
        Ok(upgraded) => match upgraded.downcast::<TokioIo<Stream>>() {
            Ok(parts) => run(outbox, id, parts.io.into_inner(), parts.read_buf, t).await,
            Err(_) => false,
        },
        Err(_) => false,
    }
}

/// Pipes `io` until both directions are closed, or JS closed it after its
/// last write (`true`), or until it fails or is aborted (`false`). `early`
/// is what hyper had read past the request head; JS gets it first.
pub async fn run(outbox: Arc<Outbox>, id: u32, io: Stream, early: Bytes, t: &Tunnel) -> bool {
    let stream = io.stream();
    let (mut rd, mut wr) = tokio::io::split(io);
    if !early.is_empty() {
        outbox.push_body(id, early);
    }
    let reader = async {
        loop {
            while t.credit.is_exhausted() {
                // Not reading for JS, but a reset must still end the tunnel.
                tokio::select! {
                    _ = t.credit.changed() => {}
                    r = stream.ready(Interest::ERROR) => {
                        if r.map_or(true, |r| r.is_error()) {
                            return Err(false);
                        }
                    }
                }
            }
            if t.credit.is_stopped() {
                return Err(false);
            }
            let mut buf = BytesMut::with_capacity(t.credit.available().min(64 * 1024));
            match rd.read_buf(&mut buf).await {
                Ok(0) => {
                    outbox.push_event(wire::EV_END, id);
                    return Ok(());
                }
                Ok(n) => {
                    t.credit.spend(n);
                    outbox.push_body(id, buf.freeze());
                }
                Err(_) => return Err(false),
            }
        }
    };
    let writer = async {
        loop {
            match poll_fn(|cx| t.out.borrow_mut().poll_gathered(cx)).await {
                Next::Aborted => return Err(false),
                Next::Bytes(chunk) => {
                    if wr.write_all(&chunk).await.is_err() {
                        return Err(false);
                    }
                    // Written, not merely queued: that is when a socket's
                    // 'drain' means something.
                    if t.out.borrow_mut().take_drain() {
                        outbox.push_event(wire::EV_DRAIN, id);
                    }
                }
                Next::End => {
                    // Half-close: the peer may still send (and JS still
                    // read), unless JS closed the socket; then the reader is
                    // dropped by ending here with `Err(true)`.
                    let shut = wr.shutdown().await.is_ok();
                    return if t.close.get() {
                        Err(shut)
                    } else if shut {
                        Ok(())
                    } else {
                        Err(false)
                    };
                }
            }
        }
    };
    // `Err(true)`: ended on purpose, cleanly (JS closed after writing).
    let both = async { tokio::try_join!(reader, writer).map_or_else(|clean| clean, |_| true) };
    tokio::select! {
        clean = both => clean && !t.aborted.get(),
        _ = t.abort_wake.notified() => false,
    }
}
