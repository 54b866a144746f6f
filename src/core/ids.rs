//! Exchange ids: ours, sequential, never 0, and looked up with a hash that
//! costs one multiply.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes exchange ids. They are ours, sequential and never chosen by a
/// client, so one multiply spreads them well enough, where the default
/// SipHash (built to resist chosen keys) costs a few lookups' worth per
/// request.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A table keyed by exchange id.
pub type IdMap<T> = HashMap<u32, T, BuildHasherDefault<IdHasher>>;

/// The next free id of `map`, counting on from `next` (which is advanced).
/// Ids wrap around past `u32::MAX` and skip 0 (an id no exchange has) and
/// any still in use.
pub fn alloc<T>(next: &mut u32, map: &IdMap<T>) -> u32 {
    loop {
        let id = *next;
        *next = id.wrapping_add(1).max(1);
        if !map.contains_key(&id) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_wrap_skip_zero_and_those_in_use() {
        let mut map = IdMap::default();
        map.insert(1u32, ());
        let mut next = u32::MAX;
        assert_eq!(alloc(&mut next, &map), u32::MAX);
        assert_eq!(alloc(&mut next, &map), 2, "0 and 1 are skipped");
    }
}
