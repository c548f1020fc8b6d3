//! HTTP/2 (RFC 9113) without sockets: frames, HPACK (RFC 7541), a connection's
//! protocol state, and the translation of requests and responses to and from what the
//! HTTP/1.1 code (`http`) parses and decides, so that both protocols share one parser
//! and one site. No I/O and no `unsafe`.
#![forbid(unsafe_code)]

pub mod frame;
pub mod hpack;
mod huffman;
pub mod request;
pub mod response;
pub mod session;
