//! A look at each HTTP/1.1 request head as its bytes arrive, for what
//! hyper lets through but Node refuses with 400 (DESIGN §7):
//!
//! - `Content-Length` beside `Transfer-Encoding`. hyper lets
//!   Transfer-Encoding win, drops the Content-Length from the header map
//!   (so the hub cannot see it) and only closes the connection after the
//!   request. Node answers 400: a message framed two ways is the start of
//!   every request-smuggling attack (RFC 9112 §6.3 allows a server to
//!   reject it, and requires closing after it).
//! - Line endings that are a bare LF. RFC 9112 §2.2 lets a recipient
//!   accept them; Node (llhttp) does not, and neither do we: a proxy in
//!   front that ends lines only at CRLF would see a different message than
//!   we do — again the shape of a smuggling attack.
//!
//! A leaf: the socket wrapper feeds it the bytes it reads while a head may
//! be arriving, and the hub reads the findings when hyper hands it the
//! request. It scans one head per read, up to the blank line that ends it;
//! a second head pipelined in the same read is left unchecked (hyper still
//! closes after a request framed both ways, so nothing is smuggled). What
//! it scans counts as a head only if its first line ends as a request line
//! does (` HTTP/1.x`): the tail of a body that arrives after its response
//! went out is not a head, and must not get the next request refused.

/// A `Content-Length` line was in the head.
pub const CONTENT_LENGTH: u8 = 1;
/// A line of the head ended in a bare LF.
pub const BARE_LF: u8 = 2;

/// The header name looked for, with its colon (httparse refuses white
/// space before the colon in a request, so no other spelling passes).
const CL: &[u8] = b"content-length:";

/// How a request line ends.
const VERSION: &[u8] = b" HTTP/1.";
/// ... followed by one digit.
const TAIL: usize = VERSION.len() + 1;

/// Scanner state for one connection.
#[derive(Default)]
pub struct HeadScan {
    /// The head's blank line was seen: nothing more to scan until the next
    /// head may begin.
    done: bool,
    /// Complete lines seen in this head (empty lines before the request
    /// line are allowed and skipped, as httparse does).
    lines: u32,
    /// The start of a line not complete at the end of the last read.
    partial: [u8; CL.len()],
    /// How long that line is so far.
    partial_len: usize,
    /// Whether the last byte of that line so far is CR.
    partial_cr: bool,
    /// The last bytes of that line so far (right-aligned).
    tail: [u8; TAIL + 1],
    /// What was found in this head.
    found: u8,
}

impl HeadScan {
    /// A new head may arrive (an exchange ended): scan from its start.
    pub fn restart(&mut self) {
        *self = HeadScan::default();
    }

    /// Whether the scanner has seen the whole head.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Scans `data`, the next bytes of the connection; returns the flags
    /// found in the head so far.
    pub fn feed(&mut self, mut data: &[u8]) -> u8 {
        while !self.done && !data.is_empty() {
            let Some(nl) = data.iter().position(|&b| b == b'\n') else {
                self.carry(data);
                break;
            };
            let part = &data[..nl];
            data = &data[nl + 1..];
            let cr = match part.last() {
                Some(&b) => b == b'\r',
                None => self.partial_cr,
            };
            let len = self.partial_len + part.len();
            if !cr {
                self.found |= BARE_LF;
            }
            if len == usize::from(cr) {
                // An empty line: the end of the head, unless no line came
                // yet (leading empty lines are skipped).
                if self.lines > 0 {
                    self.done = true;
                }
            } else {
                self.lines += 1;
                self.carry(part);
                if self.lines == 1 && !self.is_request_line(cr) {
                    // Not a head: the tail of a body. Wait for the next one.
                    self.done = true;
                    self.found = 0;
                    break;
                }
                if self.partial_len >= CL.len() && self.partial.eq_ignore_ascii_case(CL) {
                    self.found |= CONTENT_LENGTH;
                }
            }
            self.partial_len = 0;
            self.partial_cr = false;
            self.tail = [0; TAIL + 1];
        }
        self.found
    }

    /// Whether the line just completed (in `tail`, with its CR if `cr`)
    /// ends as a request line: ` HTTP/1.` and a digit.
    fn is_request_line(&self, cr: bool) -> bool {
        let end = self.tail.len() - usize::from(cr);
        let t = &self.tail[end - TAIL..end];
        t.starts_with(VERSION) && t[TAIL - 1].is_ascii_digit()
    }

    /// Keeps the start and the end of an unfinished line.
    fn carry(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let keep = bytes.len().min(self.tail.len());
        self.tail.rotate_left(keep);
        let at = self.tail.len() - keep;
        self.tail[at..].copy_from_slice(&bytes[bytes.len() - keep..]);
        let at = self.partial_len.min(CL.len());
        let n = (CL.len() - at).min(bytes.len());
        self.partial[at..at + n].copy_from_slice(&bytes[..n]);
        self.partial_len += bytes.len();
        self.partial_cr = bytes.last() == Some(&b'\r');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_pieces(head: &[u8], piece: usize) -> (u8, bool) {
        let mut s = HeadScan::default();
        let mut found = 0;
        for chunk in head.chunks(piece) {
            found = s.feed(chunk);
        }
        (found, s.is_done())
    }

    #[test]
    fn findings_are_the_same_however_the_head_is_split() {
        let cases: [(&[u8], u8); 6] = [
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
                CONTENT_LENGTH,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\ncOnTeNt-LeNgTh: 3\r\n\r\n",
                CONTENT_LENGTH,
            ),
            (b"GET / HTTP/1.1\nHost: x\r\n\r\n", BARE_LF),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\n", BARE_LF),
            (b"\r\n\r\nGET / HTTP/1.1\r\nX-Content-Length: 1\r\n\r\n", 0),
        ];
        for (head, want) in cases {
            for piece in 1..=head.len() {
                assert_eq!(
                    scan_in_pieces(head, piece),
                    (want, true),
                    "{:?} in pieces of {piece}",
                    String::from_utf8_lossy(head)
                );
            }
        }
    }

    #[test]
    fn the_body_after_the_head_is_not_scanned_until_a_restart() {
        let mut s = HeadScan::default();
        let found = s.feed(b"POST / HTTP/1.1\r\nHost: x\r\n\r\ncontent-length: 1\nx");
        assert_eq!(found, 0);
        assert!(s.is_done());
        s.restart();
        assert_eq!(s.feed(b"GET / HTTP/1.1\n"), BARE_LF);
        assert!(!s.is_done());
    }

    #[test]
    fn a_body_tail_taken_for_a_head_finds_nothing() {
        let mut s = HeadScan::default();
        assert_eq!(s.feed(b"line one\nContent-Length: 4\r\n\r\n"), 0);
        assert!(s.is_done());
    }
}
