//! preforkd: a pre-fork static-file HTTP/1.1 server.

pub mod http;
