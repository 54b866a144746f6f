//! The socket as hyper sees it: the bytes we read to tell HTTP/2 from
//! HTTP/1.1 are replayed first, and every read and write is recorded in the
//! connection's [`Activity`] (for the keep-alive timer and the clean close).
//!
//! A leaf, as hyper-util's `Rewind` is: it knows no connection, exchange or
//! server, only the socket and what happens on it.
//!
//! The `TcpStream` is shared (`Arc`: hyper wants upgradable IO `Send`) with the connection task, so that after
//! hyper is done with the connection the task still owns the socket and can
//! close it cleanly or reset it (DESIGN C6, C9), and can peek at bytes hyper
//! has not read yet (C3).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use std::task::ready;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What the socket wrapper records as bytes arrive and leave. Shared with
/// the socket, which hyper requires to be `Send` for upgrades; only the I/O
/// thread touches it, so relaxed atomics cost next to nothing.
pub struct Activity {
    epoch: Instant,
    /// Microseconds since `epoch` of the last activity.
    last: AtomicU64,
    /// Bytes arrived while no exchange was open: a request head may be
    /// half-read (HTTP/1.1).
    head_started: AtomicBool,
    /// An exchange is open.
    busy: AtomicBool,
    /// Our side's FIN is sent (hyper shut the write side down).
    write_shut: AtomicBool,
    /// Microseconds since `epoch` of our last write, plus one; 0: none yet.
    last_write: AtomicU64,
}

impl Activity {
    /// A connection with no activity yet.
    pub fn new() -> Self {
        Activity {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
            head_started: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            write_shut: AtomicBool::new(false),
            last_write: AtomicU64::new(0),
        }
    }

    /// We wrote bytes to the peer (a clean close lets the peer's reply to
    /// them arrive before it closes, DESIGN C6).
    pub fn wrote(&self) {
        let us = self.epoch.elapsed().as_micros() as u64;
        self.last_write.store(us + 1, Ordering::Relaxed);
    }

    /// When we last wrote bytes to the peer, if ever.
    pub fn last_write(&self) -> Option<Instant> {
        match self.last_write.load(Ordering::Relaxed) {
            0 => None,
            us => Some(self.epoch + Duration::from_micros(us - 1)),
        }
    }

    /// Our side's FIN is sent.
    pub fn wrote_fin(&self) {
        self.write_shut.store(true, Ordering::Relaxed);
    }

    /// Whether our side's FIN is sent.
    pub fn fin_sent(&self) -> bool {
        self.write_shut.load(Ordering::Relaxed)
    }

    /// Something happened on the connection: the keep-alive timer counts
    /// from now.
    pub fn touch(&self) {
        let us = self.epoch.elapsed().as_micros() as u64;
        self.last.store(us, Ordering::Relaxed);
    }

    /// Bytes arrived from the peer. No clock is read here (this runs on
    /// every read): the keep-alive timer consults `last` only while no
    /// exchange is open and no head has started, and bytes arriving then
    /// set `head_started`, which re-arms the timer by itself.
    pub fn received(&self) {
        if !self.busy.load(Ordering::Relaxed) {
            self.head_started.store(true, Ordering::Relaxed);
        }
    }

    /// An exchange began: its head is no longer "started", it is here.
    pub fn exchange_began(&self) {
        self.busy.store(true, Ordering::Relaxed);
        self.head_started.store(false, Ordering::Relaxed);
    }

    /// Whether an exchange is open.
    pub fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::Relaxed);
    }

    /// When something last happened (see [`Activity::touch`]).
    pub fn last(&self) -> Instant {
        self.epoch + Duration::from_micros(self.last.load(Ordering::Relaxed))
    }

    /// Whether bytes arrived while no exchange was open.
    pub fn head_started(&self) -> bool {
        self.head_started.load(Ordering::Relaxed)
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

/// Whether the peer has sent bytes nobody has read yet.
pub fn bytes_waiting(stream: &TcpStream) -> bool {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    matches!(socket2::SockRef::from(stream).peek(&mut probe), Ok(n) if n > 0)
}

/// Vectored writes up to this many bytes are copied into one buffer and
/// sent with one `send` (see [`Socket::poll_write_vectored`]).
const COALESCE_MAX: usize = 4096;

thread_local! {
    /// Where small vectored writes are joined: one per I/O thread, reused
    /// (a per-connection buffer would cost every idle connection).
    static FLAT: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(COALESCE_MAX));
}

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
    /// Reads what the kernel holds into `buf`, without waiting: WouldBlock
    /// when there is nothing.
    fn try_fill(&self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        // SAFETY: `try_read` only writes initialised bytes into the slice
        // and reports how many; we mark exactly those as filled.
        let unfilled =
            unsafe { &mut *(buf.unfilled_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
        let asked = unfilled.len();
        let n = self.inner.try_read(unfilled)?;
        // SAFETY: `try_read` initialised the first `n` bytes.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        if n > 0 {
            self.state.received();
            if n < asked {
                // A short read means the kernel buffer is empty: forget the
                // readiness now, as tokio's own `poll_read` does, instead of
                // paying a syscall for the EAGAIN on hyper's next read.
                // Nothing can set newer readiness in between: the reactor
                // runs on this same thread.
                let _ = self.inner.try_io(Interest::READABLE, || {
                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                });
            }
        }
        Ok(())
    }

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
            if this.prefix.is_empty() && buf.remaining() > 0 {
                // Hand hyper the rest of the head in the same read when it
                // has arrived. A head split over two reads makes hyper grow
                // its read buffer from 8 to 16 KiB, and keep it so for the
                // life of the connection. Errors and EOF are left for the
                // next read to report.
                let _ = this.try_fill(buf);
            }
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            match this.try_fill(buf) {
                // Readiness was stale; `try_read` cleared it, so the next
                // `poll_read_ready` registers the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
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
                r => {
                    self.state.wrote();
                    return Poll::Ready(r);
                }
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // A head and a small body (most responses) go out as one buffer:
        // the kernel's writev path costs more per call than a send of the
        // same bytes (bench/hyper-hello: 5.64 → 5.39 µs per request with
        // hyper's writev off, as Deno runs it). Large bodies keep the
        // vectored write, so they are never copied here.
        if bufs.len() > 1 {
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            if total <= COALESCE_MAX {
                return FLAT.with_borrow_mut(|flat| {
                    flat.clear();
                    for b in bufs {
                        flat.extend_from_slice(b);
                    }
                    self.poll_write(cx, flat)
                });
            }
        }
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            match self.inner.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => {
                    self.state.wrote();
                    return Poll::Ready(r);
                }
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
        if r.is_ok() {
            self.state.wrote_fin();
        }
        Poll::Ready(match r {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// Small vectored writes are joined into one send and large ones stay
    /// vectored; either way the peer gets every byte, in order, and the
    /// count written covers the whole of a small write.
    #[tokio::test(flavor = "current_thread")]
    async fn vectored_writes_small_and_large_arrive_whole() {
        use tokio::io::AsyncWriteExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = Socket::new(Bytes::new(), Arc::new(stream), Arc::new(Activity::new()));
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".to_vec();
        let small = [io::IoSlice::new(&head), io::IoSlice::new(b"hello")];
        let n = socket.write_vectored(&small).await.unwrap();
        assert_eq!(n, head.len() + 5);
        let big = vec![7u8; COALESCE_MAX];
        let mut want = head.clone();
        want.extend_from_slice(b"hello");
        let mut left = head.len() + big.len();
        while left > 0 {
            let done = head.len() + big.len() - left;
            let (a, b) = if done < head.len() {
                (&head[done..], &big[..])
            } else {
                (&[][..], &big[done - head.len()..])
            };
            left -= socket
                .write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)])
                .await
                .unwrap();
        }
        want.extend_from_slice(&head);
        want.extend_from_slice(&big);
        let mut got = vec![0u8; want.len()];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, want);
    }

    /// The bytes read to tell the protocols apart and the rest of the head,
    /// already in the kernel, reach hyper in one read: a head split over two
    /// reads makes hyper double its per-connection read buffer.
    #[tokio::test(flavor = "current_thread")]
    async fn replayed_prefix_and_waiting_bytes_come_in_one_read() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let head = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n";
        tokio::io::AsyncWriteExt::write_all(&mut client, head)
            .await
            .unwrap();
        let stream = Arc::new(stream);
        stream.readable().await.unwrap();
        let mut prefix = [0u8; 24];
        let n = stream.try_read(&mut prefix).unwrap();
        assert_eq!(n, 24);
        // Let the rest land, should the kernel have split it.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;

        let mut socket = Socket::new(
            Bytes::copy_from_slice(&prefix),
            stream.clone(),
            Arc::new(Activity::new()),
        );
        let mut buf = vec![0u8; 8192];
        let got = socket.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..got], &head[..]);
    }
}
