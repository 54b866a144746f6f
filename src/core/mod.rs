//! The server core: pure Rust, no knowledge of Node.
//!
//! The binding drives it through [`server::Server`] and learns about requests
//! through the [`dispatch::Doorbell`] trait it implements. Everything that
//! crosses threads goes through two mailboxes: the [`dispatch::Outbox`]
//! (I/O thread → JS, compact binary event records) and the
//! [`dispatch::Inbox`] (JS → I/O thread, response parts and body demand).

pub mod body;
pub mod config;
pub mod conn;
pub mod dispatch;
pub mod ending;
pub mod error;
pub mod exchange;
pub mod io;
pub mod pool;
pub mod server;
pub mod tls;
pub mod tracker;
pub mod tunnel;
pub mod wire;
