//! Ordinary HTTP/2 requests with the `h2` crate, over plain TCP (prior knowledge) or
//! over rustls (ALPN `h2`) through a small adapter, so no tokio-rustls is needed. Each
//! call runs its own current-thread tokio runtime and returns plain values.
//!
//! Not included by `common/mod.rs`: `tests/http2.rs` includes it with `#[path]`.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use h2::client::{Builder, SendRequest};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long any one call may take before the test fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(60);

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `f` to completion on a fresh runtime, failing after [`LIMIT`].
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    runtime().block_on(async {
        tokio::time::timeout(LIMIT, f)
            .await
            .expect("HTTP/2 exchange took over a minute")
    })
}

/// One response read with the `h2` crate.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A request with extra header fields; `scheme` is `http` or `https`.
pub fn request(
    scheme: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Request<()> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("{scheme}://localhost{path}"));
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(()).unwrap()
}

/// Sends one request (no body) and reads the whole response, releasing flow control
/// as the data arrives.
pub async fn send(client: &SendRequest<Bytes>, req: http::Request<()>) -> Result<Resp, h2::Error> {
    let mut client = client.clone().ready().await?;
    let (fut, _) = client.send_request(req, true)?;
    let resp = fut.await?;
    let (parts, mut body) = resp.into_parts();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len()).unwrap();
        out.extend_from_slice(&chunk);
    }
    Ok(Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: out,
    })
}

/// Opens an h2 connection with prior knowledge over plain TCP; the connection task
/// runs on the current runtime.
pub async fn connect(addr: SocketAddr, builder: &Builder) -> Result<SendRequest<Bytes>, h2::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).unwrap();
    let (client, conn) = builder.handshake(tcp).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Opens an h2 connection over TLS with ALPN `h2` (asserted), like [`connect`].
pub async fn connect_tls(
    addr: SocketAddr,
    builder: &Builder,
) -> Result<SendRequest<Bytes>, h2::Error> {
    let (tcp, tls) = tls_handshake(addr, &[b"h2"]);
    assert_eq!(
        tls.alpn_protocol(),
        Some(&b"h2"[..]),
        "ALPN did not pick h2"
    );
    let io = TlsIo::new(tcp, tls);
    let (client, conn) = builder.handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Opens one plain connection and sends every request on it concurrently.
pub fn get_all(addr: SocketAddr, reqs: Vec<http::Request<()>>) -> Vec<Result<Resp, String>> {
    block_on(async move {
        let client = connect(addr, &Builder::new()).await.expect("h2 handshake");
        let tasks: Vec<_> = reqs
            .into_iter()
            .map(|r| {
                let c = client.clone();
                tokio::spawn(async move { send(&c, r).await.map_err(|e| e.to_string()) })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    })
}

/// One request on a new plain h2 connection.
pub fn one(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    get_all(addr, vec![request("http", method, path, headers)])
        .remove(0)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One GET on a new plain h2 connection.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    one(addr, "GET", path, &[])
}

/// One request on a new TLS h2 connection.
pub fn tls_one(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    block_on(async move {
        let client = connect_tls(addr, &Builder::new())
            .await
            .expect("h2 handshake");
        send(&client, request("https", method, path, headers))
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    })
}

// ---- TLS ----

/// A rustls client trusting the test certificate ([`super::tls_files`]), offering `alpn`.
pub fn tls_config(alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let cert = CertificateDer::from_pem_file(&crate::common::tls_files().0).unwrap();
    roots.add(cert).unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A blocking TLS handshake offering `alpn`; the socket has a 10 s read timeout.
pub fn tls_handshake(addr: SocketAddr, alpn: &[&[u8]]) -> (TcpStream, ClientConnection) {
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.set_nodelay(true).unwrap();
    let mut conn =
        ClientConnection::new(tls_config(alpn), ServerName::try_from("localhost").unwrap())
            .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).expect("TLS handshake");
    }
    (sock, conn)
}

/// A blocking TLS stream offering `alpn`, for the raw frame client.
pub fn tls_stream(addr: SocketAddr, alpn: &[&[u8]]) -> StreamOwned<ClientConnection, TcpStream> {
    let (sock, conn) = tls_handshake(addr, alpn);
    StreamOwned::new(conn, sock)
}

/// rustls over a tokio socket, enough for the `h2` crate: the handshake is done
/// (blocking) before, so this only moves records.
pub struct TlsIo {
    tcp: tokio::net::TcpStream,
    tls: ClientConnection,
}

/// `Read`/`Write` on a tokio socket without blocking (WouldBlock when not ready).
struct Nb<'a>(&'a tokio::net::TcpStream);

impl Read for Nb<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for Nb<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.try_write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl TlsIo {
    pub fn new(tcp: TcpStream, tls: ClientConnection) -> TlsIo {
        tcp.set_nonblocking(true).unwrap();
        TlsIo {
            tcp: tokio::net::TcpStream::from_std(tcp).unwrap(),
            tls,
        }
    }

    /// Writes pending TLS records until none is left (Ready) or the socket is full.
    fn poll_flush_tls(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut Nb(&self.tcp)) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            // Alerts and key updates may need writing; never block a read on them.
            let _ = this.poll_flush_tls(cx)?;
            match this.tls.reader().read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(e)),
            }
            match this.tls.read_tls(&mut Nb(&this.tcp)) {
                Ok(0) => return Poll::Ready(Ok(())),
                Ok(_) => {
                    this.tls
                        .process_new_packets()
                        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    ready!(this.tcp.poll_read_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        // Keep at most one buffer's worth of records queued in rustls.
        ready!(this.poll_flush_tls(cx))?;
        let n = this.tls.writer().write(data)?;
        let _ = this.poll_flush_tls(cx)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().poll_flush_tls(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.tls.send_close_notify();
        ready!(this.poll_flush_tls(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}
