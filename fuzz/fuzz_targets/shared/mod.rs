//! What the two whole-connection fuzz targets, `connection` (HTTP/1.1) and
//! `h2_connection` (HTTP/2), share: the document root they serve, the loopback socket
//! pair, the raw chunk layout of their inputs and the turn loop's bounds.
//!
//! Included by each target as `#[path = "shared/mod.rs"] mod shared;` (a file, not a
//! `[[bin]]`), so the same fixture cannot drift apart between the two; whatever differs
//! between them is a parameter.

use std::io::{ErrorKind, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use preforkd::config::{Scheme, Symlinks, Timeouts};
use preforkd::site::handler::Site;
use preforkd::site::root::Root;
use preforkd::worker::conn::{Conn, Context, Want};
use preforkd::worker::transport::Transport;

/// Content of the file beside the root; must never reach a client.
pub const MARKER: &[u8] = b"OUTSIDE-ROOT-SECRET-7d1f";
/// The most client bytes one input sends (after repetition).
pub const MAX_STREAM: usize = 512 * 1024;
/// Turns in a row without any progress before the harness gives up on the connection.
pub const MAX_IDLE_TURNS: u32 = 64;
/// Turns in all, whatever happens: a server that keeps "making progress" forever is a bug.
pub const MAX_TURNS: u32 = 100_000;
/// Listings are buffered apart from the limit; the fixture's directories list in far
/// less than this.
pub const LISTING_SLACK: usize = 16 * 1024;

pub struct Fixture {
    pub listener: TcpListener,
    /// One context per `--autoindex` setting; reused across inputs like a worker does.
    pub contexts: [Context; 2],
}

fn write_file(path: PathBuf, content: &[u8]) {
    std::fs::write(path, content).unwrap();
}

/// Text that is recognisable in output, never begins with `HTTP/`, never holds MARKER.
pub fn pattern(tag: &str, len: usize) -> Vec<u8> {
    let line = format!("<{tag}> 0123456789abcdefghijklmnopqrstuvwxyz\n");
    line.bytes().cycle().take(len).collect()
}

fn context(root: &Path, autoindex: bool, http2: bool) -> Context {
    let site = Site::new(
        Root::open(root, Symlinks::Inside, false).unwrap(),
        Some("max-age=60".into()),
        autoindex,
    );
    let timeouts = Timeouts {
        header: Duration::from_secs(10),
        keepalive: Duration::from_secs(10),
        send: Duration::from_secs(10),
    };
    let mut ctx = Context::new(site, timeouts);
    ctx.http2 = http2;
    ctx
}

/// The document root in `$TMPDIR/preforkd-fuzz-<tag>-<pid>/root` (its own per process, so
/// fuzzers running side by side never share one), a listener, and the two contexts.
///
/// The root holds plain files of every size class the server treats apart (empty, tiny,
/// just below, at and above its 32 KiB piece, large), gzip and brotli sidecars, index
/// files, a hidden file, a name that must be escaped, and symlinks that leave the root
/// (relative, absolute, through `..`, through a link) to `secret.txt` beside it, which
/// holds `MARKER`, and two that stay inside. `extra` files are written into the root as
/// well (listings sort, so their place among the others does not matter).
pub fn fixture(tag: &str, http2: bool, extra: &[(&str, &[u8])]) -> Fixture {
    let base = std::env::temp_dir().join(format!("preforkd-fuzz-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("dir/sub")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    write_file(base.join("secret.txt"), MARKER);
    write_file(root.join("a.txt"), b"hello a\n");
    write_file(root.join("a.txt.gz"), b"\x1f\x8b gzip sidecar of a.txt\n");
    write_file(root.join("a.txt.br"), b"brotli sidecar of a.txt\n");
    write_file(root.join("tiny"), b"x");
    write_file(root.join("empty.txt"), b"");
    write_file(root.join("thirty.bin"), &pattern("thirty", 30 * 1024));
    write_file(root.join("edge32k.txt"), &pattern("edge", 32 * 1024));
    write_file(root.join("over32k.txt"), &pattern("over", 32 * 1024 + 1));
    write_file(root.join("large.bin"), &pattern("large", 200 * 1024));
    for (name, content) in extra {
        write_file(root.join(name), content);
    }
    write_file(root.join("index.html"), b"<h1>root index</h1>\n");
    write_file(root.join("dir/index.html"), b"<h1>dir index</h1>\n");
    write_file(root.join("dir/b.css"), b"body{}\n");
    write_file(root.join("dir/sub/c.js"), b"let c;\n");
    write_file(root.join(".hidden"), b"hidden file\n");
    write_file(root.join("sp ace.txt"), b"space\n");
    let abs_secret = std::fs::canonicalize(base.join("secret.txt")).unwrap();
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, root.join(name)).unwrap();
    };
    link("../secret.txt".as_ref(), "out-rel");
    link(&abs_secret, "out-abs");
    link("..".as_ref(), "up");
    link("../../secret.txt".as_ref(), "dir/out-deep");
    link("../up/secret.txt".as_ref(), "dir/out-via-up");
    link("a.txt".as_ref(), "in-link");
    link("dir".as_ref(), "dir-link");
    let root = std::fs::canonicalize(&root).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    Fixture {
        listener,
        contexts: [context(&root, false, http2), context(&root, true, http2)],
    }
}

/// The raw chunk layout both targets read (`connection`'s input after its first byte,
/// `h2_connection`'s raw mode after its prelude), so one corpus entry cuts the same
/// stream in both: `n` descriptors of two bytes, `len` and `rep`, each taking the next
/// `len` payload bytes (0 = a turn without writing), written
/// `rep >= 0xF0 ? 2^(rep-0xEF) : 1` times over; the rest of the payload is the last
/// chunk. At most `MAX_STREAM` bytes in all; always at least one chunk.
pub fn chunks(n: usize, rest: &[u8]) -> Vec<Vec<u8>> {
    let n = n.min(rest.len() / 2);
    let (descs, mut payload) = rest.split_at(2 * n);
    let mut chunks = Vec::new();
    let mut total = 0;
    for d in descs.chunks_exact(2) {
        let take = usize::from(d[0]).min(payload.len());
        let (piece, more) = payload.split_at(take);
        payload = more;
        let reps = if d[1] >= 0xF0 {
            2usize << (d[1] - 0xF0)
        } else {
            1
        };
        let len = (piece.len() * reps).min(MAX_STREAM - total);
        let mut bytes = piece.repeat(len.div_ceil(piece.len().max(1)));
        bytes.truncate(len);
        chunks.push(bytes);
        total += len;
    }
    let len = payload.len().min(MAX_STREAM - total);
    chunks.push(payload[..len].to_vec());
    chunks
}

/// Connects a client and accepts its server side.
fn connect(listener: &TcpListener) -> Option<(TcpStream, TcpStream, std::net::SocketAddr)> {
    let addr = listener.local_addr().unwrap();
    let client = (0..10).find_map(|_| TcpStream::connect(addr).ok())?;
    for _ in 0..1000 {
        match listener.accept() {
            Ok((server, peer)) if peer == client.local_addr().unwrap() => {
                return Some((client, server, peer));
            }
            Ok(_) => {} // a stray connection from an earlier, aborted input
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

/// A new connection over loopback: the client's socket and the server's `Conn`, or
/// `None` if no connection could be made (the input is then skipped).
pub fn open(listener: &TcpListener, ctx: &Context) -> Option<(TcpStream, Conn)> {
    let (client, server, peer) = connect(listener)?;
    client.set_nonblocking(true).unwrap();
    // Each write leaves at once, so the server sees the input's cuts (no Nagle delay).
    client.set_nodelay(true).unwrap();
    // As a worker's accept4(SOCK_NONBLOCK) leaves it.
    server.set_nonblocking(true).unwrap();
    let conn = Conn::new(
        Transport::Plain(server),
        Scheme::Http,
        peer,
        ctx,
        Instant::now(),
    );
    Some((client, conn))
}

/// Reads what the client can read now; true if anything came, and whether EOF was seen.
pub fn read_available(client: &mut TcpStream, out: &mut Vec<u8>) -> (bool, bool) {
    let mut got = false;
    let mut buf = [0u8; 64 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                got = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (got, false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset after everything sent was read: the end, as far as we care.
            Err(_) => return (got, true),
        }
    }
}

/// Closes the server side and reads the client's side to its end (EOF, or a reset once
/// all was read) into `out`, with at most `max_reads` reads.
pub fn close_and_drain(conn: Conn, mut client: TcpStream, out: &mut Vec<u8>, max_reads: usize) {
    read_available(&mut client, out);
    conn.close();
    client.set_nonblocking(false).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64 * 1024];
    for _ in 0..max_reads {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!("no EOF from the server 5 s after it closed")
            }
            Err(_) => break,
        }
    }
}

/// Turns of a millisecond each that a server wanting to write may go without progress
/// before that is called a bug (see [`Pace::stalled`]).
const WRITE_GRACE: u32 = 2000;

/// How many turns one input has taken, and how many in a row made no progress.
#[derive(Default)]
pub struct Pace {
    turns: u32,
    pub idle: u32,
}

impl Pace {
    /// Counts a turn; more than `MAX_TURNS` is a server that never settles.
    pub fn turn(&mut self) {
        self.turns += 1;
        assert!(
            self.turns <= MAX_TURNS,
            "more than {MAX_TURNS} turns on one input"
        );
    }

    /// Ends a turn: `progress` if anything was written or read.
    pub fn moved(&mut self, progress: bool) {
        self.idle = if progress { 0 } else { self.idle + 1 };
    }

    /// After too many turns without progress the server must be waiting to read (and a
    /// worker would time the connection out); waiting to write without ever writing is
    /// a bug, since the client reads everything every turn. The kernel gets time first:
    /// on a loaded machine the window update that frees the server's send buffer after
    /// a read may come a little later (softirq work deferred to ksoftirqd), so a turn
    /// without progress while the server wants to write waits a millisecond, up to
    /// `WRITE_GRACE` of them.
    pub fn stalled(&self, want: Want, when: &str) -> bool {
        if self.idle < MAX_IDLE_TURNS {
            return false;
        }
        if want != Want::Read && self.idle < MAX_IDLE_TURNS + WRITE_GRACE {
            std::thread::sleep(std::time::Duration::from_millis(1));
            return false;
        }
        assert_eq!(
            want,
            Want::Read,
            "no progress for {MAX_IDLE_TURNS} turns {when}, while the server wants {want:?}"
        );
        true
    }
}

/// A target's side of one connection, as far as the shared loops need it.
pub trait Harness {
    /// One turn: drive the connection, read and check what came back.
    fn turn(&mut self, progress: bool, when: &str) -> Want;
    fn pace(&self) -> &Pace;
    fn client(&self) -> &TcpStream;
}

/// The client half-closes and the connection is driven until it wants to close or
/// stalls; the last `Want`, and whether it stalled (then the caller times it out).
pub fn half_close(run: &mut impl Harness) -> (Want, bool) {
    let _ = run.client().shutdown(Shutdown::Write);
    loop {
        let want = run.turn(false, "after the client's FIN");
        if want == Want::Close {
            return (want, false);
        }
        if run.pace().stalled(want, "after the client's FIN") {
            return (want, true);
        }
    }
}

/// The `location` field (HTTP/1.1 `Location`) never leaves the origin and is visible
/// ASCII; `what` names it in the panic message.
pub fn check_location(value: &[u8], what: impl Fn() -> String) {
    assert!(
        value.first() == Some(&b'/') && value.get(1) != Some(&b'/') && value.get(1) != Some(&b'\\'),
        "{} leaves the origin (must start with one `/`)",
        what()
    );
    assert!(
        value.iter().all(|&c| (0x21..0x7f).contains(&c)),
        "{} holds bytes outside visible ASCII",
        what()
    );
}

/// (memmem, not `windows() == `: libFuzzer hooks every memcmp, which made a naive search
/// over a 200 KiB body most of the run time.)
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// At most 300 bytes of `b`, escaped, for a panic message.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(300)])
        .escape_debug()
        .to_string()
}
