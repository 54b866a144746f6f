//! The socket hyper reads and writes: the plain [`Socket`], or TLS over it.
//!
//! TLS records a close_notify before the FIN (DESIGN §8). hyper sends one
//! itself when it shuts the connection down; when the connection task
//! drops hyper's connection instead (an idle close, the end of a closing
//! HTTP/2 session), the alert is written into a [`Farewell`] on drop and
//! the connection task sends it, unless the connection is being reset: a
//! close_notify after a truncated response would let it pass as complete.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::core::flood;
use crate::core::headscan::HeadScan;
use crate::core::io::{scan_head, Activity, FloodWatch, Socket};

/// A connection's byte stream.
pub enum Stream {
    /// Cleartext.
    Plain(Socket),
    /// TLS, its handshake done.
    Tls(Box<Secure>),
}

/// A TLS stream and where its last words go.
pub struct Secure {
    inner: TlsStream<Socket>,
    farewell: Arc<Farewell>,
    /// HTTP/1.1: the head scanner, fed the decrypted bytes (the socket
    /// below sees ciphertext), and where its findings go.
    scan: Option<(Box<HeadScan>, Arc<Activity>)>,
    /// HTTP/2: the flood guard, shown the bytes in clear both ways, and
    /// where a flood is recorded.
    flood: Option<(Box<FloodWatch>, Arc<Activity>)>,
}

/// The TLS bytes still owed to the peer when the stream was dropped: what
/// was queued, then a close_notify.
#[derive(Default)]
pub struct Farewell(Mutex<Vec<u8>>);

impl Farewell {
    /// Takes what is owed, to send it some other way.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Writes what is owed, without waiting: a close_notify is a few dozen
    /// bytes, and a socket buffer too full to take them belongs to a client
    /// that is not reading anyway.
    pub fn send(&self, tcp: &TcpStream) {
        let owed = self.take();
        let mut at = 0;
        while at < owed.len() {
            match tcp.try_write(&owed[at..]) {
                Ok(n) if n > 0 => at += n,
                _ => return,
            }
        }
    }
}

impl Stream {
    /// Wraps a finished handshake. HTTP/1.1 request heads are scanned as
    /// they arrive (see headscan.rs); HTTP/2 sessions are watched for
    /// control-frame floods (flood.rs); findings go to `activity`.
    pub fn tls(inner: TlsStream<Socket>, activity: Arc<Activity>, h2: bool) -> Self {
        let (scan, flood) = if h2 {
            (None, Some((Box::default(), activity)))
        } else {
            (Some((Box::default(), activity)), None)
        };
        Stream::Tls(Box::new(Secure {
            inner,
            farewell: Arc::default(),
            scan,
            flood,
        }))
    }

    /// The underlying TCP stream, to watch it without reading.
    pub fn stream(&self) -> Arc<TcpStream> {
        match self {
            Stream::Plain(s) => s.stream(),
            Stream::Tls(t) => t.inner.get_ref().0.stream(),
        }
    }

    /// Where a TLS stream leaves its close_notify when dropped.
    pub fn farewell(&self) -> Option<Arc<Farewell>> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(t) => Some(t.farewell.clone()),
        }
    }
}

impl Secure {
    /// A write into the TLS layer, shown to the flood guard. HTTP/2 hands
    /// rustls a write only once it has sent everything before it: so rustls
    /// never takes part of a frame for want of room, and a GOAWAY can
    /// follow what it took (and the socket's own backpressure is what
    /// stops us, as on a plain connection). A write that finds rustls's
    /// bytes still unsent is a blocked one.
    fn watched_write(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
        vectored: bool,
    ) -> Poll<io::Result<usize>> {
        let Secure { inner, flood, .. } = self;
        let mut inner = Pin::new(inner);
        let write = |inner: Pin<&mut TlsStream<Socket>>, cx: &mut Context<'_>| {
            if vectored {
                inner.poll_write_vectored(cx, bufs)
            } else {
                inner.poll_write(cx, &bufs[0])
            }
        };
        let Some((watch, activity)) = flood.as_mut() else {
            return write(inner, cx);
        };
        if let Poll::Ready(Err(e)) = watch.poll(cx, false, activity) {
            return Poll::Ready(Err(e));
        }
        if inner.as_mut().get_mut().get_ref().1.wants_write() {
            match inner.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    watch.write_stuck(cx, activity)?;
                    return Poll::Pending;
                }
            }
        }
        let r = write(inner, cx);
        match &r {
            Poll::Ready(Ok(n)) => watch.sent(*n, bufs.iter().map(|b| &b[..])),
            Poll::Pending => watch.write_stuck(cx, activity)?,
            Poll::Ready(Err(_)) => {}
        }
        r
    }
}

impl Drop for Secure {
    fn drop(&mut self) {
        let flooded = self.flood.as_ref().and_then(|(_, a)| a.flooded());
        let (_, session) = self.inner.get_mut();
        // A flooding client is told why, as on a plain connection: the
        // flood guard stopped our writes at a frame boundary for it.
        if let Some(Some(last_stream)) = flooded {
            // Whole, however full rustls's buffer is: 17 bytes more.
            session.set_buffer_limit(None);
            let _ = session.writer().write_all(&flood::goaway_calm(last_stream));
        }
        // A second close_notify is not queued: rustls sends it once.
        session.send_close_notify();
        let mut owed = Vec::new();
        while session.wants_write() {
            match session.write_tls(&mut owed) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        *self.farewell.0.lock().unwrap_or_else(|e| e.into_inner()) = owed;
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(t) => {
                if let Some((watch, activity)) = t.flood.as_mut() {
                    // Pending: a flooding client is read no further.
                    if let r @ (Poll::Pending | Poll::Ready(Err(_))) =
                        watch.poll(cx, true, activity)
                    {
                        return r;
                    }
                }
                let before = buf.filled().len();
                let r = Pin::new(&mut t.inner).poll_read(cx, buf);
                let new = &buf.filled()[before..];
                if let Some((scan, activity)) = t.scan.as_mut() {
                    scan_head(scan, activity, new);
                }
                if let Some((watch, _)) = t.flood.as_mut() {
                    watch.received(new);
                }
                r
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(t) => {
                t.watched_write(cx, std::slice::from_ref(&io::IoSlice::new(buf)), false)
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(t) => t.watched_write(cx, bufs, true),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(t) => t.inner.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(t) => {
                let r = Pin::new(&mut t.inner).poll_flush(cx);
                // rustls's bytes could not all go out: a blocked write, to
                // the flood guard.
                if let (Poll::Pending, Some((watch, activity))) = (&r, t.flood.as_mut()) {
                    watch.write_stuck(cx, activity)?;
                }
                r
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            // close_notify, then the half-close of the socket beneath.
            Stream::Tls(t) => Pin::new(&mut t.inner).poll_shutdown(cx),
        }
    }
}
