//! Test-only: a throwaway PKI (a CA, and a certificate for `localhost` it signed), its
//! files, and rustls clients that trust it.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

use super::crypto::provider;

pub struct TestPki {
    /// What `--tls-cert` holds: the leaf, then the CA.
    pub chain_pem: String,
    /// What `--tls-key` holds: the leaf's key, PKCS#8.
    pub key_pem: String,
    pub leaf_der: CertificateDer<'static>,
    pub ca_der: CertificateDer<'static>,
}

impl TestPki {
    /// The one PKI of this test process (key generation is not free).
    pub fn get() -> &'static TestPki {
        static PKI: OnceLock<TestPki> = OnceLock::new();
        PKI.get_or_init(|| {
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = ca_params.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca_params, ca_key);
            let leaf_key = KeyPair::generate().unwrap();
            let leaf = CertificateParams::new(vec!["localhost".into()])
                .unwrap()
                .signed_by(&leaf_key, &issuer)
                .unwrap();
            TestPki {
                chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
                key_pem: leaf_key.serialize_pem(),
                leaf_der: leaf.der().clone(),
                ca_der: ca.der().clone(),
            }
        })
    }

    /// Writes the chain and the key where `--tls-cert` and `--tls-key` would name
    /// them, in `dir`.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("chain.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &self.chain_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }

    /// A client that trusts the CA, speaks `versions` and offers `alpn`.
    pub fn client_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// A blocking TLS client for `localhost` over `socket`; the handshake happens on first
/// use.
pub fn client(
    config: &Arc<ClientConfig>,
    socket: TcpStream,
) -> StreamOwned<ClientConnection, TcpStream> {
    let name = ServerName::try_from("localhost").unwrap();
    StreamOwned::new(ClientConnection::new(config.clone(), name).unwrap(), socket)
}
