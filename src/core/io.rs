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

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use std::task::ready;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::core::flood;
use crate::core::headscan::HeadScan;

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
    /// Our last write found the socket full: hyper holds bytes the peer
    /// has not taken (a client that stopped reading).
    write_waiting: AtomicBool,
    /// Microseconds since `epoch` of our last write, plus one; 0: none yet.
    last_write: AtomicU64,
    /// What the head scanner found in the request head arriving now
    /// (`headscan::CONTENT_LENGTH`, `headscan::BARE_LF`).
    head_flags: AtomicU8,
    /// HTTP/2: the client flooded us with frames to acknowledge (see
    /// flood.rs): 0 no; else `1 << 32 | last stream` when a GOAWAY can
    /// follow what we wrote, `2 << 32` when it would cut a frame.
    flooded: AtomicU64,
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
            write_waiting: AtomicBool::new(false),
            last_write: AtomicU64::new(0),
            head_flags: AtomicU8::new(0),
            flooded: AtomicU64::new(0),
        }
    }

    /// Whether the client flooded us (see flood.rs) and, if so, the last
    /// stream id for a GOAWAY when one can be written without cutting a
    /// frame in two.
    pub fn flooded(&self) -> Option<Option<u32>> {
        match self.flooded.load(Ordering::Relaxed) {
            0 => None,
            v if v >> 32 == 1 => Some(Some(v as u32)),
            _ => Some(None),
        }
    }

    /// Takes what the head scanner found in the head hyper just parsed.
    pub fn take_head_flags(&self) -> u8 {
        self.head_flags.swap(0, Ordering::Relaxed)
    }

    /// We wrote bytes to the peer (a clean close lets the peer's reply to
    /// them arrive before it closes, DESIGN C6).
    pub fn wrote(&self) {
        let us = self.epoch.elapsed().as_micros() as u64;
        self.last_write.store(us + 1, Ordering::Relaxed);
        self.write_waiting.store(false, Ordering::Relaxed);
    }

    /// A write found the socket full.
    pub fn write_waits(&self) {
        self.write_waiting.store(true, Ordering::Relaxed);
    }

    /// Whether our last write found the socket full: bytes of a response
    /// still wait to be written, even when no exchange is open any more (a
    /// whole body hyper took). A forced close resets such a connection
    /// rather than end a truncated response with a FIN (DESIGN C9).
    pub fn write_waiting(&self) -> bool {
        self.write_waiting.load(Ordering::Relaxed)
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
    /// HTTP/1.1 only: looks at request heads as they arrive.
    scan: Option<Box<HeadScan>>,
    /// HTTP/2 only: watches for control-frame floods.
    flood: Option<Box<FloodWatch>>,
}

/// The flood guard of one HTTP/2 connection (flood.rs), shown the bytes in
/// clear both ways: by the plain socket, or by the TLS stream above it.
#[derive(Default)]
pub struct FloodWatch {
    guard: flood::Guard,
    /// Set once the client floods: the most we wait for a frame boundary.
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl FloodWatch {
    /// Bytes just read from the client.
    pub fn received(&mut self, bytes: &[u8]) {
        self.guard.received(bytes);
        self.check();
    }

    /// `n` bytes of `bufs` went out (or into the TLS layer) to the client.
    pub fn sent<'a>(&mut self, mut n: usize, bufs: impl Iterator<Item = &'a [u8]>) {
        for b in bufs {
            if n == 0 {
                break;
            }
            let k = n.min(b.len());
            self.guard.sent(&b[..k]);
            n -= k;
        }
    }

    /// A write found no room.
    pub fn blocked(&mut self) {
        self.guard.blocked();
        self.check();
    }

    /// A write of ours over TLS found no room: as [`FloodWatch::blocked`],
    /// and an error if that ends the connection (a write never waits on
    /// the guard, so nothing is pending here).
    pub fn write_stuck(&mut self, cx: &mut Context<'_>, state: &Activity) -> io::Result<()> {
        self.blocked();
        match self.poll(cx, false, state) {
            Poll::Ready(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Starts the wait when the guard sees a flood.
    fn check(&mut self) {
        if self.wait.is_none() && self.guard.flooding() {
            self.wait = Some(Box::pin(tokio::time::sleep(flood::DRAIN_WAIT)));
        }
    }

    /// While the client floods, reads and writes go on only until what we
    /// wrote ends at a frame boundary (so a GOAWAY can follow it), or for
    /// a short bound; then they fail, which ends hyper's connection, and
    /// the connection task sends the GOAWAY (recorded in `state`). Nothing
    /// more is read.
    pub fn poll(
        &mut self,
        cx: &mut Context<'_>,
        reading: bool,
        state: &Activity,
    ) -> Poll<io::Result<()>> {
        if state.flooded.load(Ordering::Relaxed) != 0 {
            return Poll::Ready(Err(io::Error::other("HTTP/2 control frame flood")));
        }
        let Some(wait) = self.wait.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let v = if self.guard.at_boundary() {
            1 << 32 | u64::from(self.guard.last_stream())
        } else if wait.as_mut().poll(cx).is_ready() {
            2 << 32
        } else if reading {
            return Poll::Pending;
        } else {
            return Poll::Ready(Ok(()));
        };
        state.flooded.store(v, Ordering::Relaxed);
        Poll::Ready(Err(io::Error::other("HTTP/2 control frame flood")))
    }
}

impl Socket {
    /// Wraps `inner`; `prefix` is what was already read from it.
    pub fn new(prefix: Bytes, inner: Arc<TcpStream>, state: Arc<Activity>) -> Self {
        Socket {
            prefix,
            inner,
            state,
            scan: None,
            flood: None,
        }
    }

    /// As [`Socket::new`], for HTTP/2: a client that floods us with frames
    /// to acknowledge while it reads nothing is cut off (see flood.rs).
    pub fn http2(prefix: Bytes, inner: Arc<TcpStream>, state: Arc<Activity>) -> Self {
        Socket {
            flood: Some(Box::default()),
            ..Socket::new(prefix, inner, state)
        }
    }

    /// Shows bytes just read to the flood guard.
    fn watch_flood(&mut self, bytes: &[u8]) {
        if let Some(watch) = self.flood.as_deref_mut() {
            watch.received(bytes);
        }
    }

    /// See [`FloodWatch::poll`].
    fn poll_flood(&mut self, cx: &mut Context<'_>, reading: bool) -> Poll<io::Result<()>> {
        match self.flood.as_deref_mut() {
            Some(watch) => watch.poll(cx, reading, &self.state),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Tells the flood guard how a write of `bufs` went.
    fn wrote<'a>(&mut self, r: &io::Result<usize>, bufs: impl Iterator<Item = &'a [u8]>) {
        self.state.wrote();
        if let (Some(watch), Ok(n)) = (self.flood.as_deref_mut(), r) {
            watch.sent(*n, bufs);
        }
    }

    fn write_blocked(&mut self) {
        self.state.write_waits();
        if let Some(watch) = self.flood.as_deref_mut() {
            watch.blocked();
        }
    }

    /// As [`Socket::new`], for HTTP/1.1: request heads are scanned as they
    /// arrive (see headscan.rs).
    pub fn http1(prefix: Bytes, inner: Arc<TcpStream>, state: Arc<Activity>) -> Self {
        Socket {
            scan: Some(Box::default()),
            ..Socket::new(prefix, inner, state)
        }
    }

    /// Shows bytes just read to the head scanner while a head may be
    /// arriving (no exchange open, or the head not finished yet).
    fn scan(&mut self, bytes: &[u8]) {
        if let Some(scan) = self.scan.as_deref_mut() {
            scan_head(scan, &self.state, bytes);
        }
    }
}

/// Shows bytes just read (plain, or decrypted from TLS) to a head scanner
/// while a head may be arriving (no exchange open, or the head not
/// finished yet); what it finds goes to `state` for the hub.
pub fn scan_head(scan: &mut HeadScan, state: &Activity, bytes: &[u8]) {
    if scan.is_done() {
        if state.busy.load(Ordering::Relaxed) {
            return;
        }
        scan.restart();
    }
    let found = scan.feed(bytes);
    state.head_flags.store(found, Ordering::Relaxed);
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
        ready!(this.poll_flood(cx, true))?;
        let before = buf.filled().len();
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
            this.scan(&buf.filled()[before..]);
            this.watch_flood(&buf.filled()[before..]);
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            match this.try_fill(buf) {
                // Readiness was stale; `try_read` cleared it, so the next
                // `poll_read_ready` registers the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => {
                    let new = &buf.filled()[before..];
                    this.scan(new);
                    this.watch_flood(new);
                    return Poll::Ready(r);
                }
            }
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_flood(cx, false))?;
        loop {
            if self.inner.poll_write_ready(cx)?.is_pending() {
                self.write_blocked();
                ready!(self.poll_flood(cx, false))?;
                return Poll::Pending;
            }
            match self.inner.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => {
                    self.wrote(&r, std::iter::once(buf));
                    return Poll::Ready(r);
                }
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_flood(cx, false))?;
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
            if self.inner.poll_write_ready(cx)?.is_pending() {
                self.write_blocked();
                ready!(self.poll_flood(cx, false))?;
                return Poll::Pending;
            }
            match self.inner.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => {
                    self.wrote(&r, bufs.iter().map(|b| &b[..]));
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
