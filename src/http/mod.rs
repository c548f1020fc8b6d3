//! The HTTP/1.1 protocol without sockets: bytes in, decisions out.

pub mod conditional;
pub mod date;
pub mod encoding;
pub mod range;
pub mod request;
pub mod response;
pub mod status;
