//! `--tls-cert` and `--tls-key`: the PEM files read, the pair checked, and the result
//! turned into the certificate rustls presents; every error one line naming the flag.

use std::fmt::Display;
use std::io::Read;
use std::path::Path;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{Error, InconsistentKeys};

/// Certificate and key files are a few KiB; a larger one is a wrong path (a log,
/// `/dev/zero`), refused before it fills memory.
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// The chain in `cert` (the server's own certificate first, then the ones that sign
/// it) with the private key in `key` (PKCS#8, SEC1 or PKCS#1), checked to belong
/// together.
pub fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let chain = read_chain(cert)?;
    let key_der = read_key(key)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| format!("--tls-key {}: unsupported key: {e}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // The key cannot tell its public half (no key of the providers we build
        // with): nothing to compare, and a wrong pair still fails every handshake.
        Err(Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(certified),
        Err(Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Err(format!(
            "--tls-key {} does not match the certificate in --tls-cert {} \
             (the server's own certificate must come first)",
            key.display(),
            cert.display()
        )),
        Err(e) => Err(format!(
            "--tls-cert {}: its first certificate is unreadable: {e}",
            cert.display()
        )),
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let fail = |why: &dyn Display| format!("--tls-cert {}: {why}", path.display());
    let bytes = read_pem_file(path).map_err(|why| fail(&why))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(&format_args!("not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(fail(
            &"no certificate in it (expected PEM \"BEGIN CERTIFICATE\" blocks, the server's own first)",
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let fail = |why: &dyn Display| format!("--tls-key {}: {why}", path.display());
    let bytes = read_pem_file(path).map_err(|why| fail(&why))?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) if contains(&bytes, b"ENCRYPTED PRIVATE KEY") => Err(fail(
            &"the key is encrypted: give it decrypted (openssl pkey -in FILE -out NEW)",
        )),
        Err(pem::Error::NoItemsFound) => Err(fail(
            &"no private key in it (expected PEM \"BEGIN PRIVATE KEY\", \"BEGIN EC PRIVATE KEY\" \
              or \"BEGIN RSA PRIVATE KEY\")",
        )),
        Err(e) => Err(fail(&format_args!("not valid PEM: {e}"))),
    }
}

/// The file's bytes, or why not, as the end of an error line.
fn read_pem_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err("a directory, not a PEM file".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err("larger than 1 MiB: not a PEM file".into());
    }
    if bytes.is_empty() {
        return Err("empty".into());
    }
    Ok(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::crypto::provider;
    use crate::tls::testing::TestPki;
    use std::path::PathBuf;

    /// Keys in the two older formats (made once with openssl, which a fresh machine
    /// lacks), each with a self-signed certificate. Test keys, protecting nothing.
    const SEC1_KEY: &str = "\
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIK3F14xReineaQyJyg2cU20VYh9c7lM1AeUx4shZ1fy3oAoGCCqGSM49
AwEHoUQDQgAEQb5EkuUSch0622sJDwE+aNRMuVhPpbKXwjXdzLe2LS2cNCEm+gG6
Lql2DHsjZ2t4EaIJPvRIAIBpg0lILftOgg==
-----END EC PRIVATE KEY-----
";
    const SEC1_CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUG5/FXEs+yyDLCP/cIBKhYbX/gBcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJc2VjMS50ZXN0MCAXDTI2MTIwMTA0NTYxMFoYDzIxMjYxMTA3
MDQ1NjEwWjAUMRIwEAYDVQQDDAlzZWMxLnRlc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARBvkSS5RJyHTrbawkPAT5o1Ey5WE+lspfCNd3Mt7YtLZw0ISb6Abou
qXYMeyNna3gRogk+9EgAgGmDSUgt+06Co1MwUTAdBgNVHQ4EFgQUihCcNbIvjP7/
//11eVgeO/1XwXkwHwYDVR0jBBgwFoAUihCcNbIvjP7///11eVgeO/1XwXkwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAHrGT2o0B6gJijjA1DkEAr
UbPORtPB6yJh9UEpoFgpMQIgX2XjHS7IThE+kH8S1NvipuQ+co8fV03FD/yuBJG8
LT0=
-----END CERTIFICATE-----
";
    const PKCS1_KEY: &str = "\
-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEArxZuYDHsNByyJeDUC0q0AZphtxBqRMVVquKA2DxTWeJ4aPd0
L/gijKmCsHtCWLKS+r0UXS7yleIvW+fljmTfWyvkrakzOJMjLOo5+CzuDWtCaAAw
l44Zk/Q1k8+ahEbakOKc98M1E73YXG8H5HnPuvdfJ3etVwtIOMeWkOVIsFspkpgR
yYHwDhcNaKbLR1CEdLeGpG+InZ70tGRpL4clBzjjj5e8wBNjnZp4sq+tiPP/BEiT
R2qUQdVvHsWNNMWMLuv9E9rmeVh5HwGaXph+I53KcEhi+l0/Y8jUayI7sPxcHFzZ
HeAex7JMkJ1ma2zj47QBTd2B/9yrlFXDqL/c3QIDAQABAoIBAB3iZECDBN/4LegN
MeQjggnsAdWvNZQ7Yl3ifz9pPIjRAOBZrDkrzynXHPlmcHKXOEMX1sv44Wr3ykGT
mTjuurjjCwshIB797jkSWYaklJUxw4ngzmpv1KnOOv7ZpnQBa/ji1QvtA7g05SMR
yHUU3YH6CwG/iZSb1l3qoyZkHD4NaL/AcrfCJwm2PLFWMK5+VreQcSE08ylAIQaQ
G2ZSpOIlHdkBms3MZz8/tPAIqjVymHhCs0wsCOmbMuZhgOfFMdS4vUpJpVu0zIt8
mQbX085Wc5rw4/Q/9RFICpcrXZEkis2sGeo8AOeE/DzsJeG6CVTxnbH3QUZJg1Kw
YUWxWYECgYEA572c+UrUeneFzDp5bSHF7+CUV+H6T3Wti67ammmCPoN4LI+5l4Sr
sn0KwsI5wHlnYTvlh1FWlUSqc+Ke/mDYJSuMBCJyr23S3cgauyFQrhQ8tgJRHZzJ
zq17blSJp3zqZiryISIzS2KTb2HKzP9Ql368izQwGbr07J4CpqfEgI0CgYEAwWqU
mkCXbM2Z8SLCiWKTwLRhO6EiagkQQQBiz63ZzUbI/+khwRkAxg1/pAC39/9fn/XP
rC/y1Sl433YWjeIdPiQiXR0Bgwpfv34OXG/uFfMKb4dblOPq1W1Fe7XhwC2dJzAx
1Ys3ZVNRZrp2cWAHW0shPHASfPfmSkk5QNdcgZECgYBqCdVeLON09mP+w3L0gNO1
o6m9XOXQniQ/Gk9lAIpcWIQQv+NIdairD5Rw8bbDX8nyMBojBRD9VGI6jKP7+gxt
VbPH4IthwnsOiJXSsrfcL95n2j+LsUaWj8M/BOfH/9yxy0zn5GJcSEr2WGUX0Gvs
Jk3X1JV98JJKAzNrVrEPsQKBgCZgCinsxN6OkIuadPSjPWOPpncZSmW1dKcg93nz
KXKkJ782tz7DwjaJeRjGF7o5zfRD5jdosAqBFv1nRaRTB7BLpRHKboFcbpDk5t6K
SrfKJ/jm51HMQsyjyJR6CteBdVvQISMYYx5UgKMcPeHSxsLjTi3aoqBu4x88FgL6
d90xAoGAVMXQ3mvaoLL4FRVRzeeJPvK98Mr/4K/GotPDj+4p6WaTbuxhg7plakND
ID8Mm934wsym3+iHi2lAKOZzMH5svdVzUdfk/hqnKLyCjNXIEpt9Q04PfBDWgPIs
WtOLZjo/tihHfyy5HuRZrKkBBwyRnACTuzMrk6/yvNtwyAzteIQ=
-----END RSA PRIVATE KEY-----
";
    const PKCS1_CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIDDTCCAfWgAwIBAgIUZhylMqLyGEr9n4KlB1jn29PCZFswDQYJKoZIhvcNAQEL
BQAwFTETMBEGA1UEAwwKcGtjczEudGVzdDAgFw0yNjEyMDEwNDU2MTBaGA8yMTI2
MTEwNzA0NTYxMFowFTETMBEGA1UEAwwKcGtjczEudGVzdDCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBAK8WbmAx7DQcsiXg1AtKtAGaYbcQakTFVarigNg8
U1nieGj3dC/4IoypgrB7Qliykvq9FF0u8pXiL1vn5Y5k31sr5K2pMziTIyzqOfgs
7g1rQmgAMJeOGZP0NZPPmoRG2pDinPfDNRO92FxvB+R5z7r3Xyd3rVcLSDjHlpDl
SLBbKZKYEcmB8A4XDWimy0dQhHS3hqRviJ2e9LRkaS+HJQc444+XvMATY52aeLKv
rYjz/wRIk0dqlEHVbx7FjTTFjC7r/RPa5nlYeR8Bml6YfiOdynBIYvpdP2PI1Gsi
O7D8XBxc2R3gHseyTJCdZmts4+O0AU3dgf/cq5RVw6i/3N0CAwEAAaNTMFEwHQYD
VR0OBBYEFH5296pO/UEU8q2nQwmDMoX+lJF5MB8GA1UdIwQYMBaAFH5296pO/UEU
8q2nQwmDMoX+lJF5MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEB
AGrox+C2FRkOeHbP2KdC7N1f3CDnvGQYeWGGQd3PiiJblw9fQBJu+/BLD+skuqys
ZZA/IK4BhzCVFJOuT/QdjbXqUI3GLlVvNzQfbsvF6OkIs0HKL1566sGRm5Zcwumk
sWHO0/Yy4ni3oIUulof6SLA+lFdD2NafskyrJnDVy15Rn+10mJLMqPHG+6VYVF35
mBr/wPZ1p9Ej0QeNXOjAlPbt+pJs+QLhYNCBjqVHKiCngIWgT4kHrWiZ2OgjPkRp
avCONXb8Ku/oXCH5jC1j5ZNHlgKWVpn+pfI8o+y2voRVvbprDDnchshN8ypjcHLq
Qz8yA1xTo1r01vD3SOPRK0o=
-----END CERTIFICATE-----
";

    struct Files(tempfile::TempDir);

    impl Files {
        fn new() -> Files {
            Files(tempfile::tempdir().unwrap())
        }

        fn put(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
            let path = self.0.path().join(name);
            std::fs::write(&path, content).unwrap();
            path
        }

        /// The test PKI's chain (leaf, then CA) and PKCS#8 key.
        fn pki(&self) -> (PathBuf, PathBuf) {
            TestPki::get().write(self.0.path())
        }
    }

    fn try_load(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
        load(cert, key, &provider())
    }

    fn error(cert: &Path, key: &Path) -> String {
        match try_load(cert, key) {
            Ok(_) => panic!("{} and {} loaded", cert.display(), key.display()),
            Err(e) => e,
        }
    }

    #[test]
    fn pkcs8_sec1_and_pkcs1_keys_load_with_their_certificates() {
        let f = Files::new();
        let (chain, key) = f.pki();
        let loaded = try_load(&chain, &key).unwrap();
        assert_eq!(loaded.cert.len(), 2, "the leaf and its CA");
        for (cert, key) in [(SEC1_CERT, SEC1_KEY), (PKCS1_CERT, PKCS1_KEY)] {
            let loaded = try_load(&f.put("c.pem", cert), &f.put("k.pem", key)).unwrap();
            assert_eq!(loaded.cert.len(), 1);
        }
        // One file holding both works for either flag.
        let both = f.put("both.pem", format!("{SEC1_KEY}{SEC1_CERT}"));
        try_load(&both, &both).unwrap();
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let f = Files::new();
        let (chain, key) = f.pki();
        let other_key = f.put("other.pem", SEC1_KEY);
        assert_eq!(
            error(&chain, &other_key),
            format!(
                "--tls-key {} does not match the certificate in --tls-cert {} \
                 (the server's own certificate must come first)",
                other_key.display(),
                chain.display()
            )
        );
        // The chain in the wrong order: the CA first.
        let text = &TestPki::get().chain_pem;
        let end = "-----END CERTIFICATE-----\n";
        let first = text.find(end).unwrap() + end.len();
        let swapped = f.put(
            "swapped.pem",
            format!("{}{}", &text[first..], &text[..first]),
        );
        assert!(error(&swapped, &key).contains("does not match"));
    }

    #[test]
    fn unusable_files_get_one_line_naming_flag_file_and_problem() {
        let f = Files::new();
        let (chain, key) = f.pki();
        let missing = f.0.path().join("missing.pem");
        let empty = f.put("empty.pem", "");
        let garbage = f.put("garbage.pem", "this is not a certificate\n\x00\x01\x02\n");
        let der = f.put("cert.der", TestPki::get().leaf_der.as_ref());
        let key_only = f.put("key-only.pem", SEC1_KEY);
        let cert_only = f.put("cert-only.pem", SEC1_CERT);
        let broken = f.put(
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB!!!notbase64\n-----END CERTIFICATE-----\n",
        );
        let unterminated = f.put("unterminated.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
        let not_x509 = f.put(
            "not-x509.pem",
            "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        );
        let huge = f.put("huge.pem", vec![b'A'; MAX_PEM_FILE as usize + 1]);
        let dir = f.0.path();
        let cert_cases: &[(&Path, &str)] = &[
            (&missing, "No such file or directory"),
            (dir, "a directory, not a PEM file"),
            (&empty, "empty"),
            (&garbage, "no certificate in it"),
            (&der, "no certificate in it"),
            (&key_only, "no certificate in it"),
            (&broken, "not valid PEM"),
            (&unterminated, "not valid PEM"),
            (&not_x509, "its first certificate is unreadable"),
            (&huge, "larger than 1 MiB"),
        ];
        for (cert, why) in cert_cases {
            let e = error(cert, &key);
            let start = format!("--tls-cert {}: ", cert.display());
            assert!(e.starts_with(&start) && e.contains(why), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let encrypted = f.put(
            "encrypted.pem",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        let not_a_key = f.put(
            "not-a-key.pem",
            "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n",
        );
        let key_cases: &[(&Path, &str)] = &[
            (&missing, "No such file or directory"),
            (dir, "a directory, not a PEM file"),
            (&empty, "empty"),
            (&garbage, "no private key in it"),
            (&cert_only, "no private key in it"),
            (&encrypted, "the key is encrypted"),
            (&not_a_key, "unsupported key"),
            (&huge, "larger than 1 MiB"),
        ];
        for (bad_key, why) in key_cases {
            let e = error(&chain, bad_key);
            let start = format!("--tls-key {}: ", bad_key.display());
            assert!(e.starts_with(&start) && e.contains(why), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
