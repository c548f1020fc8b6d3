//! The pool's listening sockets: one per worker slot (`--accept reuseport`), or one that
//! every worker shares (`shared`, `exclusive`).
//!
//! With reuseport the master binds one SO_REUSEPORT socket per slot and keeps them all
//! open; the worker of slot i inherits socket i and closes the others. The kernel spreads
//! new connections over the sockets of the group, so each worker has its own queue, and
//! a dead worker's queue waits in the master's copy for its replacement instead of being
//! reset. A reload's new worker for slot i takes the same socket, so old and new drain
//! one queue.
//!
//! Shrinking (TTOU, a reload with fewer workers) must not reset a queue either. The
//! kernel orders a group's sockets by when they began listening and fills a hole with
//! the last one, so the master only ever adds and removes at the end, and socket i is
//! the group's i-th. A small classic BPF program on the group picks `random % active`:
//! a slot past `active` gets no new connections, its retiring worker accepts what is
//! left in its queue before exiting, and the master closes its copy once that worker is
//! gone. Without the program, closing a socket resets what waits in its queue, unless
//! `net.ipv4.tcp_migrate_req` is 1, which makes the kernel move those connections to
//! another socket of the group.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};

use crate::config::{AcceptModel, Config};
use crate::log;
use crate::master::listener;

pub struct Sockets {
    model: AcceptModel,
    /// Where more slots bind: the first socket's own address (so port 0 is resolved).
    addr: SocketAddr,
    backlog: i32,
    /// reuseport: socket i is slot i's, and the group's i-th. Otherwise exactly one.
    list: Vec<TcpListener>,
    /// reuseport: the slots that take new connections; those past it are closing.
    active: usize,
    /// The slot count last asked for: a failed bind is not retried every turn.
    wanted: usize,
    /// The BPF steering could not be attached: shrinking resets the closing queues.
    unsteered: bool,
}

impl Sockets {
    /// Binds the configured address, refusing a port another process already listens on
    /// (SO_REUSEPORT would otherwise let two servers share it silently).
    pub fn bind(config: &Config) -> Result<Sockets, String> {
        let flag = |e: std::io::Error| format!("--bind {}: {e}", config.bind);
        if config.bind.port() != 0 {
            let probe = socket2::Socket::new(
                socket2::Domain::for_address(config.bind),
                socket2::Type::STREAM,
                None,
            )
            .map_err(flag)?;
            probe.set_reuse_address(true).map_err(flag)?;
            probe.bind(&config.bind.into()).map_err(flag)?;
        }
        let first = listener::bind(config.bind, config.backlog).map_err(flag)?;
        Sockets::adopt(vec![first], config.accept, config.backlog)
    }

    /// Takes sockets bound elsewhere (an upgrading master's slots, in order, or systemd's
    /// one). More than one means slots: reuseport whatever the flag says. One socket
    /// without SO_REUSEPORT cannot grow into slots: the workers share it (exclusive).
    pub fn adopt(
        list: Vec<TcpListener>,
        wanted: AcceptModel,
        backlog: i32,
    ) -> Result<Sockets, String> {
        let first = list.first().ok_or("no listening socket")?;
        let addr = first
            .local_addr()
            .map_err(|e| format!("listening socket: {e}"))?;
        let model = if list.len() > 1 {
            if wanted != AcceptModel::Reuseport {
                log::warn(format_args!(
                    "--accept {}: inherited {} slot sockets, so accepting with reuseport",
                    name(wanted),
                    list.len()
                ));
            }
            AcceptModel::Reuseport
        } else if wanted == AcceptModel::Reuseport
            && !socket2::SockRef::from(first).reuse_port().unwrap_or(false)
        {
            log::warn(format_args!(
                "--accept reuseport: the inherited socket {addr} lacks SO_REUSEPORT \
                 (systemd: ReusePort=yes), so every worker accepts from it (exclusive)"
            ));
            AcceptModel::Exclusive
        } else {
            wanted
        };
        let active = list.len();
        Ok(Sockets {
            model,
            addr,
            backlog,
            list,
            active,
            wanted: active,
            unsteered: false,
        })
    }

    pub fn model(&self) -> AcceptModel {
        self.model
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How the start-up line describes the sockets.
    pub fn describe(&self) -> String {
        match self.model {
            AcceptModel::Reuseport => format!("accept reuseport ({} sockets)", self.active),
            other => format!("accept {}", name(other)),
        }
    }

    /// The socket the worker of `slot` accepts from.
    pub fn for_slot(&self, slot: usize) -> &TcpListener {
        match self.model {
            AcceptModel::Reuseport => &self.list[slot.min(self.list.len() - 1)],
            _ => &self.list[0],
        }
    }

    /// Makes `n` slots take connections: binds sockets for new slots, steers new
    /// connections away from the slots past `n`. A slot that cannot be bound is an error
    /// the caller logs; the pool then stays at the slots there are.
    pub fn resize(&mut self, n: usize) -> Result<(), String> {
        if self.model != AcceptModel::Reuseport || n == self.wanted {
            return Ok(());
        }
        self.wanted = n;
        let mut result = Ok(());
        while self.list.len() < n {
            match listener::bind(self.addr, self.backlog) {
                Ok(socket) => self.list.push(socket),
                Err(e) => {
                    result = Err(format!(
                        "cannot bind a socket for slot {} on {}: {e}",
                        self.list.len(),
                        self.addr
                    ));
                    break;
                }
            }
        }
        self.active = n.min(self.list.len());
        self.steer();
        result
    }

    /// How many slots take connections; more workers than that share the last one.
    pub fn slots(&self) -> usize {
        match self.model {
            AcceptModel::Reuseport => self.active,
            _ => usize::MAX,
        }
    }

    /// Closes the master's copies of closing slots that no worker holds any more, from
    /// the end, so the order of the kernel's group stays that of the list.
    pub fn release(&mut self, held: impl Fn(usize) -> bool) {
        while self.list.len() > self.active.max(1) && !held(self.list.len() - 1) {
            self.list.pop();
        }
    }

    /// The descriptors an upgrade passes on, in slot order.
    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.list.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// In a freshly forked worker: closes every socket but its own slot's, so a socket
    /// the master closes is not kept open in the group by another worker.
    pub fn keep_only_in_child(&self, slot: usize) {
        let own = self.for_slot(slot).as_raw_fd();
        for socket in &self.list {
            let fd = socket.as_raw_fd();
            if fd != own {
                // The TcpListener in this copy of the master's memory is never dropped
                // (the worker exits without returning), so nothing closes it twice.
                let _ = nix::unistd::close(fd);
            }
        }
    }

    /// How many connections wait in `slot`'s accept queue (0 if unknown or shared).
    pub fn queued(&self, slot: usize) -> u32 {
        if self.model != AcceptModel::Reuseport || slot >= self.list.len() {
            return 0;
        }
        let mut info = TcpInfoHead::default();
        let mut len = size_of::<TcpInfoHead>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `info` and updates `len`.
        let rc = unsafe {
            libc::getsockopt(
                self.list[slot].as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&raw mut info).cast(),
                &mut len,
            )
        };
        if rc == 0 && len as usize >= size_of::<TcpInfoHead>() {
            info.unacked
        } else {
            0
        }
    }

    /// Attaches `random % active` as the group's socket selection.
    fn steer(&mut self) {
        // BPF_LD|BPF_W|BPF_ABS of the random ancillary field; BPF_ALU|BPF_MOD|BPF_K;
        // BPF_RET|BPF_A.
        let program = [
            filter(0x20, (libc::SKF_AD_OFF + libc::SKF_AD_RANDOM) as u32),
            filter(0x94, self.active.max(1) as u32),
            filter(0x16, 0),
        ];
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr().cast_mut(),
        };
        // SAFETY: fprog points at `program`, which outlives the call; the kernel copies
        // the program and validates it before use.
        let rc = unsafe {
            libc::setsockopt(
                self.list[0].as_raw_fd(),
                libc::SOL_SOCKET,
                SO_ATTACH_REUSEPORT_CBPF,
                (&raw const fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc != 0 && !self.unsteered {
            self.unsteered = true;
            log::warn(format_args!(
                "cannot steer connections between slot sockets ({}): a closing slot's \
                 queue is reset unless net.ipv4.tcp_migrate_req is 1",
                std::io::Error::last_os_error()
            ));
        }
    }
}

/// The start of `struct tcp_info` (linux/tcp.h), as far as `tcpi_unacked`, which for a
/// listening socket is the length of its accept queue.
#[repr(C)]
#[derive(Default)]
struct TcpInfoHead {
    bytes: [u8; 8],
    rto: u32,
    ato: u32,
    snd_mss: u32,
    rcv_mss: u32,
    unacked: u32,
}

/// asm-generic/socket.h (the same on every architecture preforkd builds for).
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

fn filter(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

pub fn name(model: AcceptModel) -> &'static str {
    match model {
        AcceptModel::Reuseport => "reuseport",
        AcceptModel::Shared => "shared",
        AcceptModel::Exclusive => "exclusive",
    }
}
