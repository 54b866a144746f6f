//! Counting connections (DESIGN C2): from accept until the socket is closed
//! and its task has ended. Reaching zero wakes whoever waits for it; nothing
//! polls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::core::dispatch::Outbox;
use crate::core::wire;

/// Open-connection count of one server, and what those connections are
/// doing (for `connectionsInfo()`). Written on the I/O thread, read from JS.
#[derive(Default)]
pub struct Tracker {
    open: AtomicUsize,
    zero: Notify,
    h1_busy: AtomicUsize,
    h2_sessions: AtomicUsize,
    h2_streams: AtomicUsize,
    upgraded: AtomicUsize,
    handshaking: AtomicUsize,
}

/// A snapshot of the open connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Info {
    /// HTTP/1.1 connections with no request in flight (and connections that
    /// have not yet shown which protocol they speak).
    pub idle: usize,
    /// HTTP/1.1 connections with a request in flight.
    pub active: usize,
    /// Open HTTP/2 sessions.
    pub http2_sessions: usize,
    /// Open HTTP/2 streams.
    pub http2_streams: usize,
    /// Upgraded connections (WebSocket and the like).
    pub upgraded: usize,
    /// Connections still in their TLS handshake.
    pub handshaking: usize,
}

/// Which gauge of [`Tracker`] a change applies to.
#[derive(Debug, Clone, Copy)]
pub enum Gauge {
    /// HTTP/1.1 connections with a request in flight.
    H1Busy,
    /// HTTP/2 sessions.
    H2Sessions,
    /// HTTP/2 streams.
    H2Streams,
    /// Upgraded connections.
    Upgraded,
    /// Connections in their TLS handshake.
    Handshaking,
}

impl Tracker {
    /// Connections currently counted.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn gauge(&self, g: Gauge) -> &AtomicUsize {
        match g {
            Gauge::H1Busy => &self.h1_busy,
            Gauge::H2Sessions => &self.h2_sessions,
            Gauge::H2Streams => &self.h2_streams,
            Gauge::Upgraded => &self.upgraded,
            Gauge::Handshaking => &self.handshaking,
        }
    }

    /// Counts one more in `g`.
    pub fn inc(&self, g: Gauge) {
        self.gauge(g).fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one fewer in `g`.
    pub fn dec(&self, g: Gauge) {
        // Never wraps below zero, even if a bookkeeping bug slipped in.
        let _ = self
            .gauge(g)
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// What the open connections are doing right now.
    pub fn info(&self) -> Info {
        let open = self.open();
        let active = self.h1_busy.load(Ordering::Relaxed);
        let http2_sessions = self.h2_sessions.load(Ordering::Relaxed);
        let upgraded = self.upgraded.load(Ordering::Relaxed);
        let handshaking = self.handshaking.load(Ordering::Relaxed);
        Info {
            idle: open.saturating_sub(active + http2_sessions + upgraded + handshaking),
            active,
            http2_sessions,
            http2_streams: self.h2_streams.load(Ordering::Relaxed),
            upgraded,
            handshaking,
        }
    }

    /// Counts a new connection until the guard is dropped.
    pub fn track(self: &Arc<Self>, id: u32, outbox: Arc<Outbox>) -> ConnGuard {
        self.open.fetch_add(1, Ordering::AcqRel);
        ConnGuard {
            tracker: self.clone(),
            id,
            outbox,
        }
    }

    /// Resolves once no connection is open.
    pub async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One counted connection. Drop it only after the socket is closed.
pub struct ConnGuard {
    tracker: Arc<Tracker>,
    id: u32,
    outbox: Arc<Outbox>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.outbox.push_event(wire::EV_CONN_CLOSE, self.id);
        if self.tracker.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker.zero.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dispatch::Quiet;

    #[tokio::test(flavor = "current_thread")]
    async fn wait_zero_resolves_when_the_last_guard_drops() {
        let t = Arc::new(Tracker::default());
        let out = Arc::new(Outbox::new(Arc::new(Quiet)));
        let a = t.track(1, out.clone());
        let b = t.track(2, out.clone());
        assert_eq!(t.open(), 2);
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.wait_zero().await });
        tokio::task::yield_now().await;
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.unwrap();
        assert_eq!(t.open(), 0);
        assert_eq!(out.take().len(), 10, "two EV_CONN_CLOSE records");
    }
}
