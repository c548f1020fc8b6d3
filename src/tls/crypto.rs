//! The cryptography rustls uses, and why it is ring.

use rustls::crypto::CryptoProvider;

/// The cryptography rustls uses: ring, with its default cipher suites and key-exchange
/// groups. Measured against aws-lc-rs on the 2-core machine CI runs on (rustls 0.23.46,
/// ECDSA P-256, X25519; server CPU only): a full handshake costs ring 133-150 us in TLS
/// 1.3 and 119-134 us in 1.2, aws-lc-rs 119-127 and 88-96 us; but sending costs ring
/// 0.29 ms per MiB (AES-256-GCM, TLS 1.3), aws-lc-rs 0.34, and a clean build takes ring
/// 23 s (release) and 11 s (debug), aws-lc-rs 48-74 s and 29-36 s, its C compiled on
/// every cold CI run. A static-file server sends far more bytes than it shakes hands.
pub fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}
