//! One TLS connection over a non-blocking socket: rustls's `ServerConnection` driven
//! sans-I/O beside its `TcpStream` (as in rustls's mio example server), in the shape
//! the worker's transport needs: plaintext in and out, never blocking; and the answer
//! to plain HTTP sent to the TLS port.
//!
//! What a connection can cost, whatever the peer sends: rustls's own buffers (the
//! incoming records, at most one handshake message of 64 KiB or one record of about
//! 18 KiB; decrypted plaintext, one record, taken out before every read), and the
//! records waiting for the socket: plaintext is accepted only when none wait, at most
//! [`SEND_LIMIT`] bytes at a time, so they never pass that plus the records' overhead
//! (plus the handshake's flight and its session tickets, a few KiB).
//!
//! The handshake needs no timer of its own: it happens inside the connection's first
//! reads, whose deadline is the header timeout counted from the accept, so a client
//! that stalls it is closed like one that stalls its request head.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use nix::sys::socket::{MsgFlags, send, sendmsg};
use rustls::{ServerConfig, ServerConnection};

/// The most plaintext taken per `send`, and only when no earlier records wait for the
/// socket: four full records (rustls cuts 16 KiB each), a bound on what waits.
pub const SEND_LIMIT: usize = 64 * 1024;
/// The most a peer may send us in one `recv` call that decrypts to nothing (handshake
/// messages, alerts, empty records, key updates). Well above a real client's flights
/// (two ClientHellos of at most 64 KiB); past it the call gives up the turn as if the
/// socket were empty, so that a peer streaming records that carry no data cannot hold
/// the worker (more data means another readiness event; if none comes, the header
/// timeout closes it).
const NOISE_LIMIT: usize = 256 * 1024;

/// The body of the answer to a plain HTTP request on the TLS port (as nginx gives one).
const PLAIN_HTTP_BODY: &str = "The plain HTTP request was sent to HTTPS port\n";

/// That answer, with the fields every response carries. Rare enough to format here
/// (this layer sits below the HTTP code and its date cache).
fn plain_http_answer() -> Vec<u8> {
    format!(
        "HTTP/1.1 400 Bad Request\r\nServer: preforkd/{}\r\nDate: {}\r\n\
         Connection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{}",
        env!("CARGO_PKG_VERSION"),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        PLAIN_HTTP_BODY.len(),
        PLAIN_HTTP_BODY
    )
    .into_bytes()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing received yet: the first byte tells a TLS handshake from plain HTTP.
    Fresh,
    Open,
    /// The peer ended its side (close_notify, or the TCP end): reads give 0.
    Ended,
    /// A TLS error (its alert sent), or plain HTTP (answered): nothing more either way.
    Failed,
}

pub struct TlsStream {
    socket: TcpStream,
    tls: ServerConnection,
    state: State,
}

impl TlsStream {
    /// Starts the server side of a handshake on an accepted, non-blocking socket.
    pub fn new(socket: TcpStream, config: &Arc<ServerConfig>) -> io::Result<TlsStream> {
        let mut tls = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        // rustls's default too; set so that the bound above does not rest on a default.
        tls.set_buffer_limit(Some(SEND_LIMIT));
        Ok(TlsStream {
            socket,
            tls,
            state: State::Fresh,
        })
    }

    /// The socket, to wait on and to shut down.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// The protocol agreed by ALPN, once the handshake is done: what a connection will
    /// look at to choose between HTTP/1.1 and h2.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.tls.alpn_protocol()
    }

    /// Reads plaintext into `buf`: decrypted bytes rustls holds first, then records
    /// from the socket until it would block, writing the handshake's replies on the
    /// way. Fewer bytes than `buf` holds (or `WouldBlock`) only when nothing more can
    /// be read without waiting: no socket bytes and no decrypted plaintext are left
    /// behind, as edge-triggered waiting requires. Two exceptions: a full socket the
    /// other way (records of ours wait to be written, and reading, so possibly
    /// answering, more would only pile them up; the socket's next writability brings
    /// the caller back), and a peer past [`NOISE_LIMIT`]. `Ok(0)`: the peer ended
    /// cleanly (close_notify or TCP end).
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        let mut noise = 0;
        loop {
            let got = self.take_plaintext(&mut buf[filled..]);
            if got > 0 {
                filled += got;
                noise = 0;
            }
            match self.state {
                _ if filled == buf.len() => return Ok(filled),
                State::Ended => return Ok(filled),
                State::Failed => return Err(failed()),
                State::Fresh | State::Open => {}
            }
            if !self.write_pending(false)? || noise > NOISE_LIMIT {
                return would_block_unless(filled);
            }
            match self.read_records() {
                Ok(0) => self.state = State::Ended,
                Ok(n) => {
                    noise += n;
                    self.process()?;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return would_block_unless(filled),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.state = State::Failed;
                    return Err(e);
                }
            }
        }
    }

    /// Takes some of `bytes` as plaintext to send and writes the records it makes; what
    /// the socket refuses waits for the next call or [`TlsStream::send_queued`].
    /// `WouldBlock` while earlier records still wait. `more`: more bytes follow at
    /// once (MSG_MORE).
    pub fn send(&mut self, bytes: &[u8], more: bool) -> io::Result<usize> {
        if self.state == State::Failed {
            return Err(failed());
        }
        if !self.write_pending(more)? {
            return Err(ErrorKind::WouldBlock.into());
        }
        let taken = self
            .tls
            .writer()
            .write(&bytes[..bytes.len().min(SEND_LIMIT)])?;
        if taken == 0 && !bytes.is_empty() {
            // Nothing waits, so rustls's limit cannot be full: never report progress
            // that is not (a caller would loop) nor a wait no event will end.
            return Err(ErrorKind::WriteZero.into());
        }
        self.write_pending(more)?;
        Ok(taken)
    }

    /// Writes the records still waiting; `WouldBlock` if some still do.
    pub fn send_queued(&mut self) -> io::Result<()> {
        if self.write_pending(false)? {
            Ok(())
        } else {
            Err(ErrorKind::WouldBlock.into())
        }
    }

    /// Whether records wait for the socket to take them: then whatever would block
    /// waits for the socket to be writable, a read too.
    pub fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    /// Sends close_notify, best effort and without waiting, once the handshake is done
    /// and nothing went wrong: after a fatal alert or the plain HTTP answer there is
    /// nothing to close, and a handshake cut short needs no notice.
    pub fn close_notify(&mut self) {
        if matches!(self.state, State::Open | State::Ended) && !self.tls.is_handshaking() {
            self.tls.send_close_notify();
            let _ = self.write_pending(false);
        }
    }

    /// Moves the plaintext rustls decrypted into `buf`; notes the peer's end.
    fn take_plaintext(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            match self.tls.reader().read(&mut buf[n..]) {
                Ok(0) => {
                    self.state = State::Ended;
                    break;
                }
                Ok(k) => n += k,
                // The TCP end without close_notify: a truncation attack matters to a
                // client reading a body, not to a server reading requests.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    self.state = State::Ended;
                    break;
                }
                Err(_) => break, // WouldBlock: nothing decrypted is left
            }
        }
        n
    }

    /// One read of records from the socket into rustls. The first one also looks at the
    /// first byte: a letter is plain HTTP, answered and failed here.
    fn read_records(&mut self) -> io::Result<usize> {
        if self.state != State::Fresh {
            let mut socket = &self.socket;
            return self.tls.read_tls(&mut socket);
        }
        let mut sniff = Sniff {
            socket: &self.socket,
            first: None,
        };
        let n = self.tls.read_tls(&mut sniff)?;
        match sniff.first {
            Some(b) if b.is_ascii_alphabetic() => {
                self.state = State::Failed;
                // One send into an empty socket buffer; if even that fails there is
                // nobody to tell.
                let _ = send(
                    self.socket.as_raw_fd(),
                    &plain_http_answer(),
                    MsgFlags::MSG_NOSIGNAL,
                );
                Err(io::Error::new(
                    ErrorKind::InvalidData,
                    "plain HTTP on the TLS port",
                ))
            }
            Some(_) => {
                self.state = State::Open;
                Ok(n)
            }
            None => Ok(n),
        }
    }

    /// Lets rustls act on the records read: decrypt, advance the handshake. On a
    /// protocol error the alert it queued goes out (best effort) and the error is
    /// returned, so the connection closes.
    fn process(&mut self) -> io::Result<()> {
        match self.tls.process_new_packets() {
            Ok(_) => Ok(()),
            Err(e) => {
                self.state = State::Failed;
                let _ = self.write_pending(false);
                Err(io::Error::new(ErrorKind::InvalidData, e))
            }
        }
    }

    /// Writes waiting records until none wait (true) or the socket is full (false).
    fn write_pending(&mut self, more: bool) -> io::Result<bool> {
        while self.tls.wants_write() {
            let mut out = Sender {
                socket: &self.socket,
                more,
            };
            match self.tls.write_tls(&mut out) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// What a read that got `filled` bytes before the socket ran dry returns.
fn would_block_unless(filled: usize) -> io::Result<usize> {
    if filled > 0 {
        Ok(filled)
    } else {
        Err(ErrorKind::WouldBlock.into())
    }
}

fn failed() -> io::Error {
    io::Error::new(ErrorKind::BrokenPipe, "the TLS connection failed")
}

/// The socket as rustls reads it the first time, keeping the first byte.
struct Sniff<'a> {
    socket: &'a TcpStream,
    first: Option<u8>,
}

impl Read for Sniff<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.socket.read(buf)?;
        if n > 0 && self.first.is_none() {
            self.first = Some(buf[0]);
        }
        Ok(n)
    }
}

/// The socket as rustls writes to it: all waiting records in one `sendmsg`, never
/// SIGPIPE, MSG_MORE when the caller has more to say at once.
struct Sender<'a> {
    socket: &'a TcpStream,
    more: bool,
}

impl Write for Sender<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut flags = MsgFlags::MSG_NOSIGNAL;
        if self.more {
            flags |= MsgFlags::from_bits_retain(libc::MSG_MORE);
        }
        Ok(sendmsg::<()>(
            self.socket.as_raw_fd(),
            bufs,
            &[],
            flags,
            None,
        )?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! `TlsStream` over loopback, serving an echo the way a worker would (drive until it
    //! would block, then wait for what it waits for), against rustls clients and raw
    //! bytes.

    use super::*;
    use crate::tls::config::server_config as load_config;
    use crate::tls::testing::{TestPki, client};
    use crate::tls::tickets::TicketKeys;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use rustls::version::{TLS12, TLS13};
    use rustls::{ClientConfig, HandshakeKind};
    use std::net::TcpListener;
    use std::os::fd::AsFd;
    use std::thread::JoinHandle;
    use std::time::Duration;

    /// A server thread echoing plaintext over TLS on a fresh loopback connection, and
    /// the client's end of it. The thread ends with how the connection ended.
    fn echo_server(config: Arc<ServerConfig>) -> (JoinHandle<io::Result<()>>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let tls = TlsStream::new(accepted, &config).unwrap();
        (std::thread::spawn(move || echo(tls)), socket)
    }

    fn echo(mut tls: TlsStream) -> io::Result<()> {
        let mut buf = vec![0u8; 16 * 1024];
        let mut out: Vec<u8> = Vec::new();
        loop {
            while !out.is_empty() {
                match tls.send(&out, false) {
                    Ok(n) => drop(out.drain(..n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            match tls.send_queued() {
                Err(e) if e.kind() != ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
            match tls.recv(&mut buf) {
                Ok(0) => {
                    tls.close_notify();
                    return Ok(());
                }
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let events = if tls.wants_write() || !out.is_empty() {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            let mut fds = [PollFd::new(tls.socket().as_fd(), events)];
            if poll(&mut fds, PollTimeout::from(5000u16))? == 0 {
                let why = format!("waited 5 s for {events:?}");
                return Err(io::Error::new(ErrorKind::TimedOut, why));
            }
        }
    }

    /// A worker's configuration, its tickets sealed with `keys`.
    fn config_with(keys: &TicketKeys) -> Arc<ServerConfig> {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = TestPki::get().write(dir.path());
        load_config(&cert, &key, keys, true).unwrap()
    }

    fn server_config() -> Arc<ServerConfig> {
        config_with(&TicketKeys::new().unwrap())
    }

    fn client_config(versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ClientConfig> {
        TestPki::get().client_config(versions, &[b"http/1.1"])
    }

    /// One echo exchange over a new connection; the client's view of it afterwards.
    fn exchange(
        server: &Arc<ServerConfig>,
        client_config: &Arc<ClientConfig>,
        message: &[u8],
    ) -> rustls::ClientConnection {
        let (handle, socket) = echo_server(server.clone());
        let mut c = client(client_config, socket);
        c.write_all(message).unwrap();
        let mut back = vec![0u8; message.len()];
        c.read_exact(&mut back).unwrap();
        assert!(back == message, "the echo came back altered");
        c.conn.send_close_notify();
        c.flush().unwrap();
        // The server answers close_notify with its own: a clean end both ways.
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        handle.join().unwrap().unwrap();
        c.conn
    }

    #[test]
    fn tls13_and_tls12_handshake_and_carry_data_both_ways() {
        let server = server_config();
        for version in [&TLS13, &TLS12] {
            let message: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
            let c = exchange(&server, &client_config(&[version]), &message);
            assert_eq!(c.protocol_version(), Some(version.version));
            assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
            assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
        }
    }

    #[test]
    fn alpn_prefers_h2_and_is_optional() {
        let server = server_config();
        let pki = TestPki::get();
        let none = pki.client_config(&[&TLS13], &[]);
        assert_eq!(exchange(&server, &none, b"hi").alpn_protocol(), None);
        let both = pki.client_config(&[&TLS13], &[b"http/1.1", b"h2"]);
        assert_eq!(
            exchange(&server, &both, b"hi").alpn_protocol(),
            Some(&b"h2"[..])
        );
        let h1 = pki.client_config(&[&TLS13], &[b"http/1.1"]);
        assert_eq!(
            exchange(&server, &h1, b"hi").alpn_protocol(),
            Some(&b"http/1.1"[..])
        );
        // A client that speaks neither is refused (no_application_protocol).
        let (handle, socket) = echo_server(server.clone());
        let mut c = client(&pki.client_config(&[&TLS13], &[b"h3"]), socket);
        assert!(c.write_all(b"hi").is_err());
        assert!(handle.join().unwrap().is_err());
    }

    #[test]
    fn a_ticket_from_one_worker_resumes_on_another_until_two_rotations() {
        let keys = TicketKeys::new().unwrap();
        // Two workers' configurations over the same keys, as forked workers have.
        let (one, other) = (config_with(&keys), config_with(&keys));
        for version in [&TLS13, &TLS12] {
            let client = client_config(&[version]);
            let first = exchange(&one, &client, b"first");
            assert_eq!(first.handshake_kind(), Some(HandshakeKind::Full));
            let again = exchange(&other, &client, b"again");
            assert_eq!(
                again.handshake_kind(),
                Some(HandshakeKind::Resumed),
                "{version:?}"
            );
            // A pool with other keys cannot open the ticket: a full handshake.
            let stranger = server_config();
            let elsewhere = exchange(&stranger, &client, b"elsewhere");
            assert_eq!(elsewhere.handshake_kind(), Some(HandshakeKind::Full));
        }
        // Tickets outlive one rotation, not two.
        let client = client_config(&[&TLS13]);
        exchange(&one, &client, b"ticket");
        keys.rotate();
        let kind = exchange(&other, &client, b"one rotation").handshake_kind();
        assert_eq!(kind, Some(HandshakeKind::Resumed));
        // (That resumption brought tickets under the new key: two more rotations.)
        keys.rotate();
        keys.rotate();
        let kind = exchange(&one, &client, b"two rotations").handshake_kind();
        assert_eq!(kind, Some(HandshakeKind::Full));
    }

    /// Sends `bytes` raw and ends its side, then reads what comes back until the server
    /// closes; how the server ended, which must not be by waiting in vain.
    fn raw(bytes: &[u8]) -> (Vec<u8>, io::Result<()>) {
        let (handle, mut socket) = echo_server(server_config());
        // The server may close before it has read everything: then the rest is refused.
        let _ = socket.write_all(bytes);
        let _ = socket.shutdown(std::net::Shutdown::Write);
        let mut back = Vec::new();
        let _ = socket.read_to_end(&mut back);
        let ended = handle.join().unwrap();
        if let Err(e) = &ended {
            assert_ne!(e.kind(), ErrorKind::TimedOut, "{bytes:x?}: {e}");
        }
        (back, ended)
    }

    #[test]
    fn plain_http_on_the_tls_port_gets_a_plain_400_and_the_end() {
        let (back, ended) = raw(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
        assert_eq!(ended.unwrap_err().kind(), ErrorKind::InvalidData);
        let text = String::from_utf8(back).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, PLAIN_HTTP_BODY);
        assert!(head.ends_with(&format!("\r\nContent-Length: {}", body.len())));
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\nServer: preforkd/"));
        assert!(head.contains("\r\nDate: ") && head.contains(" GMT\r\n"));
        assert!(head.contains("\r\nConnection: close\r\n"));
    }

    /// A ClientHello of a client that knows nothing newer than TLS 1.1: no
    /// supported_versions extension; with `sig_algs`, the signature_algorithms extension
    /// rustls requires (a TLS 1.2 client's), so that the version alone is wrong.
    fn tls11_hello(sig_algs: bool) -> Vec<u8> {
        let mut body = vec![0x03, 0x02]; // client_version: TLS 1.1
        body.extend(1..=32u8); // random
        body.push(0); // no session id
        body.extend([0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x13]); // two ECDHE suites
        body.extend([0x01, 0x00]); // compression: null
        if sig_algs {
            body.extend([0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
        }
        let mut hello = vec![0x16, 0x03, 0x01, 0x00, body.len() as u8 + 4];
        hello.extend([0x01, 0x00, 0x00, body.len() as u8]);
        hello.extend(body);
        hello
    }

    #[test]
    fn tls10_and_tls11_clients_are_refused_with_a_fatal_alert() {
        // One alert record each: fatal (2), then protocol_version (70), or
        // handshake_failure (40) for a hello without TLS 1.2's extensions.
        for (sig_algs, alert) in [(true, 70), (false, 40)] {
            let (back, ended) = raw(&tls11_hello(sig_algs));
            assert_eq!(back, [0x15, 0x03, 0x03, 0x00, 0x02, 2, alert], "{back:x?}");
            assert_eq!(ended.unwrap_err().kind(), ErrorKind::InvalidData);
        }
        let mut tls10 = tls11_hello(true);
        tls10[10] = 0x01;
        assert_eq!(raw(&tls10).0, [0x15, 0x03, 0x03, 0x00, 0x02, 2, 70]);
    }

    #[test]
    fn garbage_ends_the_connection_without_a_panic() {
        let mut hello_cut = tls11_hello(true);
        hello_cut.truncate(20);
        let cases: &[&[u8]] = &[
            b"\x00",
            &[0xff; 64],
            &[0x16, 0x03, 0x01, 0xff, 0xff, 0x01], // a record longer than allowed
            &[0x16, 0x03, 0x01, 0x00, 0x00],       // an empty handshake record
            &[0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5], // data before any handshake
            &[0x15, 0x03, 0x03, 0x00, 0x02, 2, 40], // an alert for a start
            &[0x80, 0x2e, 0x01, 0x03, 0x01],       // an SSLv2 hello
            &hello_cut,                            // then the client closes
            b"",                                   // a connection closed at once
        ];
        for bytes in cases {
            let (back, _) = raw(bytes);
            // An alert at most, never the start of a handshake.
            assert!(
                back.is_empty() || back[0] == 0x15,
                "{bytes:x?} got {back:x?}"
            );
        }
        // Not TLS, not HTTP: refused at once.
        assert!(raw(&[0xff; 64]).1.is_err());
        // Random bytes after a good start.
        let mut noisy = tls11_hello(true)[..5].to_vec();
        noisy.extend((0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        let (back, ended) = raw(&noisy);
        assert!(back.is_empty() || back[0] == 0x15, "{back:x?}");
        assert!(ended.is_err());
    }
}
