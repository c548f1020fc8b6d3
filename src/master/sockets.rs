//! The pool's listening sockets: for each configured address, one per worker slot
//! (`--accept reuseport`), or one that every worker shares (`shared`, `exclusive`).
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
//!
//! Each address (`-b`, `--tls-bind`, each systemd socket) is its own kernel group with
//! its own program, and every slot has one socket in each: a worker accepts from all
//! its slot's sockets, so every address has the same slots and the same `active`, and
//! the rules above hold in each group alone.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};

use crate::config::{AcceptModel, Config, Listen, Scheme};
use crate::log;
use crate::master::listener;
use crate::worker::accept::Listener;

/// The sockets of one address, in slot order.
struct Group {
    scheme: Scheme,
    /// Where more slots bind: the first socket's own address (so port 0 is resolved).
    addr: SocketAddr,
    /// reuseport: socket i is slot i's, and the group's i-th. Otherwise exactly one.
    list: Vec<TcpListener>,
}

impl Group {
    /// The first socket names the address.
    fn new(scheme: Scheme, list: Vec<TcpListener>) -> Result<Group, String> {
        let first = list.first().ok_or("no listening socket")?;
        let addr = first
            .local_addr()
            .map_err(|e| format!("listening socket: {e}"))?;
        Ok(Group { scheme, addr, list })
    }
}

pub struct Sockets {
    model: AcceptModel,
    backlog: i32,
    /// One per address, in the order of the configuration (or of the inheritance).
    groups: Vec<Group>,
    /// reuseport: the slots that take new connections; those past it are closing.
    active: usize,
    /// The slot count last asked for: a failed bind is not retried every turn.
    wanted: usize,
    /// The BPF steering could not be attached: shrinking resets the closing queues.
    unsteered: bool,
}

impl Sockets {
    /// Binds the configured addresses, refusing a port another process already listens
    /// on (SO_REUSEPORT would otherwise let two servers share it silently).
    pub fn bind(config: &Config) -> Result<Sockets, String> {
        let mut groups = Vec::with_capacity(config.listen.len());
        for &Listen { addr, scheme } in &config.listen {
            let flag = |e: std::io::Error| format!("{} {addr}: {e}", scheme.flag());
            if addr.port() != 0 {
                let probe = socket2::Socket::new(
                    socket2::Domain::for_address(addr),
                    socket2::Type::STREAM,
                    None,
                )
                .map_err(flag)?;
                probe.set_reuse_address(true).map_err(flag)?;
                probe.bind(&addr.into()).map_err(flag)?;
            }
            let first = listener::bind(addr, config.backlog).map_err(flag)?;
            groups.push((scheme, vec![first]));
        }
        Sockets::adopt(groups, config.accept, config.backlog)
    }

    /// Takes sockets bound elsewhere (an upgrading master's slots, in order, or systemd's
    /// one per address). More than one in a group means slots: reuseport whatever the
    /// flag says. A single socket without SO_REUSEPORT cannot grow into slots, and every
    /// address must have the same slots: then the workers share every socket
    /// (exclusive).
    pub fn adopt(
        groups: listener::Groups,
        wanted: AcceptModel,
        backlog: i32,
    ) -> Result<Sockets, String> {
        if groups.is_empty() {
            return Err("no listening socket".into());
        }
        let groups = groups
            .into_iter()
            .map(|(scheme, list)| Group::new(scheme, list))
            .collect::<Result<Vec<_>, _>>()?;
        let most = groups.iter().map(|g| g.list.len()).max().unwrap_or(1);
        let lacking = groups.iter().find(|g| {
            !socket2::SockRef::from(&g.list[0])
                .reuse_port()
                .unwrap_or(false)
        });
        let model = if most > 1 {
            if wanted != AcceptModel::Reuseport {
                log::warn(format_args!(
                    "--accept {}: inherited {most} slot sockets, so accepting with reuseport",
                    name(wanted),
                ));
            }
            AcceptModel::Reuseport
        } else if wanted == AcceptModel::Reuseport
            && let Some(group) = lacking
        {
            log::warn(format_args!(
                "--accept reuseport: the inherited socket {} lacks SO_REUSEPORT \
                 (systemd: ReusePort=yes), so every worker accepts from every inherited socket \
                 (exclusive)",
                group.addr
            ));
            AcceptModel::Exclusive
        } else {
            wanted
        };
        // Slots every address has; a group with more has closing slots, closed by
        // `release` once no worker holds them.
        let active = groups.iter().map(|g| g.list.len()).min().unwrap_or(1);
        Ok(Sockets {
            model,
            backlog,
            groups,
            active,
            wanted: active,
            unsteered: false,
        })
    }

    pub fn model(&self) -> AcceptModel {
        self.model
    }

    /// The addresses listened on, as bound (port 0 resolved), in order.
    pub fn listening(&self) -> Vec<Listen> {
        self.groups
            .iter()
            .map(|g| Listen {
                addr: g.addr,
                scheme: g.scheme,
            })
            .collect()
    }

    /// How the start-up line describes the sockets.
    pub fn describe(&self) -> String {
        match self.model {
            AcceptModel::Reuseport => {
                format!("accept reuseport ({} sockets per address)", self.active)
            }
            other => format!("accept {}", name(other)),
        }
    }

    /// The sockets the worker of `slot` accepts from: one per address.
    pub fn for_slot(&self, slot: usize) -> Vec<Listener<'_>> {
        self.groups
            .iter()
            .map(|g| Listener {
                socket: match self.model {
                    AcceptModel::Reuseport => &g.list[slot.min(g.list.len() - 1)],
                    _ => &g.list[0],
                },
                scheme: g.scheme,
            })
            .collect()
    }

    /// Makes `n` slots take connections: binds sockets for new slots, steers new
    /// connections away from the slots past `n`. A slot that cannot be bound is an error
    /// the caller logs; the pool then stays at the slots every address has.
    pub fn resize(&mut self, n: usize) -> Result<(), String> {
        if self.model != AcceptModel::Reuseport || n == self.wanted {
            return Ok(());
        }
        self.wanted = n;
        let mut result = Ok(());
        'groups: for group in &mut self.groups {
            while group.list.len() < n {
                match listener::bind(group.addr, self.backlog) {
                    Ok(socket) => group.list.push(socket),
                    Err(e) => {
                        result = Err(format!(
                            "cannot bind a socket for slot {} on {}: {e}",
                            group.list.len(),
                            group.addr
                        ));
                        break 'groups;
                    }
                }
            }
        }
        let bound = self.groups.iter().map(|g| g.list.len()).min().unwrap_or(1);
        self.active = n.min(bound);
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
    /// the end, so the order of each kernel group stays that of its list.
    pub fn release(&mut self, held: impl Fn(usize) -> bool) {
        for group in &mut self.groups {
            while group.list.len() > self.active.max(1) && !held(group.list.len() - 1) {
                group.list.pop();
            }
        }
    }

    /// Every socket of the status listener (`--status-bind`), all slots: the master
    /// stands in on them while no worker serves (standin.rs).
    pub fn status_listeners(&self) -> Vec<&TcpListener> {
        self.groups
            .iter()
            .filter(|g| g.scheme == Scheme::Status)
            .flat_map(|g| &g.list)
            .collect()
    }

    /// The descriptors an upgrade passes on: each address's, in slot order.
    pub fn raw_fds(&self) -> Vec<(Scheme, Vec<RawFd>)> {
        self.groups
            .iter()
            .map(|g| (g.scheme, g.list.iter().map(AsRawFd::as_raw_fd).collect()))
            .collect()
    }

    /// In a freshly forked worker: closes every socket but its own slot's, so a socket
    /// the master closes is not kept open in the group by another worker.
    pub fn keep_only_in_child(&self, slot: usize) {
        let own: Vec<RawFd> = self
            .for_slot(slot)
            .iter()
            .map(|l| l.socket.as_raw_fd())
            .collect();
        for socket in self.groups.iter().flat_map(|g| &g.list) {
            let fd = socket.as_raw_fd();
            if !own.contains(&fd) {
                // The TcpListener in this copy of the master's memory is never dropped
                // (the worker exits without returning), so nothing closes it twice.
                let _ = nix::unistd::close(fd);
            }
        }
    }

    /// How many connections wait in `slot`'s accept queues, all addresses together (0 if
    /// unknown or shared); the status listener's only `with_status`.
    pub fn queued(&self, slot: usize, with_status: bool) -> u32 {
        if self.model != AcceptModel::Reuseport {
            return 0;
        }
        self.groups
            .iter()
            .filter(|g| with_status || g.scheme != Scheme::Status)
            .filter_map(|g| g.list.get(slot))
            .map(queue_length)
            .sum()
    }

    /// Attaches `random % active` as each group's socket selection.
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
        for group in &self.groups {
            // SAFETY: fprog points at `program`, which outlives the call; the kernel
            // copies the program and validates it before use.
            let rc = unsafe {
                libc::setsockopt(
                    group.list[0].as_raw_fd(),
                    libc::SOL_SOCKET,
                    SO_ATTACH_REUSEPORT_CBPF,
                    (&raw const fprog).cast(),
                    size_of::<libc::sock_fprog>() as libc::socklen_t,
                )
            };
            if rc != 0 && !self.unsteered {
                self.unsteered = true;
                log::warn(format_args!(
                    "cannot steer connections between slot sockets on {} ({}): a closing \
                     slot's queue is reset unless net.ipv4.tcp_migrate_req is 1",
                    group.addr,
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
}

/// The length of a listening socket's accept queue (0 if unknown).
fn queue_length(socket: &TcpListener) -> u32 {
    let mut info = TcpInfoHead::default();
    let mut len = size_of::<TcpInfoHead>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info` and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
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
