//! The server core: pure Rust, no knowledge of Node.
//!
//! The binding drives it through [`server::Server`] and learns about requests
//! through the [`dispatch::Doorbell`] trait it implements. Everything that
//! crosses threads goes through two mailboxes: the [`dispatch::Outbox`]
//! (I/O thread → JS, compact binary event records) and the
//! [`dispatch::Inbox`] (JS → I/O thread, response parts and body demand).
//!
//! Modules are layered: each imports only modules below it, never one
//! above (the `layers` test checks it). From the top:
//!
//! ```text
//! server          the listener, the I/O thread, the ops pump
//! conn            one connection's task: protocol, timers, graceful close
//! hub             live exchanges by id; announces requests, applies ops
//! exchange        one exchange's stages (response) and request-body state
//! reply tunnel reader head deadlines ids body park conn_state
//!                 the pieces the hub and exchanges are made of
//! outgoing budget credit io headscan flood lent ending tracker dispatch pool wire config error gate
//!                 leaves: queues, credit, the socket, the mailboxes, formats
//! ```

pub mod body;
pub mod budget;
pub mod config;
pub mod conn;
pub mod conn_state;
pub mod credit;
pub mod deadlines;
pub mod dispatch;
pub mod ending;
pub mod error;
pub mod exchange;
pub mod flood;
pub mod gate;
pub mod head;
pub mod headscan;
pub mod hub;
pub mod ids;
pub mod io;
pub mod lent;
pub mod outgoing;
pub mod park;
pub mod pool;
pub mod reader;
pub mod reply;
pub mod server;
pub mod tls;
pub mod tracker;
pub mod tunnel;
pub mod wire;

#[cfg(test)]
mod layers;
#[cfg(test)]
mod testing;
