//! preforkd: a pre-fork static-file HTTP/1.1 and HTTP/2 server.
//!
//! Dependencies point one way: `http` (and `h2`) <- `site` <- `worker` <- `master`, with
//! the plain values (`config`, `log`, `scoreboard`, `privileges`, `calendar`, `ready`) and
//! `tls` below them all, and the client commands (`client`) above everything but `main.rs`.
//! `tests/layout.rs` keeps it so.

pub mod calendar;
pub mod client;
pub mod config;
pub mod h2;
pub mod http;
pub mod log;
pub mod master;
pub mod privileges;
pub mod ready;
pub mod scoreboard;
pub mod site;
pub mod tls;
pub mod worker;
