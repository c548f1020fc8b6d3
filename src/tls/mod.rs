//! TLS for the server side with rustls: the configuration a TLS listener serves with
//! (certificate, versions, ALPN, tickets), and one connection's TLS over its socket.
//!
//! The master builds the configuration once, before forking (so a bad `--tls-cert` or
//! `--tls-key` stops the start with one line, and the key is read before privileges
//! are dropped) with the pool's [`TicketKeys`]; every worker inherits both and wraps
//! each accepted socket in a [`TlsStream`]. The files inside name each other directly,
//! never through the names this root re-exports, so that none depends on it.

pub mod certs;
pub mod config;
pub mod crypto;
pub mod stream;
#[cfg(test)]
pub mod testing;
pub mod tickets;

pub use config::{ALPN, server_config};
pub use stream::TlsStream;
pub use tickets::TicketKeys;
