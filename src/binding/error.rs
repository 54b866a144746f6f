//! Maps core errors to JS errors once, at the edge. What lib/ needs to
//! rebuild Node's error travels as fields of the thrown Error, not packed
//! into its message: `code` (Node's: `EADDRINUSE`, `ERR_SERVER_NOT_RUNNING`,
//! …) and, for a failed listen, `syscall`; `message` is the core's own
//! text. lib/errors.js `fromNative` adds Node's other fields (errno,
//! address, port) and Node's message.

use napi::bindgen_prelude::{JsObjectValue, JsValue};
use napi::Env;

use crate::core::error::Error;

/// Converts a core error into a JS Error with `code` (and `syscall`) set.
pub fn to_js(env: &Env, err: Error) -> napi::Error {
    let code = match &err {
        Error::NotRunning => "ERR_SERVER_NOT_RUNNING",
        Error::InvalidHost(_) => "ERR_INVALID_ARG_VALUE",
        Error::Wire(_) => "ERR_LASTCALL_INTERNAL",
        Error::Thread(_) => "ERR_LASTCALL_THREAD",
        Error::Listen { .. } => err.os_code().unwrap_or("ERR_LASTCALL_LISTEN"),
        Error::Tls(e) => e.code,
    };
    let syscall = match &err {
        Error::Listen { syscall, .. } => Some(*syscall),
        _ => None,
    };
    let message = err.to_string();
    let built = (|| -> napi::Result<napi::Error> {
        let mut obj = env.create_error(napi::Error::from_reason(message.clone()))?;
        obj.set_named_property("code", code)?;
        if let Some(syscall) = syscall {
            obj.set_named_property("syscall", syscall)?;
        }
        Ok(napi::Error::from(obj.to_unknown()))
    })();
    // Could not even build the object (an exception is pending): a plain
    // error with the code as its status still says what happened.
    built.unwrap_or_else(|_| napi::Error::new(napi::Status::GenericFailure, message))
}
