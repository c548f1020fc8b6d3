//! The configuration a TLS listener serves with: the certificate (whatever name SNI
//! asks for), TLS 1.3 and 1.2, ALPN, and the pool's session tickets.

use std::path::Path;
use std::sync::Arc;

use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};

use super::certs;
use super::crypto::provider;
use super::tickets::TicketKeys;

/// The protocols offered by ALPN, most preferred first.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// What a TLS listener serves with: the certificate chain in `cert` and its key in
/// `key` (see [`certs::load`]), TLS 1.3 and 1.2, [`ALPN`] (without `h2` unless
/// `http2`), and session tickets sealed with the pool's shared `tickets`. The error is
/// one line naming the flag.
pub fn server_config(
    cert: &Path,
    key: &Path,
    tickets: &TicketKeys,
    http2: bool,
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(provider());
    let certified = certs::load(cert, key, &provider)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(OneCertificate(Arc::new(certified))));
    config.alpn_protocols = ALPN
        .iter()
        .filter(|p| http2 || **p != b"h2")
        .map(|p| p.to_vec())
        .collect();
    config.ticketer = tickets.ticketer();
    // No cache of TLS 1.2 session IDs: it would be per worker process, so with N
    // workers a returning client would find its session 1 time in N, while costing
    // memory in each; tickets resume on every worker (TLS 1.3, and TLS 1.2 clients that
    // support tickets, which is all current ones).
    config.session_storage = Arc::new(NoServerSessionStorage {});
    Ok(Arc::new(config))
}

/// The one certificate, whatever name the client asked for by SNI. A certificate per
/// name would be chosen here, from `ClientHello::server_name`.
#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
