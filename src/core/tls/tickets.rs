//! Session tickets that stop resuming after `sessionTimeout` (Node's
//! option, 300 s by default).
//!
//! rustls' ticketer rotates its keys every six hours and does not look at a
//! ticket's age, so the issue time travels inside the encrypted ticket and
//! is checked on the way back.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::server::ProducesTickets;

/// A ticketer whose tickets expire `lifetime` seconds after issue.
#[derive(Debug)]
pub struct Expiring {
    inner: Arc<dyn ProducesTickets>,
    lifetime: u32,
}

impl Expiring {
    /// Wraps `inner`; tickets are accepted for `lifetime` seconds.
    pub fn new(inner: Arc<dyn ProducesTickets>, lifetime: u32) -> Self {
        Expiring { inner, lifetime }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ProducesTickets for Expiring {
    fn enabled(&self) -> bool {
        self.lifetime > 0 && self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut stamped = Vec::with_capacity(8 + plain.len());
        stamped.extend_from_slice(&now().to_be_bytes());
        stamped.extend_from_slice(plain);
        self.inner.encrypt(&stamped)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let plain = self.inner.decrypt(cipher)?;
        let (stamp, rest) = plain.split_first_chunk::<8>()?;
        let issued = u64::from_be_bytes(*stamp);
        (now() <= issued.saturating_add(u64::from(self.lifetime))).then(|| rest.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_round_trips_while_fresh_and_not_after() {
        let inner = rustls::crypto::ring::Ticketer::new().unwrap();
        let fresh = Expiring::new(inner.clone(), 300);
        let t = fresh.encrypt(b"session").unwrap();
        assert_eq!(fresh.decrypt(&t).as_deref(), Some(&b"session"[..]));
        assert_eq!(fresh.lifetime(), 300);

        // A ticket issued long ago: stamp it by hand with the inner ticketer.
        let mut old = 1u64.to_be_bytes().to_vec();
        old.extend_from_slice(b"session");
        let t = inner.encrypt(&old).unwrap();
        assert_eq!(fresh.decrypt(&t), None);
        assert!(
            !Expiring::new(inner, 0).enabled(),
            "sessionTimeout 0: no tickets"
        );
    }
}
