//! The HTTP/1.1 protocol without sockets: bytes in, decisions out.
//!
//! Everything here is fed bytes a client chose, so it is kept free of `unsafe`.
#![forbid(unsafe_code)]

pub mod autoindex;
pub mod conditional;
pub mod date;
#[cfg(test)]
mod differential_tests;
pub mod encoding;
pub mod range;
pub mod request;
pub mod response;
pub mod status;
pub mod syntax;
