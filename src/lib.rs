//! preforkd: a pre-fork static-file HTTP/1.1 server.

pub mod cache;
pub mod config;
pub mod config_file;
pub mod daemon;
pub mod files;
pub mod handler;
pub mod heartbeat;
pub mod http;
pub mod listener;
pub mod log;
pub mod master;
pub mod privileges;
pub mod systemd;
pub mod upgrade;
pub mod worker;
