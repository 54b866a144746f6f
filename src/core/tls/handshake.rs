//! One connection's TLS handshake, bounded, and what JS hears of it: an
//! EV_TLS_READY record (ALPN, SNI, client certificate) before any request
//! of the connection, or an EV_TLS_ERROR record (`'tlsClientError'`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::ServerConnection;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use tokio_rustls::LazyConfigAcceptor;

use crate::core::conn::Signals;
use crate::core::dispatch::Outbox;
use crate::core::ending::Ending;
use crate::core::io::Activity;
use crate::core::io::Socket;
use crate::core::tls::{Acceptor, Stream};
use crate::core::tracker::{Gauge, Tracker};
use crate::core::wire::{self, Put};

/// How long a handshake already under way when close() starts may take to
/// finish (then the connection is served as closing). Not
/// `handshakeTimeout`: two minutes would hold close() (DESIGN C5's "short
/// bound" for a session still in its handshake).
const CLOSING_GRACE: Duration = Duration::from_secs(1);

/// How long a refused connection's close_notify may take to go out.
const FLUSH_GRACE: Duration = Duration::from_millis(100);

/// nginx's answer to a plain-HTTP request on a TLS port, in HTTP/1.1.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain\r\n\
Content-Length: 46\r\n\
Connection: close\r\n\
\r\n\
The plain HTTP request was sent to HTTPS port\n";

/// How a connection's TLS phase ended.
pub enum Opened {
    /// The handshake is done: serve `stream`, as HTTP/2 if `h2`.
    Ready {
        /// The decrypted stream.
        stream: Stream,
        /// ALPN chose `h2`.
        h2: bool,
    },
    /// Nothing to serve; let the socket go this way.
    Closed(Ending),
}

/// Counts a connection as handshaking in `connectionsInfo()` while alive.
struct Handshaking<'a>(&'a Tracker);

impl<'a> Handshaking<'a> {
    fn start(tracker: &'a Tracker) -> Self {
        tracker.inc(Gauge::Handshaking);
        Handshaking(tracker)
    }
}

impl Drop for Handshaking<'_> {
    fn drop(&mut self) {
        self.0.dec(Gauge::Handshaking);
    }
}

/// Runs the handshake of connection `id`. From its first byte until the
/// handshake ends it counts as handshaking (before that, as idle, like a
/// cleartext connection that has not spoken yet).
pub async fn open(
    acceptor: &Acceptor,
    tcp: &Arc<TcpStream>,
    activity: Arc<Activity>,
    id: u32,
    signals: &mut Signals,
    outbox: &Outbox,
    tracker: &Tracker,
) -> Opened {
    let timeout = acceptor
        .options()
        .handshake_timeout
        .map(|d| Instant::now() + d);
    let timed_out = || {
        report(
            outbox,
            id,
            "ERR_TLS_HANDSHAKE_TIMEOUT",
            "TLS handshake timeout",
        );
        Opened::Closed(Ending::Rejected)
    };
    // A connection that has said nothing holds nothing: closing, or any
    // close-now request, ends it, as on cleartext.
    let mut first = [0u8; 1];
    let said = tokio::select! {
        r = tcp.peek(&mut first) => r,
        _ = sleep_until(timeout.unwrap_or_else(Instant::now)), if timeout.is_some() => return timed_out(),
        _ = signals.closing.wait_for(|c| *c) => return Opened::Closed(Ending::Clean),
        _ = signals.force.changed() => return Opened::Closed(Ending::Clean),
        _ = signals.kill.changed() => return Opened::Closed(Ending::Clean),
    };
    if !matches!(said, Ok(n) if n > 0) {
        // Connected and left without a word (a health check, a port scan):
        // nothing to report.
        return Opened::Closed(Ending::Clean);
    }
    if first[0].is_ascii_uppercase() {
        // A request line, not a ClientHello (which starts with 0x16).
        answer_plain_http(tcp).await;
        report(
            outbox,
            id,
            "ERR_SSL_HTTP_REQUEST",
            "plain HTTP request sent to the TLS port",
        );
        return Opened::Closed(Ending::Rejected);
    }

    let counted = Handshaking::start(tracker);
    let socket = Socket::new(Bytes::new(), tcp.clone(), activity.clone());
    let shake = async {
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), socket).await?;
        let ctx = acceptor.select(start.client_hello().server_name());
        let stream = start.into_stream(ctx.config.clone()).await?;
        Ok::<_, io::Error>((stream, ctx))
    };
    tokio::pin!(shake);
    let mut grace: Option<Instant> = None;
    let shaken = loop {
        tokio::select! {
            biased;
            r = &mut shake => break r,
            _ = sleep_until(timeout.unwrap_or_else(Instant::now)), if timeout.is_some() => return timed_out(),
            _ = sleep_until(grace.unwrap_or_else(Instant::now)), if grace.is_some() => {
                return Opened::Closed(Ending::Clean);
            }
            _ = signals.closing.wait_for(|c| *c), if grace.is_none() => {
                grace = Some(Instant::now() + CLOSING_GRACE);
            }
            _ = signals.force.changed() => return Opened::Closed(Ending::Clean),
            _ = signals.kill.changed() => return Opened::Closed(Ending::Clean),
        }
    };
    drop(counted);
    let (mut stream, ctx) = match shaken {
        Ok(done) => done,
        Err(e) => {
            let (code, message) = describe(&e);
            report(outbox, id, code, &message);
            return Opened::Closed(Ending::Rejected);
        }
    };
    let session = stream.get_ref().1;
    let h2 = session.alpn_protocol() == Some(b"h2");
    let refused = !h2 && !acceptor.options().allow_http1;
    let auth = ctx.client_auth.authorize(session.peer_certificates());
    outbox.push(|b| put_ready(b, id, session, auth.as_ref(), refused));
    if refused {
        // HTTP/1.1 (or no ALPN) with allowHTTP1: false: JS emits
        // 'unknownProtocol'; the client gets a close_notify and a FIN.
        let _ = tokio::time::timeout(FLUSH_GRACE, stream.shutdown()).await;
        return Opened::Closed(Ending::Clean);
    }
    Opened::Ready {
        stream: Stream::tls(stream, activity.clone(), h2),
        h2,
    }
}

/// Writes nginx's 400 without waiting for more than a moment: the client
/// is not speaking TLS, and the connection closes after it anyway.
async fn answer_plain_http(tcp: &TcpStream) {
    let write = async {
        let mut at = 0;
        while at < PLAIN_HTTP_ANSWER.len() {
            if tcp.writable().await.is_err() {
                return;
            }
            match tcp.try_write(&PLAIN_HTTP_ANSWER[at..]) {
                Ok(n) if n > 0 => at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(FLUSH_GRACE, write).await;
}

/// Node's code and a message for a failed handshake.
fn describe(e: &io::Error) -> (&'static str, String) {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => (
                "ECONNRESET",
                "Client network socket disconnected before secure TLS connection was established"
                    .into(),
            ),
            _ => ("ERR_SSL_SYSCALL", e.to_string()),
        };
    };
    use rustls::Error as E;
    let code = match tls {
        E::InvalidMessage(_) => "ERR_SSL_WRONG_VERSION_NUMBER",
        E::NoCertificatesPresented => "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE",
        E::InvalidCertificate(_) => "ERR_SSL_CERTIFICATE_VERIFY_FAILED",
        E::NoApplicationProtocol => "ERR_SSL_NO_APPLICATION_PROTOCOL",
        E::PeerIncompatible(p) if format!("{p:?}").contains("Version") => {
            "ERR_SSL_UNSUPPORTED_PROTOCOL"
        }
        E::PeerIncompatible(_) => "ERR_SSL_NO_SHARED_CIPHER",
        E::AlertReceived(_) => "ERR_SSL_TLSV1_ALERT",
        E::DecryptError => "ERR_SSL_DECRYPTION_FAILED",
        _ => "ERR_SSL_HANDSHAKE_FAILURE",
    };
    (code, tls.to_string())
}

fn report(outbox: &Outbox, id: u32, code: &str, message: &str) {
    outbox.push(|b| put_error(b, id, code, message));
}

/// Appends an EV_TLS_ERROR record (layout in `wire.rs`).
fn put_error(b: &mut Vec<u8>, id: u32, code: &str, message: &str) {
    let code = &code.as_bytes()[..code.len().min(255)];
    let message = &message.as_bytes()[..message.len().min(u16::MAX as usize)];
    b.put_u8(wire::EV_TLS_ERROR);
    b.put_u32(id);
    b.put_u8(code.len() as u8);
    b.put_bytes(code);
    b.put_u16(message.len() as u16);
    b.put_bytes(message);
}

/// Appends an EV_TLS_READY record (layout in `wire.rs`).
fn put_ready(
    b: &mut Vec<u8>,
    id: u32,
    session: &ServerConnection,
    auth: Option<&Result<(), String>>,
    refused: bool,
) {
    let short = |s: &[u8]| -> Vec<u8> { s[..s.len().min(255)].to_vec() };
    let mut flags = 0;
    if matches!(auth, Some(Ok(()))) {
        flags |= wire::TLS_AUTHORIZED;
    }
    if refused {
        flags |= wire::TLS_REFUSED;
    }
    if session.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
        flags |= wire::TLS_RESUMED;
    }
    let version = match session.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => 13,
        Some(rustls::ProtocolVersion::TLSv1_2) => 12,
        _ => 0,
    };
    let alpn = short(session.alpn_protocol().unwrap_or_default());
    let sni = short(session.server_name().unwrap_or_default().as_bytes());
    let cipher = session
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or_default();
    let cipher = short(cipher.as_bytes());
    let error = match auth {
        Some(Err(reason)) => short(reason.as_bytes()),
        _ => Vec::new(),
    };
    b.put_u8(wire::EV_TLS_READY);
    b.put_u32(id);
    b.put_u8(flags);
    b.put_u8(version);
    for field in [&alpn, &sni, &cipher, &error] {
        b.put_u8(field.len() as u8);
        b.put_bytes(field);
    }
    let certs = session.peer_certificates().unwrap_or_default();
    let certs = &certs[..certs.len().min(u16::MAX as usize)];
    b.put_u16(certs.len() as u16);
    for cert in certs {
        b.put_u32(cert.len() as u32);
        b.put_bytes(cert);
    }
}
