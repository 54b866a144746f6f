//! Server options, already validated by the JS layer and checked again here.

use std::sync::Arc;
use std::time::Duration;

use crate::core::tls::Acceptor;

/// hyper refuses HTTP/1 read buffers smaller than this (it asserts), so the
/// header limit never goes below it either.
pub const MIN_BUF_SIZE: usize = 8192;

/// Options of one server. Times of `None` mean "no limit", as `0` does in Node.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long an idle HTTP/1.1 keep-alive connection is kept open.
    pub keep_alive_timeout: Option<Duration>,
    /// How long a client may take to send a complete request head.
    pub headers_timeout: Option<Duration>,
    /// How long a client may take to send a whole request (head and body).
    pub request_timeout: Option<Duration>,
    /// Largest request head (request line and headers) in bytes.
    pub max_header_size: usize,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 initial stream window size.
    pub h2_initial_window_size: u32,
    /// HTTP/2 `maxSessionMemory` in bytes: what may wait to be written per
    /// session before new streams are refused (budget.rs).
    pub h2_max_session_memory: usize,
    /// Listen backlog.
    pub backlog: i32,
    /// Bind with SO_REUSEPORT, so another server (a new process of a
    /// deploy) can listen on the same port while this one still serves.
    pub reuse_port: bool,
    /// Terminate TLS on every connection (a secure server).
    pub tls: Option<Arc<Acceptor>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keep_alive_timeout: Some(Duration::from_millis(5_000)),
            headers_timeout: Some(Duration::from_millis(60_000)),
            request_timeout: Some(Duration::from_millis(300_000)),
            max_header_size: 16_384,
            h2_max_concurrent_streams: 200,
            h2_initial_window_size: 65_535,
            h2_max_session_memory: crate::core::budget::DEFAULT_LIMIT,
            backlog: 511,
            reuse_port: false,
            tls: None,
        }
    }
}

/// Turns Node's millisecond convention (0 = no limit) into an optional duration.
pub fn millis(ms: f64) -> Option<Duration> {
    if ms > 0.0 && ms.is_finite() {
        Some(Duration::from_micros((ms * 1000.0) as u64))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_limit() {
        assert_eq!(millis(0.0), None);
        assert_eq!(millis(f64::INFINITY), None);
        assert_eq!(millis(1.5), Some(Duration::from_micros(1500)));
    }
}
