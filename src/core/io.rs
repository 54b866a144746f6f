//! The socket as hyper sees it: the bytes we read to tell HTTP/2 from
//! HTTP/1.1 are replayed first, and every read marks the connection active
//! (for the keep-alive timer).
//!
//! The `TcpStream` is shared (`Arc`: hyper wants upgradable IO `Send`) with the connection task, so that after
//! hyper is done with the connection the task still owns the socket and can
//! close it cleanly or reset it (DESIGN C6, C9), and can peek at bytes hyper
//! has not read yet (C3).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use std::task::ready;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::core::conn::Activity;

/// A TCP stream with a replayed prefix.
pub struct Socket {
    prefix: Bytes,
    inner: Arc<TcpStream>,
    state: Arc<Activity>,
}

impl Socket {
    /// Wraps `inner`; `prefix` is what was already read from it.
    pub fn new(prefix: Bytes, inner: Arc<TcpStream>, state: Arc<Activity>) -> Self {
        Socket {
            prefix,
            inner,
            state,
        }
    }
}

impl Socket {
    /// The underlying stream, to watch it without reading.
    pub fn stream(&self) -> Arc<TcpStream> {
        self.inner.clone()
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            // SAFETY: `try_read` only writes initialised bytes into the
            // slice and reports how many; we mark exactly those as filled.
            let unfilled = unsafe {
                &mut *(buf.unfilled_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8])
            };
            match this.inner.try_read(unfilled) {
                Ok(n) => {
                    let asked = unfilled.len();
                    // SAFETY: `try_read` initialised the first `n` bytes.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    if n > 0 {
                        this.state.received();
                        if n < asked {
                            // A short read means the kernel buffer is empty:
                            // forget the readiness now, as tokio's own
                            // `poll_read` does, instead of paying a syscall
                            // for the EAGAIN on hyper's next read. Nothing
                            // can set newer readiness in between: the
                            // reactor runs on this same thread.
                            let _ = this.inner.try_io(Interest::READABLE, || {
                                Err::<(), _>(io::ErrorKind::WouldBlock.into())
                            });
                        }
                    }
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; `try_read` cleared it, so the next
                // `poll_read_ready` registers the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            match self.inner.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            match self.inner.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Half-close only: the connection task still reads to the peer's
        // FIN before the descriptor is closed (DESIGN C6).
        let r = socket2::SockRef::from(&*self.inner).shutdown(std::net::Shutdown::Write);
        Poll::Ready(match r {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        })
    }
}
