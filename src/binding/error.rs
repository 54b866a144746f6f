//! Maps core errors to JS errors once, at the edge. `err.code` is Node's code;
//! lib/ adds Node's other fields (errno, syscall, address, port).

use crate::core::error::Error;

/// Converts a core error into a JS error whose `code` is Node's.
pub fn to_js(err: Error) -> napi::Error {
    let code = match &err {
        Error::NotRunning => "ERR_SERVER_NOT_RUNNING",
        Error::InvalidHost(_) => "ERR_INVALID_ARG_VALUE",
        Error::Wire(_) => "ERR_LASTCALL_INTERNAL",
        Error::Thread(_) => "ERR_LASTCALL_THREAD",
        Error::Listen { .. } => err.os_code().unwrap_or("ERR_LASTCALL_LISTEN"),
        Error::Tls(e) => e.code,
    };
    let syscall = match &err {
        Error::Listen { syscall, .. } => *syscall,
        _ => "",
    };
    // The message carries the syscall so lib/ can rebuild Node's
    // `listen EADDRINUSE: address already in use 127.0.0.1:3000`.
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("{code}|{syscall}|{err}"),
    )
}
