//! The two binary record formats that cross the thread boundary.
//!
//! Events (I/O thread → JS) are appended to one byte buffer that JS drains
//! in a single native call; ops (JS → I/O thread) arrive as one byte buffer
//! per flush. Both are little-endian, length-prefixed and documented here and
//! in `lib/wire.js`, which must agree with this file byte for byte.

use bytes::Bytes;
use http::{HeaderName, Version};
use std::net::SocketAddr;
use std::sync::OnceLock;

use crate::core::error::{Error, Result};

/// A request head: `u32 id, u32 conn, u8 version, u8 flags, u8 method_len,
/// method, u32 url_len, url, u32 block_len, block` where the block repeats
/// `u16 name_len, name, u32 value_len, value`.
pub const EV_REQUEST: u8 = 1;
/// A request body chunk: `u32 id, u32 len, bytes`.
pub const EV_BODY: u8 = 2;
/// The request body ended: `u32 id`.
pub const EV_END: u8 = 3;
/// The exchange was aborted (client gone, stream reset, forced close): `u32 id`.
pub const EV_ABORT: u8 = 4;
/// The response body buffer drained after JS asked to hear of it: `u32 id`.
pub const EV_DRAIN: u8 = 5;
/// A connection was accepted: `u32 conn, u8 len, local ip text, u16 local
/// port, u8 len, remote ip text, u16 remote port`.
pub const EV_CONN_OPEN: u8 = 6;
/// A connection's socket closed and its task ended: `u32 conn`.
pub const EV_CONN_CLOSE: u8 = 7;

/// A long request body chunk carried beside the records: `u32 id, u32
/// index` into the drain's chunk list.
pub const EV_BODY_AT: u8 = 8;
/// The request body's trailers, just before its EV_END: `u32 id, u32
/// block_len, block`, the block as in [`EV_REQUEST`].
pub const EV_TRAILERS: u8 = 9;
/// A connection's request was refused as malformed or too slow, after the
/// native side answered it (400, 431, 408): `u32 conn, u8 kind` (a
/// `CLIENT_ERROR_*` value). JS emits `'clientError'`.
pub const EV_CLIENT_ERROR: u8 = 10;

/// Client error kinds, as lib/wire.js maps them to Node's error codes.
pub const CLIENT_ERROR_PARSE: u8 = 1;
/// The head was over `maxHeaderSize` (431).
pub const CLIENT_ERROR_TOO_LARGE: u8 = 2;
/// The head did not arrive within `headersTimeout` (408).
pub const CLIENT_ERROR_TIMEOUT: u8 = 3;
/// Content-Length beside Transfer-Encoding (400).
pub const CLIENT_ERROR_CONTENT_LENGTH: u8 = 4;
/// A line of the head ended in a bare LF (400).
pub const CLIENT_ERROR_LF: u8 = 5;
/// An invalid method (400).
pub const CLIENT_ERROR_METHOD: u8 = 6;
/// An invalid request target (400).
pub const CLIENT_ERROR_URL: u8 = 7;
/// An invalid HTTP version (400).
pub const CLIENT_ERROR_VERSION: u8 = 8;
/// An invalid header (400).
pub const CLIENT_ERROR_HEADER: u8 = 9;
/// A malformed chunked body (400, or the connection closes).
pub const CLIENT_ERROR_CHUNKED: u8 = 10;

/// The native side is done with a Buffer JS lent it (src/core/lent.rs):
/// `u32 token`. Numbered apart from the other kinds, so records added
/// beside it do not collide.
pub const EV_RELEASE: u8 = 16;

/// A connection finished its TLS handshake (sent before any of its
/// requests): `u32 conn, u8 flags (TLS_*), u8 version (12 | 13), then four
/// u8-length-prefixed strings: ALPN protocol, SNI server name, cipher suite,
/// authorization error; then u16 count and (u32 len, DER) per client
/// certificate, leaf first`.
pub const EV_TLS_READY: u8 = 11;
/// A TLS handshake failed (`'tlsClientError'`): `u32 conn, u8 len, code,
/// u16 len, message`.
pub const EV_TLS_ERROR: u8 = 12;
/// EV_TLS_READY flag: the client certificate is signed by `ca`.
pub const TLS_AUTHORIZED: u8 = 1;
/// EV_TLS_READY flag: refused after the handshake, HTTP/1.1 with
/// `allowHTTP1: false` (`'unknownProtocol'`); the connection closes.
pub const TLS_REFUSED: u8 = 2;
/// EV_TLS_READY flag: the session was resumed.
pub const TLS_RESUMED: u8 = 4;

/// Request flag: a body follows (EV_BODY … EV_END).
pub const REQ_HAS_BODY: u8 = 1;
/// EV_REQUEST flag: the request asks to switch protocols (HTTP/1.1
/// `Upgrade:`); a 101 response turns the exchange into a tunnel.
pub const REQ_UPGRADE: u8 = 2;

/// Response head: `u32 id, u16 status, u8 flags, u16 reason_len, reason,
/// u16 count, (u16 name_len, name, u32 value_len, value)*`. A `name_len`
/// with [`NAME_INDEXED`] set carries no name bytes: its low bits index
/// [`KNOWN_NAMES`].
pub const OP_HEAD: u8 = 1;

/// Set in a head's `name_len`: the name is `KNOWN_NAMES[name_len & 0x7fff]`.
/// Names are never that long (`maxHeaderSize`), so no length is lost.
pub const NAME_INDEXED: u16 = 0x8000;

/// Response header names common enough to travel as an index (lib/wire.js
/// holds the same list, in the same order; a test compares them). The core
/// then clones a ready `HeaderName` instead of parsing text, and JS writes
/// two bytes instead of the name. Append only: the index is the wire format.
pub const KNOWN_NAMES: [&str; 32] = [
    "content-type",
    "content-length",
    "connection",
    "keep-alive",
    "date",
    "cache-control",
    "etag",
    "last-modified",
    "location",
    "set-cookie",
    "server",
    "vary",
    "x-powered-by",
    "transfer-encoding",
    "content-encoding",
    "access-control-allow-origin",
    "accept-ranges",
    "expires",
    "pragma",
    "x-content-type-options",
    "strict-transport-security",
    "content-disposition",
    "content-security-policy",
    "upgrade",
    "sec-websocket-accept",
    "x-frame-options",
    "referrer-policy",
    "content-language",
    "retry-after",
    "www-authenticate",
    "link",
    "age",
];

/// The `HeaderName` of `KNOWN_NAMES[i]`, made once: cloning one is a copy
/// of a few words (standard names are an enum, the rest static bytes).
fn known_name(i: usize) -> Option<HeaderName> {
    static TABLE: OnceLock<Vec<HeaderName>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            KNOWN_NAMES
                .iter()
                .map(|n| HeaderName::from_static(n))
                .collect()
        })
        .get(i)
        .cloned()
}
/// Response body data: `u32 id, u8 flags`, then `u32 index` into the
/// external chunk list if `DATA_EXTERNAL`, else `u32 len, bytes`.
pub const OP_DATA: u8 = 2;
/// JS wants more request body: `u32 id`.
pub const OP_DEMAND: u8 = 3;
/// JS destroyed the exchange (`res.destroy()`): `u32 id`.
pub const OP_ABORT: u8 = 4;
/// JS destroyed an upgrade socket after writing to it: `u32 id`. What it
/// wrote still goes out, then the connection closes (Node hands a write to
/// the kernel at once, so `destroy()` after `write()` delivers it).
pub const OP_CLOSE: u8 = 5;
/// Response trailers (`res.addTrailers()`), before the body's last data op:
/// `u32 id, u16 count, (u16 name_len, name, u32 value_len, value)*`.
pub const OP_TRAILERS: u8 = 6;

/// The `Keep-Alive` value for heads with [`HEAD_KEEP_ALIVE_TIMEOUT`], from
/// now on: `u32 len, value`. JS sends it before the first such head and
/// whenever the server's settings change it.
pub const OP_KEEP_ALIVE: u8 = 7;

/// Head flag: the response has no body beyond what follows in this flush.
pub const HEAD_END: u8 = 1;
/// Head flag: add `connection: keep-alive` (Node's, on HTTP/1.1). Made by
/// the core from a static value: sent on nearly every response, it is not
/// worth encoding and parsing each time.
pub const HEAD_KEEP_ALIVE: u8 = 2;
/// Head flag: add `keep-alive:` with the value of the last [`OP_KEEP_ALIVE`].
pub const HEAD_KEEP_ALIVE_TIMEOUT: u8 = 4;
/// Data flag: this is the last chunk.
pub const DATA_END: u8 = 1;
/// Data flag: send EV_DRAIN once the buffered body has been taken by hyper.
pub const DATA_WANT_DRAIN: u8 = 2;
/// Data flag: the bytes are in the external chunk list.
pub const DATA_EXTERNAL: u8 = 4;

/// Appends little-endian primitives to an event buffer.
pub trait Put {
    /// Appends one byte.
    fn put_u8(&mut self, v: u8);
    /// Appends a little-endian u16.
    fn put_u16(&mut self, v: u16);
    /// Appends a little-endian u32.
    fn put_u32(&mut self, v: u32);
    /// Appends raw bytes.
    fn put_bytes(&mut self, v: &[u8]);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_bytes(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
}

/// Appends a record that is only a kind and an id: EV_END, EV_ABORT,
/// EV_DRAIN (`u32 id`) or EV_CONN_CLOSE (`u32 conn`).
pub fn put_event(buf: &mut Vec<u8>, kind: u8, id: u32) {
    buf.put_u8(kind);
    buf.put_u32(id);
}

/// Appends an EV_BODY record carrying `data` inline.
pub fn put_body(buf: &mut Vec<u8>, id: u32, data: &[u8]) {
    buf.put_u8(EV_BODY);
    buf.put_u32(id);
    buf.put_u32(data.len() as u32);
    buf.put_bytes(data);
}

/// Appends an EV_BODY_AT record: the chunk is entry `index` of the
/// drain's chunk list.
pub fn put_body_at(buf: &mut Vec<u8>, id: u32, index: u32) {
    buf.put_u8(EV_BODY_AT);
    buf.put_u32(id);
    buf.put_u32(index);
}

/// Appends an EV_REQUEST record for the head in `parts` (layout at
/// [`EV_REQUEST`]). HTTP/2 pseudo-headers lead the header block, as Node's
/// `rawHeaders` has them.
pub fn put_request(b: &mut Vec<u8>, id: u32, conn: u32, parts: &http::request::Parts, flags: u8) {
    let version = match parts.version {
        Version::HTTP_10 => 10,
        Version::HTTP_09 => 9,
        Version::HTTP_2 => 20,
        _ => 11,
    };
    let method = parts.method.as_str().as_bytes();
    let uri = &parts.uri;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    b.put_u8(EV_REQUEST);
    b.put_u32(id);
    b.put_u32(conn);
    b.put_u8(version);
    b.put_u8(flags);
    b.put_u8(method.len().min(255) as u8);
    b.put_bytes(&method[..method.len().min(255)]);
    // HTTP/1.1 absolute-form targets (proxies) reach JS whole, as in Node,
    // and so does a CONNECT's authority-form target (`host:port`).
    if version != 20 && uri.scheme().is_some() {
        let s = uri.to_string();
        b.put_u32(s.len() as u32);
        b.put_bytes(s.as_bytes());
    } else if let (true, Some(authority)) = (
        version != 20 && parts.method == http::Method::CONNECT,
        uri.authority(),
    ) {
        b.put_u32(authority.as_str().len() as u32);
        b.put_bytes(authority.as_str().as_bytes());
    } else {
        b.put_u32(path.len() as u32);
        b.put_bytes(path.as_bytes());
    }
    let at = b.len();
    b.put_u32(0);
    if version == 20 {
        put_header(b, b":method", method);
        put_header(b, b":path", path.as_bytes());
        put_header(b, b":scheme", uri.scheme_str().unwrap_or("http").as_bytes());
        if let Some(a) = uri.authority() {
            put_header(b, b":authority", a.as_str().as_bytes());
        }
    }
    for (name, value) in parts.headers.iter() {
        put_header(b, name.as_str().as_bytes(), value.as_bytes());
    }
    let len = (b.len() - at - 4) as u32;
    b[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Appends an EV_CLIENT_ERROR record.
pub fn put_client_error(b: &mut Vec<u8>, conn: u32, kind: u8) {
    b.put_u8(EV_CLIENT_ERROR);
    b.put_u32(conn);
    b.put_u8(kind);
}

/// The client error kind of an error hyper's HTTP/1.1 server returned,
/// if it was bad or slow input. hyper exposes only the broad kinds as
/// predicates; its messages name the part of the head that failed.
pub fn client_error_kind(err: &hyper::Error) -> Option<u8> {
    if err.is_timeout() {
        return Some(CLIENT_ERROR_TIMEOUT);
    }
    if err.is_parse_too_large() {
        return Some(CLIENT_ERROR_TOO_LARGE);
    }
    if !err.is_parse() {
        return None;
    }
    let text = err.to_string();
    Some(if text.contains("method") {
        CLIENT_ERROR_METHOD
    } else if text.contains("URI") || text.contains("uri") {
        CLIENT_ERROR_URL
    } else if text.contains("version") {
        CLIENT_ERROR_VERSION
    } else if text.contains("content-length") || text.contains("transfer-encoding") {
        CLIENT_ERROR_CONTENT_LENGTH
    } else if text.contains("header") {
        CLIENT_ERROR_HEADER
    } else {
        CLIENT_ERROR_PARSE
    })
}

/// Appends an EV_TRAILERS record for `trailers` (layout at [`EV_TRAILERS`]).
pub fn put_trailers(b: &mut Vec<u8>, id: u32, trailers: &http::HeaderMap) {
    b.put_u8(EV_TRAILERS);
    b.put_u32(id);
    let at = b.len();
    b.put_u32(0);
    for (name, value) in trailers.iter() {
        put_header(b, name.as_str().as_bytes(), value.as_bytes());
    }
    let len = (b.len() - at - 4) as u32;
    b[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Appends one header to a request's header block.
pub fn put_header(block: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    // Names are bounded by the head size limit, far below u16::MAX.
    block.put_u16(name.len().min(u16::MAX as usize) as u16);
    block.put_bytes(&name[..name.len().min(u16::MAX as usize)]);
    block.put_u32(value.len() as u32);
    block.put_bytes(value);
}

/// Appends an EV_CONN_OPEN record: addresses travel as text, formatted
/// as Node formats them (RFC 5952, `::ffff:a.b.c.d` for mapped IPv4).
pub fn put_conn_open(buf: &mut Vec<u8>, conn: u32, local: SocketAddr, remote: SocketAddr) {
    buf.put_u8(EV_CONN_OPEN);
    buf.put_u32(conn);
    for addr in [local, remote] {
        let ip = addr.ip().to_string();
        buf.put_u8(ip.len() as u8);
        buf.put_bytes(ip.as_bytes());
        buf.put_u16(addr.port());
    }
}

/// One decoded instruction from JS.
#[derive(Debug, PartialEq)]
pub enum Op {
    /// Send the response head.
    Head {
        /// Exchange id.
        id: u32,
        /// Status code.
        status: u16,
        /// Custom reason phrase (HTTP/1.1 only).
        reason: Option<Bytes>,
        /// Header names and values. A name that is not a valid header name
        /// (lib/ validates them with Node's rules) is left out.
        headers: Vec<(HeaderName, Bytes)>,
        /// No body follows beyond data in this same flush.
        end: bool,
        /// Add `connection: keep-alive` ([`HEAD_KEEP_ALIVE`]).
        keep_alive: bool,
        /// Add `keep-alive: <value>` ([`HEAD_KEEP_ALIVE_TIMEOUT`]).
        keep_alive_timeout: bool,
    },
    /// The `Keep-Alive` value for the heads that follow.
    KeepAlive {
        /// The value, as JS made it.
        value: Bytes,
    },
    /// Send body bytes.
    Data {
        /// Exchange id.
        id: u32,
        /// The bytes (may be empty when only `end` matters).
        chunk: Bytes,
        /// This is the last chunk.
        end: bool,
        /// JS wants EV_DRAIN once hyper has taken the buffered bytes.
        want_drain: bool,
    },
    /// JS wants more of the request body.
    Demand {
        /// Exchange id.
        id: u32,
    },
    /// JS destroyed the exchange.
    Abort {
        /// Exchange id.
        id: u32,
    },
    /// JS destroyed an upgrade socket: flush, then close.
    Close {
        /// Exchange id.
        id: u32,
    },
    /// Trailers to send after the response body.
    Trailers {
        /// Exchange id.
        id: u32,
        /// Names and values, as for [`Op::Head`].
        headers: Vec<(Bytes, Bytes)>,
    },
}

struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    /// The next `n` bytes, borrowed.
    fn peek(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(Error::Wire(self.pos))?;
        let at = self.pos;
        self.pos = end;
        Ok(&self.buf[at..end])
    }
    /// The next `n` bytes as a zero-copy slice of the flush (one reference
    /// count each: only for what outlives the decode).
    fn take(&mut self, n: usize) -> Result<Bytes> {
        let at = self.pos;
        self.peek(n)?;
        Ok(self.buf.slice(at..self.pos))
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.peek(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.peek(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.peek(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// `u16 count, (u16 name_len, name, u32 value_len, value)*`, as heads
    /// and trailers carry their headers.
    fn header_list(&mut self) -> Result<Vec<(Bytes, Bytes)>> {
        let count = self.u16()? as usize;
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            let n = self.u16()? as usize;
            let name = self.take(n)?;
            let v = self.u32()? as usize;
            headers.push((name, self.take(v)?));
        }
        Ok(headers)
    }
}

/// Decodes one flush from JS. `meta` is copied once; inline chunks and
/// header values are zero-copy slices of that copy.
pub fn decode_ops(meta: &[u8], mut external: Vec<Option<Bytes>>) -> Result<Vec<Op>> {
    let mut r = Reader {
        buf: Bytes::copy_from_slice(meta),
        pos: 0,
    };
    let mut ops = Vec::new();
    while r.pos < r.buf.len() {
        let at = r.pos;
        let op = match r.u8()? {
            OP_HEAD => {
                let id = r.u32()?;
                let status = r.u16()?;
                let flags = r.u8()?;
                let reason_len = r.u16()? as usize;
                let reason = if reason_len == 0 {
                    None
                } else {
                    Some(r.take(reason_len)?)
                };
                let count = r.u16()? as usize;
                let mut headers = Vec::with_capacity(count);
                for _ in 0..count {
                    let n = r.u16()?;
                    let name = if n & NAME_INDEXED != 0 {
                        Some(known_name((n & !NAME_INDEXED) as usize).ok_or(Error::Wire(at))?)
                    } else {
                        HeaderName::from_bytes(r.peek(n as usize)?).ok()
                    };
                    let v = r.u32()? as usize;
                    let value = r.take(v)?;
                    if let Some(name) = name {
                        headers.push((name, value));
                    }
                }
                Op::Head {
                    id,
                    status,
                    reason,
                    headers,
                    end: flags & HEAD_END != 0,
                    keep_alive: flags & HEAD_KEEP_ALIVE != 0,
                    keep_alive_timeout: flags & HEAD_KEEP_ALIVE_TIMEOUT != 0,
                }
            }
            OP_DATA => {
                let id = r.u32()?;
                let flags = r.u8()?;
                let chunk = if flags & DATA_EXTERNAL != 0 {
                    let index = r.u32()? as usize;
                    external
                        .get_mut(index)
                        .and_then(Option::take)
                        .ok_or(Error::Wire(at))?
                } else {
                    let len = r.u32()? as usize;
                    r.take(len)?
                };
                Op::Data {
                    id,
                    chunk,
                    end: flags & DATA_END != 0,
                    want_drain: flags & DATA_WANT_DRAIN != 0,
                }
            }
            OP_DEMAND => Op::Demand { id: r.u32()? },
            OP_ABORT => Op::Abort { id: r.u32()? },
            OP_CLOSE => Op::Close { id: r.u32()? },
            OP_TRAILERS => {
                let id = r.u32()?;
                let headers = r.header_list()?;
                Op::Trailers { id, headers }
            }
            OP_KEEP_ALIVE => {
                let len = r.u32()? as usize;
                // Its own allocation: a slice would keep this whole flush
                // alive for as long as the server uses the value.
                Op::KeepAlive {
                    value: Bytes::copy_from_slice(r.peek(len)?),
                }
            }
            _ => return Err(Error::Wire(at)),
        };
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_records_carry_the_head_as_lib_wire_js_reads_it() {
        let req = http::Request::builder()
            .method("POST")
            .uri("/up?x=1")
            .header("host", "h")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let mut b = Vec::new();
        put_request(&mut b, 7, 3, &parts, REQ_HAS_BODY);
        let mut want = vec![EV_REQUEST, 7, 0, 0, 0, 3, 0, 0, 0, 11, REQ_HAS_BODY, 4];
        want.extend_from_slice(b"POST");
        want.extend_from_slice(&[7, 0, 0, 0]);
        want.extend_from_slice(b"/up?x=1");
        want.extend_from_slice(&[11, 0, 0, 0, 4, 0]);
        want.extend_from_slice(b"host");
        want.extend_from_slice(&[1, 0, 0, 0]);
        want.extend_from_slice(b"h");
        assert_eq!(b, want);
    }

    #[test]
    fn decodes_demand_abort_and_close() {
        let mut m = Vec::new();
        for op in [OP_DEMAND, OP_ABORT, OP_CLOSE] {
            m.put_u8(op);
            m.put_u32(9);
        }
        assert_eq!(
            decode_ops(&m, vec![]).unwrap(),
            vec![
                Op::Demand { id: 9 },
                Op::Abort { id: 9 },
                Op::Close { id: 9 }
            ]
        );
    }

    #[test]
    fn trailers_travel_both_ways_in_the_header_block_layout() {
        let mut m = Vec::new();
        m.put_u8(OP_TRAILERS);
        m.put_u32(5);
        m.put_u16(1);
        m.put_u16(6);
        m.put_bytes(b"X-Hash");
        m.put_u32(3);
        m.put_bytes(b"abc");
        assert_eq!(
            decode_ops(&m, vec![]).unwrap(),
            vec![Op::Trailers {
                id: 5,
                headers: vec![(Bytes::from_static(b"X-Hash"), Bytes::from_static(b"abc"))]
            }]
        );
        let mut map = http::HeaderMap::new();
        map.insert("x-hash", http::HeaderValue::from_static("abc"));
        let mut b = Vec::new();
        put_trailers(&mut b, 5, &map);
        let mut want = vec![EV_TRAILERS, 5, 0, 0, 0, 15, 0, 0, 0, 6, 0];
        want.extend_from_slice(b"x-hash");
        want.extend_from_slice(&[3, 0, 0, 0]);
        want.extend_from_slice(b"abc");
        assert_eq!(b, want);
    }

    #[test]
    fn decodes_head_data_and_external_chunks() {
        let mut m = Vec::new();
        m.put_u8(OP_HEAD);
        m.put_u32(7);
        m.put_u16(404);
        m.put_u8(0);
        m.put_u16(4);
        m.put_bytes(b"Nope");
        m.put_u16(3);
        m.put_u16(4);
        m.put_bytes(b"X-Id");
        m.put_u32(2);
        m.put_bytes(b"42");
        // Not a header name: left out.
        m.put_u16(3);
        m.put_bytes(b"a b");
        m.put_u32(1);
        m.put_bytes(b"x");
        m.put_u16(NAME_INDEXED);
        m.put_u32(10);
        m.put_bytes(b"text/plain");
        m.put_u8(OP_DATA);
        m.put_u32(7);
        m.put_u8(DATA_EXTERNAL);
        m.put_u32(0);
        m.put_u8(OP_DATA);
        m.put_u32(7);
        m.put_u8(DATA_END);
        m.put_u32(2);
        m.put_bytes(b"hi");
        let ops = decode_ops(&m, vec![Some(Bytes::from_static(b"big"))]).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[0],
            Op::Head {
                id: 7,
                status: 404,
                reason: Some(Bytes::from_static(b"Nope")),
                headers: vec![
                    (HeaderName::from_static("x-id"), Bytes::from_static(b"42")),
                    (
                        http::header::CONTENT_TYPE,
                        Bytes::from_static(b"text/plain")
                    ),
                ],
                end: false,
                keep_alive: false,
                keep_alive_timeout: false
            }
        );
        assert_eq!(
            ops[1],
            Op::Data {
                id: 7,
                chunk: Bytes::from_static(b"big"),
                end: false,
                want_drain: false
            }
        );
        assert_eq!(
            ops[2],
            Op::Data {
                id: 7,
                chunk: Bytes::from_static(b"hi"),
                end: true,
                want_drain: false
            }
        );
    }

    #[test]
    fn decodes_keep_alive_value_and_head_flags() {
        let mut m = vec![OP_KEEP_ALIVE];
        m.put_u32(9);
        m.put_bytes(b"timeout=5");
        m.put_u8(OP_HEAD);
        m.put_u32(3);
        m.put_u16(200);
        m.put_u8(HEAD_END | HEAD_KEEP_ALIVE | HEAD_KEEP_ALIVE_TIMEOUT);
        m.put_u16(0);
        m.put_u16(0);
        assert_eq!(
            decode_ops(&m, vec![]).unwrap(),
            vec![
                Op::KeepAlive {
                    value: Bytes::from_static(b"timeout=5")
                },
                Op::Head {
                    id: 3,
                    status: 200,
                    reason: None,
                    headers: vec![],
                    end: true,
                    keep_alive: true,
                    keep_alive_timeout: true,
                }
            ]
        );
    }

    #[test]
    fn known_names_are_valid_and_lib_wire_js_lists_them_in_the_same_order() {
        for (i, name) in KNOWN_NAMES.iter().enumerate() {
            assert_eq!(known_name(i).unwrap().as_str(), *name);
        }
        assert!(known_name(KNOWN_NAMES.len()).is_none());
        let js = include_str!("../../lib/wire.js");
        let start = js
            .find("const KNOWN_NAMES = [")
            .expect("KNOWN_NAMES in lib/wire.js");
        let list = &js[start..start + js[start..].find("];").unwrap()];
        let names: Vec<&str> = list.split('\'').skip(1).step_by(2).collect();
        assert_eq!(names, KNOWN_NAMES);
    }

    #[test]
    fn truncated_or_unknown_records_are_errors_not_panics() {
        assert!(decode_ops(&[OP_HEAD, 1, 0], vec![]).is_err());
        // An index past the known names.
        let mut m = vec![OP_HEAD];
        m.put_u32(1);
        m.put_u16(200);
        m.put_u8(0);
        m.put_u16(0);
        m.put_u16(1);
        m.put_u16(NAME_INDEXED | KNOWN_NAMES.len() as u16);
        m.put_u32(0);
        assert!(decode_ops(&m, vec![]).is_err());
        assert!(decode_ops(&[99], vec![]).is_err());
        let mut m = vec![OP_DATA];
        m.put_u32(1);
        m.put_u8(DATA_EXTERNAL);
        m.put_u32(5);
        assert!(decode_ops(&m, vec![]).is_err());
        let mut m = vec![OP_DATA];
        m.put_u32(1);
        m.put_u8(0);
        m.put_u32(u32::MAX);
        assert!(decode_ops(&m, vec![]).is_err());
    }
}
