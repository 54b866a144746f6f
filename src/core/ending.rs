//! How a connection's socket is let go once hyper is done with it (DESIGN
//! C6, C9).
//!
//! The danger a clean close guards against: closing a socket whose receive
//! buffer holds unread bytes makes Linux send RST instead of FIN, and a reset
//! may destroy response bytes that have not yet reached the client's kernel.
//! Bytes the client has *acknowledged* are in its kernel already; waiting for
//! anything more (its FIN, say) protects nothing and only lets a client that
//! never closes its side hold `close()`. So a clean close sends our FIN,
//! discards what the peer sends meanwhile, and lets go as soon as the peer has
//! acknowledged every byte we sent, or has sent its own FIN. Only while bytes
//! are still unacknowledged (a slow or far client), or where the kernel cannot
//! tell, does it wait, and then for a bounded time.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

/// The longest a clean close waits for the peer to acknowledge what we sent
/// (or to send its FIN) before closing anyway. Unacknowledged bytes are not
/// lost when we close: the kernel keeps sending them; only a reset provoked
/// by the peer's later bytes could cut them short.
const LINGER: Duration = Duration::from_millis(500);

/// The same bound for a connection we rejected (bad input, a header block
/// over the limit): its client gets a short while to take the answer.
const REJECT_LINGER: Duration = Duration::from_millis(100);

/// At most this many bytes are read and dropped while a connection closes.
/// A client that sends more is not waiting for an answer: what it sends
/// next stays unread, and it is reset once it has taken our last bytes. A client that kept sending after
/// our GOAWAY had 525 MB read from it in a 500 ms linger before this bound.
const DRAIN_LIMIT: usize = 256 * 1024;

/// How long after our last bytes the peer's reply to them is still
/// drained rather than answered with a reset: a well-behaved HTTP/2 client
/// sends WINDOW_UPDATE for the last DATA it reads, which arrives after the
/// kernel's acknowledgement of that DATA. Counted from our last write, so an
/// idle connection (nothing written lately) is let go at once.
const SETTLE: Duration = Duration::from_millis(10);

/// First and longest pause between two looks at the send queue. Nothing
/// signals "the peer acknowledged everything", so it is looked at again
/// after 1, 2, 4 … ms; on loopback the first look usually finds it done.
const FIRST_LOOK: Duration = Duration::from_millis(1);
const LONGEST_LOOK: Duration = Duration::from_millis(8);

/// How a connection's socket is let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// FIN, then close once the peer has acknowledged every byte or sent its
    /// FIN (bounded by [`LINGER`]); the client sees EOF, not a reset (C6).
    Clean,
    /// As [`Ending::Clean`] for a connection we turned away for bad input:
    /// a shorter bound ([`REJECT_LINGER`]).
    Rejected,
    /// Reset, so a truncated HTTP/1.1 response is never taken for a
    /// complete one (C9).
    Reset,
}

/// Lets the socket go. The caller holds the last reference, so dropping
/// `stream` closes the descriptor. `fin_sent`: our FIN is queued already
/// (hyper shut the write side down). `last_write`: when we last wrote bytes
/// other than the FIN, if we did.
pub async fn finish(
    stream: &TcpStream,
    ending: Ending,
    fin_sent: bool,
    last_write: Option<Instant>,
) {
    let sock = socket2::SockRef::from(stream);
    let linger = match ending {
        Ending::Reset => {
            // SO_LINGER 0: close() sends RST instead of FIN.
            let _ = sock.set_linger(Some(Duration::ZERO));
            return;
        }
        Ending::Clean => LINGER,
        Ending::Rejected => REJECT_LINGER,
    };
    let fin_sent = fin_sent || sock.shutdown(std::net::Shutdown::Write).is_ok();
    let now = Instant::now();
    let deadline = now + linger;
    let settled = last_write.map_or(now, |at| at + SETTLE).min(deadline);
    let mut budget = DRAIN_LIMIT;
    // Cleared once the peer has sent more than DRAIN_LIMIT: from then on
    // its bytes are left in the kernel, and TCP's flow control stops it
    // instead of our reading. The close is then a reset, after the peer
    // has taken our answer (or at the bound).
    let mut draining = true;
    let mut pause = FIRST_LOOK;
    loop {
        if draining {
            match discard(stream, &mut budget) {
                Drained::Pending => {}
                Drained::Finished => return,
                Drained::OverLimit => draining = false,
            }
        }
        let now = Instant::now();
        let acknowledged = unacknowledged(stream, fin_sent) == Some(0);
        if (acknowledged && now >= settled) || now >= deadline {
            // Everything we sent is in the client's kernel (or we waited
            // long enough). Drop what arrived since, so the close is a FIN,
            // not a reset.
            if draining {
                drop_unread(stream, budget);
            }
            return;
        }
        let look = if acknowledged {
            settled
        } else {
            (now + pause).min(deadline)
        };
        tokio::select! {
            r = stream.readable(), if draining => if r.is_err() { return },
            _ = sleep_until(look) => pause = (pause * 2).min(LONGEST_LOOK),
        }
    }
}

/// What reading the peer's pending bytes found.
#[derive(Debug, PartialEq, Eq)]
enum Drained {
    /// Nothing more to read for now; the peer is still there.
    Pending,
    /// The peer sent its FIN, or the socket failed.
    Finished,
    /// The peer sent more than [`DRAIN_LIMIT`] while we closed.
    OverLimit,
}

/// Reads and drops what the peer has sent, without waiting. A plain
/// function, so the scratch buffer lives on the stack for the call instead of
/// in every connection task's future.
fn discard(stream: &TcpStream, budget: &mut usize) -> Drained {
    let mut sink = [0u8; 4096];
    loop {
        match stream.try_read(&mut sink) {
            Ok(0) => return Drained::Finished,
            Ok(n) => match budget.checked_sub(n) {
                Some(left) => *budget = left,
                None => return Drained::OverLimit,
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Drained::Pending,
            Err(_) => return Drained::Finished,
        }
    }
}

/// Reads and drops what the kernel holds right now, up to `budget` bytes,
/// asking the kernel itself: tokio's readiness for the socket is only as new
/// as the reactor's last look, and a byte missed here turns the close into a
/// reset.
fn drop_unread(stream: &TcpStream, mut budget: usize) {
    let sock = socket2::SockRef::from(stream);
    let mut sink = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    while budget > 0 {
        match sock.recv(&mut sink) {
            Ok(n) if n > 0 => budget = budget.saturating_sub(n),
            _ => return,
        }
    }
}

/// Bytes we sent that the peer has not acknowledged yet; `None` where the
/// kernel cannot tell.
#[cfg(target_os = "linux")]
fn unacknowledged(stream: &TcpStream, fin_sent: bool) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SIOCOUTQ (the same number as TIOCOUTQ, linux/sockios.h): for a TCP
    // socket, `write_seq - snd_una`, what is unsent or unacknowledged.
    // SAFETY: the descriptor is open for the duration of the call (we hold
    // the stream), and this request writes exactly one c_int through the
    // pointer, which points to one.
    let r = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if r != 0 {
        return None;
    }
    // Our FIN takes one sequence number after the last byte. Acknowledgement
    // is cumulative, so a count of one with the FIN queued means every data
    // byte has arrived and only the FIN's own ACK is outstanding; the kernel
    // retransmits the FIN after close() if need be.
    let fin = u32::from(fin_sent);
    Some(u32::try_from(queued).unwrap_or(0).saturating_sub(fin))
}

#[cfg(not(target_os = "linux"))]
fn unacknowledged(_stream: &TcpStream, _fin_sent: bool) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    /// A client that reads our EOF but never closes its side does not hold
    /// the close: everything it acknowledged is in its kernel.
    #[tokio::test(flavor = "current_thread")]
    async fn clean_close_lets_go_once_everything_is_acknowledged() {
        let (mut server, mut client) = pair().await;
        server.write_all(&[7u8; 100_000]).await.unwrap();
        let t0 = std::time::Instant::now();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            (got.len(), client)
        });
        finish(&server, Ending::Clean, false, None).await;
        let waited = t0.elapsed();
        drop(server);
        let (n, _client) = reader.await.unwrap();
        assert_eq!(n, 100_000, "the client read everything, then EOF");
        assert!(waited < LINGER / 2, "waited {waited:?} for a FIN");
    }

    /// A client that floods us while we close is read at most DRAIN_LIMIT
    /// bytes' worth, then let go.
    #[tokio::test(flavor = "current_thread")]
    async fn drain_is_bounded_in_bytes() {
        let (server, client) = pair().await;
        let mut budget = 1000;
        client.try_write(&[1u8; 3000]).unwrap();
        server.readable().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(discard(&server, &mut budget), Drained::OverLimit);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "current_thread")]
    async fn the_send_queue_counts_unacknowledged_bytes_and_not_our_fin() {
        let (server, client) = pair().await;
        // The client does not read: with a window's worth in its buffer,
        // the rest stays in ours.
        let sock = socket2::SockRef::from(&client);
        let _ = sock.set_recv_buffer_size(4096);
        let mut sent = 0;
        while let Ok(n) = server.try_write(&[0u8; 65536]) {
            sent += n;
        }
        assert!(sent > 0);
        assert!(unacknowledged(&server, false).unwrap() > 0);
        let (idle, _peer) = pair().await;
        socket2::SockRef::from(&idle)
            .shutdown(std::net::Shutdown::Write)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(unacknowledged(&idle, true), Some(0));
    }
}
