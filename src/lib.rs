//! lastcall: a Node.js HTTP/1.1 + HTTP/2 server whose `close()` finishes.
//!
//! [`core`] is the server, free of Node; [`binding`] exposes it to JavaScript.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod binding;
pub mod core;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
