//! The client commands: `preforkd status`, which reads a running server from outside.
//!
//! A program of its own beside the server: nothing in the server uses it, so it sits at
//! the top with `main.rs`. It talks to the status listener over plain TCP like any other
//! client, because the scoreboard is anonymous shared memory that only the master's
//! children can map.

pub mod http;
pub mod json;
pub mod status;
