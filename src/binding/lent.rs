//! The bytes of a JS Buffer, used in place by the I/O thread.

/// A view of a JS Buffer's memory, handed to the core as a loan
/// (src/core/lent.rs). lib/ keeps the Buffer reachable (transport.js
/// `pinned`) until it hears EV_RELEASE with the loan's token, and that
/// record is pushed only when this value is dropped.
pub struct JsBytes {
    ptr: *const u8,
    len: usize,
}

impl JsBytes {
    /// Views `bytes`.
    ///
    /// # Safety
    /// The memory behind `bytes` must stay allocated and unchanged until
    /// this value is dropped: the caller lends it under a token that JS
    /// keeps the Buffer pinned for. (An ArrayBuffer's backing store never
    /// moves; it is freed only when no JS object reaches it. A user who
    /// detaches or rewrites a Buffer after `res.write()` breaks Node's own
    /// contract, where the bytes are also read later, by libuv.)
    pub unsafe fn new(bytes: &[u8]) -> Self {
        JsBytes {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }
}

// SAFETY: the bytes are only read, on the I/O thread, while JS keeps them
// alive (see `JsBytes::new`); nothing in JsBytes is tied to the JS thread.
// The env cleanup hook waits for the I/O thread to end before the heap
// goes (src/binding/server.rs), so no read outlives a worker.
unsafe impl Send for JsBytes {}

impl AsRef<[u8]> for JsBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: valid for `len` bytes for this value's whole life, per
        // `JsBytes::new`'s contract.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}
