//! Response heads as hyper takes them: JS's status, reason phrase and
//! headers put into an `http::Response`, plus what HTTP/2 needs that
//! HTTP/1.1 does not.

use std::sync::OnceLock;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

/// What JS sent for one response head.
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Custom reason phrase (HTTP/1.1 only).
    pub reason: Option<Bytes>,
    /// Header names and values.
    pub headers: Vec<(HeaderName, Bytes)>,
    /// Node's keep-alive headers, added after `headers` on HTTP/1.1:
    /// `connection: keep-alive`, then `keep-alive: <value>` when it has one.
    pub keep_alive: Option<Option<HeaderValue>>,
}

/// The response hyper writes for `head` with `body`. `h2`: the connection
/// speaks HTTP/2; `length`: the whole body's length, when it is known and
/// HTTP/2 needs it written as a header; `closing`: the server is closing, so
/// the keep-alive headers JS asked for (before close()) are left out, and
/// hyper says `close` alone (DESIGN C4), not "keep-alive, close".
pub fn response<B>(
    head: Head,
    body: B,
    h2: bool,
    length: Option<usize>,
    closing: bool,
) -> Response<B> {
    let mut res = Response::new(body);
    *res.status_mut() =
        StatusCode::from_u16(head.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A closing server's connection closes after this response: no
    // keep-alive headers then, whatever JS decided before close().
    let keep_alive = if closing { None } else { head.keep_alive };
    let extra = match &keep_alive {
        Some(Some(_)) => 2,
        Some(None) => 1,
        None => 0,
    };
    fill_headers(res.headers_mut(), head.headers, h2, length, extra);
    if let (false, Some(value)) = (h2, keep_alive) {
        let map = res.headers_mut();
        map.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        if let Some(value) = value {
            map.append(HeaderName::from_static("keep-alive"), value);
        }
    }
    if let (false, Some(reason)) = (h2, head.reason) {
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(&reason[..]) {
            res.extensions_mut().insert(reason);
        }
    }
    res
}

/// The answer to an upgrade request while the server is closing: a closing
/// server takes no new long-lived connections.
pub fn upgrade_refused<B>(body: B) -> Response<B> {
    let mut res = Response::new(body);
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// The answer to a request hyper parsed but Node refuses (framed by both
/// Content-Length and Transfer-Encoding, lines ending in a bare LF; see
/// headscan.rs): 400, and the connection closes after it.
/// A request body that is not valid chunked encoding gets the same answer.
pub fn bad_request() -> Head {
    Head {
        status: 400,
        reason: None,
        headers: vec![(header::CONNECTION, Bytes::from_static(b"close"))],
        keep_alive: None,
    }
}

/// The answer to a request whose body did not arrive in time, as Node
/// gives it: 408, and the connection closes after it.
pub fn request_timeout() -> Head {
    Head {
        status: 408,
        reason: None,
        headers: vec![(header::CONNECTION, Bytes::from_static(b"close"))],
        keep_alive: None,
    }
}

/// A `Content-Length` value. Small lengths come from a table built once,
/// whose values clone without allocating or counting references; hyper's
/// own would allocate for every response.
fn content_length(len: usize) -> HeaderValue {
    const CACHED: usize = 4096;
    static TABLE: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    if len >= CACHED {
        return HeaderValue::from(len);
    }
    let table = TABLE.get_or_init(|| {
        let mut digits = String::new();
        let mut ends = Vec::with_capacity(CACHED);
        for n in 0..CACHED {
            digits.push_str(&n.to_string());
            ends.push(digits.len());
        }
        // Kept for the life of the process, as the table is.
        let digits: &'static str = Box::leak(digits.into_boxed_str());
        let mut start = 0;
        ends.into_iter()
            .map(|end| {
                let v = HeaderValue::from_static(&digits[start..end]);
                start = end;
                v
            })
            .collect()
    });
    table[len].clone()
}

/// Puts a response's headers from JS into `map`, and the `Content-Length`
/// of a whole HTTP/2 body if JS set none.
fn fill_headers(
    map: &mut HeaderMap,
    headers: Vec<(HeaderName, Bytes)>,
    h2: bool,
    length: Option<usize>,
    extra: usize,
) {
    // hyper then looks Content-Length up with `entry()`, which grows a full
    // map even when the name is there: leave it a free slot. `extra`: the
    // headers the caller adds after these.
    map.reserve(headers.len() + extra + if length.is_some() { 2 } else { 0 });
    for (name, value) in headers {
        // lib/ validated values with Node's rules; anything that still
        // fails here is skipped rather than sent broken.
        let Ok(value) = HeaderValue::from_maybe_shared(value) else {
            continue;
        };
        if h2 && h2_forbidden(&name) {
            continue;
        }
        map.append(name, value);
    }
    if let Some(len) = length {
        if !map.contains_key(header::CONTENT_LENGTH) {
            map.insert(header::CONTENT_LENGTH, content_length(len));
        }
    }
}

/// Response trailers from JS as a header map. Names and values were checked
/// by lib/ with Node's rules; what still fails is left out. Fields that must
/// not be trailers (RFC 9110 §6.5.1) are dropped by hyper.
pub fn trailer_map(headers: Vec<(Bytes, Bytes)>) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&name),
            HeaderValue::from_maybe_shared(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Connection-specific headers that HTTP/2 forbids (RFC 9113 §8.2.2). Node's
/// compatibility API drops them with a warning; we drop them silently.
fn h2_forbidden(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

#[cfg(test)]
mod tests {
    use super::{content_length, fill_headers};
    use bytes::Bytes;
    use http::{header, HeaderMap, HeaderName};

    #[test]
    fn hyper_finds_the_content_length_without_growing_the_map() {
        for n in 0..40 {
            let headers = (0..n)
                .map(|i| {
                    (
                        HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
                        Bytes::from_static(b"v"),
                    )
                })
                .collect();
            let mut map = HeaderMap::new();
            fill_headers(&mut map, headers, true, Some(11), 0);
            let cap = map.capacity();
            // What hyper's HTTP/2 server does with a whole body.
            map.entry(header::CONTENT_LENGTH)
                .or_insert_with(|| 11.into());
            assert_eq!(map.capacity(), cap, "{n} headers");
            assert_eq!(map.len(), n + 1);
        }
    }

    #[test]
    fn content_length_values_match_the_number() {
        for n in [
            0usize,
            1,
            9,
            10,
            11,
            99,
            100,
            1234,
            4095,
            4096,
            65536,
            usize::MAX,
        ] {
            assert_eq!(content_length(n).to_str().unwrap(), n.to_string());
        }
    }
}
