//! HTTP/2 control-frame floods (issue 15): a client that sends PING or
//! SETTINGS frames, each of which we must acknowledge, while it reads
//! nothing.
//!
//! The `h2` crate keeps such a flood cheap: it holds one pending PONG and one
//! pending SETTINGS ACK, and reads no further frame until it has buffered
//! the answer, so when the peer stops reading, our write buffer fills and
//! `h2` stops reading too. Memory stays bounded, but the connection is held
//! open for as long as the client likes. nghttp2 (Node) ends such a session
//! with GOAWAY(ENHANCE_YOUR_CALM) once too many acknowledgements wait to be
//! written (`maxOutstandingPings`, its outbound-ACK limit); we do the same
//! when more than [`LIMIT`] frames that want an acknowledgement arrive
//! while our writes make no progress.
//!
//! A leaf, as io.rs is: it sees the bytes both ways and follows the frame
//! headers in them, nothing more.

/// Acknowledgements owed (frames that want one, received but not answered
/// on the wire yet) while our writes are stuck, past which the session is
/// ended. A client that reads, even slowly, unsticks our writes.
pub const LIMIT: u32 = 100;

/// The GOAWAY(ENHANCE_YOUR_CALM) frame with `last_stream` as its last
/// stream id (RFC 9113 §6.8).
pub fn goaway_calm(last_stream: u32) -> [u8; 17] {
    let mut f = [0u8; 17];
    f[2] = 8; // length
    f[3] = 0x7; // GOAWAY
    f[9..13].copy_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    f[13..17].copy_from_slice(&0xbu32.to_be_bytes()); // ENHANCE_YOUR_CALM
    f
}

/// How long a flooding client's connection waits, reading nothing more,
/// for our bytes to end at a frame boundary so a GOAWAY can follow.
pub const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a flooding client gets to make room for our GOAWAY.
const GOAWAY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Tells a flooding client why it is cut off: GOAWAY(ENHANCE_YOUR_CALM)
/// after what we wrote (`last_stream`: `None` when our last frame went out
/// only in part, so no frame can follow it), if its window opens within a
/// short bound.
pub async fn goaway(stream: &tokio::net::TcpStream, last_stream: Option<u32>) {
    let Some(last) = last_stream else { return };
    send_patiently(stream, &goaway_calm(last)).await;
}

/// Writes `bytes` (our last words to a flooding client: its GOAWAY, or over
/// TLS that and the close_notify, encrypted) as its window opens, within a
/// short bound.
pub async fn send_patiently(stream: &tokio::net::TcpStream, bytes: &[u8]) {
    let write = async {
        let mut at = 0;
        while at < bytes.len() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(&bytes[at..]) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Ok(n) if n > 0 => at += n,
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(GOAWAY_WAIT, write).await;
}

/// Follows the frame headers of one direction of an HTTP/2 byte stream.
#[derive(Default)]
pub struct Frames {
    /// Bytes of the client preface still to skip (incoming side).
    preface: usize,
    header: [u8; 9],
    header_len: usize,
    /// Payload bytes of the current frame still to come.
    payload: usize,
}

/// A frame header, as [`Frames::feed`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Frame type.
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Stream id.
    pub stream: u32,
}

impl Header {
    /// A PING or SETTINGS frame that is not itself an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        matches!(self.kind, 0x4 | 0x6) && self.flags & 0x1 == 0
    }
}

impl Frames {
    /// The client's side: starts after the 24-byte connection preface.
    pub fn client() -> Self {
        Frames {
            preface: 24,
            ..Frames::default()
        }
    }

    /// Whether the bytes so far end exactly at a frame boundary.
    pub fn at_boundary(&self) -> bool {
        self.preface == 0 && self.header_len == 0 && self.payload == 0
    }

    /// Follows `data`, calling `seen` with each frame header completed.
    pub fn feed(&mut self, mut data: &[u8], mut seen: impl FnMut(Header)) {
        let skip = self.preface.min(data.len());
        self.preface -= skip;
        data = &data[skip..];
        while !data.is_empty() {
            if self.payload > 0 {
                let n = self.payload.min(data.len());
                self.payload -= n;
                data = &data[n..];
                continue;
            }
            let n = (9 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            data = &data[n..];
            if self.header_len == 9 {
                let h = &self.header;
                self.payload = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                self.header_len = 0;
                seen(Header {
                    kind: h[3],
                    flags: h[4],
                    stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
                });
            }
        }
    }
}

/// The flood guard of one HTTP/2 connection.
pub struct Guard {
    incoming: Frames,
    outgoing: Frames,
    /// Our last write did not go through (the peer is not reading).
    write_blocked: bool,
    /// Frames received that want an acknowledgement.
    wanted: u64,
    /// Acknowledgements written.
    acked: u64,
    /// The highest stream the client opened.
    last_stream: u32,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            incoming: Frames::client(),
            outgoing: Frames::default(),
            write_blocked: false,
            wanted: 0,
            acked: 0,
            last_stream: 0,
        }
    }
}

impl Guard {
    /// Bytes arrived from the client.
    pub fn received(&mut self, data: &[u8]) {
        let (wanted, last) = (&mut self.wanted, &mut self.last_stream);
        self.incoming.feed(data, |h| {
            if h.kind == 0x1 {
                *last = (*last).max(h.stream);
            }
            if h.wants_ack() {
                *wanted += 1;
            }
        });
    }

    /// `data` went out to the client.
    pub fn sent(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.write_blocked = false;
            let acked = &mut self.acked;
            self.outgoing.feed(data, |h| {
                if matches!(h.kind, 0x4 | 0x6) && h.flags & 0x1 != 0 {
                    *acked += 1;
                }
            });
        }
    }

    /// A write found the socket full.
    pub fn blocked(&mut self) {
        self.write_blocked = true;
    }

    /// Whether the client is flooding: our writes are stuck and more than
    /// [`LIMIT`] acknowledgements are owed (received, not yet written).
    pub fn flooding(&self) -> bool {
        self.write_blocked && self.wanted.saturating_sub(self.acked) > u64::from(LIMIT)
    }

    /// Whether a frame of ours can be written now without cutting one in
    /// two.
    pub fn at_boundary(&self) -> bool {
        self.outgoing.at_boundary()
    }

    /// The highest stream id the client opened.
    pub fn last_stream(&self) -> u32 {
        self.last_stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(ack: bool) -> Vec<u8> {
        let mut f = vec![0, 0, 8, 6, u8::from(ack), 0, 0, 0, 0];
        f.extend_from_slice(&[7; 8]);
        f
    }

    #[test]
    fn frames_are_followed_across_any_split() {
        let mut stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        stream.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        stream.extend_from_slice(&[0, 0, 3, 1, 4, 0, 0, 0, 5, 1, 2, 3]);
        stream.extend(ping(false));
        for piece in 1..stream.len() {
            let mut f = Frames::client();
            let mut seen = Vec::new();
            for c in stream.chunks(piece) {
                f.feed(c, |h| seen.push((h.kind, h.stream)));
            }
            assert_eq!(seen, vec![(4, 0), (1, 5), (6, 0)], "pieces of {piece}");
            assert!(f.at_boundary());
        }
    }

    #[test]
    fn a_flood_is_many_acknowledgements_owed_while_our_writes_are_stuck() {
        let mut g = Guard::default();
        g.received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        for _ in 0..1000 {
            g.received(&ping(false));
            g.received(&ping(true));
        }
        assert!(!g.flooding(), "writes not stuck: never a flood");
        g.blocked();
        assert!(g.flooding());
        for _ in 0..(1000 - LIMIT) {
            g.sent(&ping(true));
        }
        g.blocked();
        assert!(!g.flooding(), "{LIMIT} owed is allowed");
        g.received(&ping(false));
        assert!(g.flooding());
        g.sent(&ping(true)[..3]);
        assert!(!g.flooding(), "our writes progress");
        assert!(!g.at_boundary());
        assert_eq!(&goaway_calm(5)[13..], &[0, 0, 0, 11]);
    }
}
