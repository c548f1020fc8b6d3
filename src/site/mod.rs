//! The site: the document root and what a request for a path under it gets.
//!
//! Depends on `http` for the protocol's values, never on sockets: [`handler::respond`]
//! turns a parsed request into a response plan that a worker sends.

pub mod cache;
pub mod handler;
pub mod mime;
pub mod path;
pub mod root;
pub mod status;
