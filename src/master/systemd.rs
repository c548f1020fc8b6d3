//! systemd integration without a crate: socket activation (`LISTEN_FDS`/`LISTEN_PID`)
//! and readiness notification (`NOTIFY_SOCKET`, `Type=notify`).

use std::os::fd::RawFd;
use std::os::unix::net::UnixDatagram;

/// The first descriptor systemd passes (SD_LISTEN_FDS_START).
const LISTEN_FDS_START: RawFd = 3;

/// The descriptors systemd passed us, if it passed any to this very process, each with
/// its name (`FileDescriptorName=` in the socket unit; empty if none). The variables are
/// removed so that nothing we start believes they are meant for it.
pub fn listen_fds() -> Vec<(RawFd, String)> {
    let pid = std::env::var("LISTEN_PID").ok();
    let count = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    // SAFETY: called from main before any thread exists, so nothing reads the
    // environment concurrently.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    if pid.and_then(|p| p.parse::<u32>().ok()) != Some(std::process::id()) {
        return Vec::new();
    }
    let n = count.and_then(|n| n.parse::<RawFd>().ok()).unwrap_or(0);
    let mut names = names.split(':');
    (LISTEN_FDS_START..LISTEN_FDS_START + n.max(0))
        .map(|fd| (fd, names.next().unwrap_or_default().to_owned()))
        .collect()
}

/// Sends one state change to systemd ("READY=1", ...); a no-op outside a notify unit.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    // "@name" is a socket in the abstract namespace.
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| socket.send_to_addr(state.as_bytes(), &addr))
    } else {
        socket.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        crate::log::warn(format_args!("sd_notify {state:?}: {e}"));
    }
}

/// RELOADING=1 with the timestamp `Type=notify-reload` units require.
pub fn notify_reloading() {
    let usec = crate::scoreboard::now_ms() * 1000;
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
}
