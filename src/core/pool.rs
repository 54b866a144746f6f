//! Recycled buffers for response chunks copied out of JS.
//!
//! A chunk JS writes is copied once (the JS Buffer cannot be held by the I/O
//! thread) and freed on the I/O thread after hyper has written it. Left to
//! malloc, every 64 KiB response meant fresh pages on one thread and
//! returning them on the other: page faults cost more than the copy. Spent
//! buffers come back here instead, up to a bounded total.

use std::sync::Mutex;

use bytes::Bytes;

/// Chunks smaller than this are cheap for malloc; not pooled.
const MIN: usize = 8 * 1024;
/// Chunks larger than this are rare enough to leave to malloc.
const MAX: usize = 1024 * 1024;
/// The most memory the pool keeps.
const KEEP: usize = 8 * 1024 * 1024;

struct Pool {
    free: Vec<Vec<u8>>,
    kept: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    kept: 0,
});

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    // The pool holds plain buffers: a panic elsewhere cannot corrupt it.
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A pooled buffer: returns to the pool when the last `Bytes` is dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut v = std::mem::take(&mut self.0);
        if v.capacity() > MAX {
            return;
        }
        let mut pool = lock();
        if pool.kept + v.capacity() <= KEEP {
            v.clear();
            pool.kept += v.capacity();
            pool.free.push(v);
        }
    }
}

/// `src` copied into a (possibly recycled) buffer.
pub fn copy(src: &[u8]) -> Bytes {
    if src.len() < MIN || src.len() > MAX {
        return Bytes::copy_from_slice(src);
    }
    let reused = {
        let mut pool = lock();
        let at = pool.free.iter().rposition(|v| v.capacity() >= src.len());
        at.map(|i| {
            let v = pool.free.swap_remove(i);
            pool.kept -= v.capacity();
            v
        })
    };
    let mut v = reused.unwrap_or_else(|| Vec::with_capacity(src.len().next_power_of_two()));
    v.extend_from_slice(src);
    Bytes::from_owner(Pooled(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_and_are_reused() {
        let a = copy(&[7u8; 20_000]);
        assert_eq!(&a[..3], &[7, 7, 7]);
        let ptr = a.as_ptr();
        drop(a);
        let b = copy(&[9u8; 16_000]);
        assert_eq!(b.len(), 16_000);
        assert_eq!(b[15_999], 9);
        assert_eq!(b.as_ptr(), ptr, "the spent buffer was reused");
        let small = copy(b"tiny");
        assert_eq!(&small[..], b"tiny");
    }
}
