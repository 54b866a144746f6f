//! The socket hyper reads and writes: the plain [`Socket`], or TLS over it.
//!
//! TLS records a close_notify before the FIN (DESIGN §8). hyper sends one
//! itself when it shuts the connection down; when the connection task
//! drops hyper's connection instead (an idle close, the end of a closing
//! HTTP/2 session), the alert is written into a [`Farewell`] on drop and
//! the connection task sends it, unless the connection is being reset: a
//! close_notify after a truncated response would let it pass as complete.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::core::headscan::HeadScan;
use crate::core::io::{scan_head, Activity, Socket};

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
}

/// The TLS bytes still owed to the peer when the stream was dropped: what
/// was queued, then a close_notify.
#[derive(Default)]
pub struct Farewell(Mutex<Vec<u8>>);

impl Farewell {
    /// Writes what is owed, without waiting: a close_notify is a few dozen
    /// bytes, and a socket buffer too full to take them belongs to a client
    /// that is not reading anyway.
    pub fn send(&self, tcp: &TcpStream) {
        let owed = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
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
    /// Wraps a finished handshake. `scan`: HTTP/1.1 request heads are
    /// scanned as they arrive (see headscan.rs), with findings in `activity`.
    pub fn tls(inner: TlsStream<Socket>, scan: Option<Arc<Activity>>) -> Self {
        Stream::Tls(Box::new(Secure {
            inner,
            farewell: Arc::default(),
            scan: scan.map(|activity| (Box::default(), activity)),
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

impl Drop for Secure {
    fn drop(&mut self) {
        let (_, session) = self.inner.get_mut();
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
                let before = buf.filled().len();
                let r = Pin::new(&mut t.inner).poll_read(cx, buf);
                if let Some((scan, activity)) = t.scan.as_mut() {
                    scan_head(scan, activity, &buf.filled()[before..]);
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
            Stream::Tls(t) => Pin::new(&mut t.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(t) => Pin::new(&mut t.inner).poll_write_vectored(cx, bufs),
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
            Stream::Tls(t) => Pin::new(&mut t.inner).poll_flush(cx),
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
