//! HTTP/2 (RFC 9113) without sockets: bytes in, decisions out.
#![forbid(unsafe_code)]

pub mod hpack;
mod huffman;
