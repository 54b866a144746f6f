//! The napi binding: every `#[napi]` item lives here. It converts between JS
//! values and core types and implements the core's [`crate::core::dispatch::Doorbell`].

pub mod doorbell;
pub mod error;
pub mod lent;
pub mod server;
pub mod tls;
