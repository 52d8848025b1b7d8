#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The proxy CA from the outside: real TLS handshakes on loopback, files on disk.

use clauderon_proxy::ca::{CA_CERT_FILE, CA_KEY_FILE, CaError, CertificateAuthority};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn new_ca() -> (tempfile::TempDir, CertificateAuthority) {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(dir.path()).unwrap();
    (dir, ca)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn client_trusting(ca_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// One TLS connection over loopback: the server greets, the client reads the greeting.
/// Returns the ALPN protocol the client negotiated, or the client's handshake error.
async fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        if let Ok(mut tls) = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await {
            let _ = tls.write_all(b"hello").await;
            let _ = tls.shutdown().await;
        }
    });
    let client_side = async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        let mut tls =
            tokio_rustls::TlsConnector::from(client).connect(name, tcp).await.map_err(|e| e.to_string())?;
        let mut greeting = Vec::new();
        tls.read_to_end(&mut greeting).await.map_err(|e| e.to_string())?;
        assert_eq!(greeting, b"hello");
        Ok(tls.get_ref().1.alpn_protocol().unwrap_or_default().to_vec())
    };
    let result = tokio::time::timeout(Duration::from_secs(10), client_side).await.expect("handshake hung");
    server_task.await.unwrap();
    result
}

#[tokio::test]
async fn a_client_trusting_only_the_ca_verifies_leaves_by_sni() {
    let (_dir, ca) = new_ca();
    let alpn = handshake(ca.server_config(), client_trusting(ca.ca_pem()), "api.anthropic.com").await;
    assert_eq!(alpn.as_deref(), Ok(&b"h2"[..]));
    // Names are case-insensitive: the same cached leaf serves both spellings.
    assert!(handshake(ca.server_config(), client_trusting(ca.ca_pem()), "API.GitHub.com").await.is_ok());
}

#[tokio::test]
async fn an_ip_host_gets_an_ip_san_through_the_default_host() {
    let (_dir, ca) = new_ca();
    // Clients never send an IP address as SNI, so the proxy names the host it was asked to CONNECT to.
    let for_ip = ca.server_config_for_host("127.0.0.1").unwrap();
    assert!(handshake(for_ip, client_trusting(ca.ca_pem()), "127.0.0.1").await.is_ok());
    // Without a default host, a client that sends no SNI gets no certificate.
    let err = handshake(ca.server_config(), client_trusting(ca.ca_pem()), "127.0.0.1").await.unwrap_err();
    assert!(!err.is_empty());
    // A leaf for another IP does not verify for this one.
    let other = ca.server_config_for_host("127.0.0.2").unwrap();
    assert!(handshake(other, client_trusting(ca.ca_pem()), "127.0.0.1").await.is_err());
}

#[tokio::test]
async fn a_client_trusting_another_ca_refuses_the_leaf() {
    let (_dir, ca) = new_ca();
    let (_other_dir, other) = new_ca();
    let err = handshake(ca.server_config(), client_trusting(other.ca_pem()), "api.anthropic.com")
        .await
        .unwrap_err();
    assert!(err.contains("invalid peer certificate"), "{err}");
}

#[tokio::test]
async fn a_leaf_for_one_host_does_not_verify_for_another() {
    let (_dir, ca) = new_ca();
    let for_other = ca.server_config_for_host("example.com").unwrap();
    // SNI wins over the default host, so the client gets the right leaf...
    assert!(handshake(for_other.clone(), client_trusting(ca.ca_pem()), "api.openai.com").await.is_ok());
    // ...and a leaf for example.com is rejected for api.openai.com.
    let leaf = ca.leaf_for("example.com").unwrap();
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new({
            let mut roots = RootCertStore::empty();
            roots.add(CertificateDer::from_pem_slice(ca.ca_pem().as_bytes()).unwrap()).unwrap();
            roots
        }),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    use rustls::client::danger::ServerCertVerifier;
    let verify = |name: &str| {
        let name = ServerName::try_from(name.to_string()).unwrap();
        verifier.verify_server_cert(
            &leaf.cert[0],
            &leaf.cert[1..],
            &name,
            &[],
            rustls_pki_types::UnixTime::now(),
        )
    };
    assert!(verify("example.com").is_ok());
    assert!(verify("api.openai.com").is_err());
}

#[test]
fn files_have_the_right_modes_and_reload_gives_the_same_ca() {
    let (dir, ca) = new_ca();
    assert_eq!(mode(&dir.path().join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.path().join(CA_CERT_FILE)), 0o644);
    assert!(ca.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(std::fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap(), ca.ca_pem());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "temporary files left behind: {leftovers:?}");

    let reloaded = CertificateAuthority::load_or_create(dir.path()).unwrap();
    assert_eq!(reloaded.ca_pem(), ca.ca_pem());
}

#[tokio::test]
async fn leaves_from_a_reloaded_ca_verify_against_the_first_pem() {
    let (dir, ca) = new_ca();
    let reloaded = CertificateAuthority::load_or_create(dir.path()).unwrap();
    assert!(handshake(reloaded.server_config(), client_trusting(ca.ca_pem()), "github.com").await.is_ok());
}

#[test]
fn a_key_readable_by_others_is_refused_with_the_fix() {
    let (dir, _ca) = new_ca();
    let key = dir.path().join(CA_KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = CertificateAuthority::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, CaError::KeyNotPrivate { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("chmod 600 {}", key.display())), "{err}");
}

#[test]
fn corrupt_or_mismatched_files_name_the_file_and_the_way_out() {
    let (dir, _ca) = new_ca();
    let cert = dir.path().join(CA_CERT_FILE);
    let key = dir.path().join(CA_KEY_FILE);
    let good_cert = std::fs::read_to_string(&cert).unwrap();

    std::fs::write(&cert, "not a certificate").unwrap();
    let err = CertificateAuthority::load_or_create(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(&cert.display().to_string()) && err.contains("Delete ca.pem and ca-key.pem"),
        "{err}"
    );

    std::fs::write(&cert, &good_cert).unwrap();
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
    let err = CertificateAuthority::load_or_create(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&key.display().to_string()) && err.contains("Delete"), "{err}");

    // A certificate and a key from two different CAs.
    let (other_dir, _other) = new_ca();
    std::fs::copy(other_dir.path().join(CA_KEY_FILE), &key).unwrap();
    let err = CertificateAuthority::load_or_create(dir.path()).unwrap_err().to_string();
    assert!(err.contains("does not belong to ca-key.pem"), "{err}");

    std::fs::remove_file(&key).unwrap();
    let err = CertificateAuthority::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, CaError::MissingKey { .. }), "{err:?}");
}

#[test]
fn a_key_left_without_a_certificate_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CA_KEY_FILE), "half-written").unwrap();
    let ca = CertificateAuthority::load_or_create(dir.path()).unwrap();
    assert_eq!(mode(&dir.path().join(CA_KEY_FILE)), 0o600);
    assert_eq!(CertificateAuthority::load_or_create(dir.path()).unwrap().ca_pem(), ca.ca_pem());
}

#[test]
fn the_cache_returns_the_same_leaf_for_the_same_host() {
    let (_dir, ca) = new_ca();
    let a = ca.leaf_for("api.anthropic.com").unwrap();
    assert!(Arc::ptr_eq(&a, &ca.leaf_for("api.anthropic.com").unwrap()));
    assert!(Arc::ptr_eq(&a, &ca.leaf_for("API.ANTHROPIC.COM.").unwrap()));
    assert!(!Arc::ptr_eq(&a, &ca.leaf_for("api.openai.com").unwrap()));
    assert_eq!(a.cert.len(), 2, "chain is [leaf, ca]");
    assert_eq!(a.cert[1].as_ref(), CertificateDer::from_pem_slice(ca.ca_pem().as_bytes()).unwrap().as_ref());
    assert!(matches!(ca.leaf_for("not a host"), Err(CaError::InvalidHost(_))));
}

#[test]
fn concurrent_first_requests_for_one_host_all_get_a_leaf() {
    let (_dir, ca) = new_ca();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let ca = ca.clone();
            std::thread::spawn(move || ca.leaf_for("concurrent.example.com").map(|_| ()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_leaf_is_not_a_ca_and_is_for_server_auth() {
    let (_dir, ca) = new_ca();
    let leaf = ca.leaf_for("api.anthropic.com").unwrap();
    let der = leaf.cert[0].as_ref();
    // basicConstraints (2.5.29.19), critical, an empty SEQUENCE: cA is FALSE by default, and DER
    // forbids writing the default out.
    assert!(contains(der, &[0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00]));
    // extendedKeyUsage (2.5.29.37) holding serverAuth (1.3.6.1.5.5.7.3.1).
    assert!(contains(der, &[0x06, 0x03, 0x55, 0x1d, 0x25]));
    assert!(contains(der, &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]));
    // The CA: basicConstraints CA:TRUE, pathlen 0.
    let ca_der = CertificateDer::from_pem_slice(ca.ca_pem().as_bytes()).unwrap();
    assert!(contains(ca_der.as_ref(), &[0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]));
}

/// The same facts as seen by a widely used independent implementation.
#[test]
fn openssl_agrees_the_leaf_is_a_server_certificate_from_the_ca() {
    if std::process::Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl is not installed: skipping the cross-check");
        return;
    }
    let (dir, ca) = new_ca();
    for (host, san) in [("api.anthropic.com", "DNS:api.anthropic.com"), ("127.0.0.1", "IP Address:127.0.0.1")]
    {
        let leaf = ca.leaf_for(host).unwrap();
        let leaf_path = dir.path().join("leaf.pem");
        std::fs::write(&leaf_path, pem_string(&leaf.cert[0])).unwrap();
        let text = openssl(&["x509", "-noout", "-text", "-in", leaf_path.to_str().unwrap()]);
        for expected in ["CA:FALSE", "TLS Web Server Authentication", "Digital Signature", san] {
            assert!(text.contains(expected), "{expected} missing in:\n{text}");
        }
        let ca_path = dir.path().join(CA_CERT_FILE);
        let verify = openssl(&[
            "verify",
            "-CAfile",
            ca_path.to_str().unwrap(),
            "-purpose",
            "sslserver",
            leaf_path.to_str().unwrap(),
        ]);
        assert!(verify.contains(": OK"), "{verify}");
    }
    let ca_text =
        openssl(&["x509", "-noout", "-text", "-in", dir.path().join(CA_CERT_FILE).to_str().unwrap()]);
    for expected in ["CA:TRUE, pathlen:0", "Certificate Sign, CRL Sign", "CN = clauderon proxy CA"] {
        assert!(ca_text.contains(expected), "{expected} missing in:\n{ca_text}");
    }
}

/// Python's `cryptography` (rust-asn1 underneath) parses certificates as strict DER, as some
/// clients and intercepting tools do: a DEFAULT value encoded explicitly (`cA: FALSE` in
/// basicConstraints) is refused there, and the client drops the connection. Our leaves and CA
/// must pass it. `.ci/run` installs python3-cryptography.
#[test]
fn a_strict_der_parser_reads_the_leaf_and_the_ca() {
    let (dir, ca) = new_ca();
    let leaf = ca.leaf_for("api.anthropic.com").unwrap();
    let leaf_path = dir.path().join("leaf.der");
    std::fs::write(&leaf_path, leaf.cert[0].as_ref()).unwrap();
    let script = "import sys\n\
        from cryptography import x509\n\
        for path in sys.argv[1:]:\n\
        \x20   pem = open(path, 'rb').read()\n\
        \x20   cert = x509.load_pem_x509_certificate(pem) if pem.startswith(b'-----') else x509.load_der_x509_certificate(pem)\n\
        \x20   bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)\n\
        \x20   print(path, 'ca' if bc.value.ca else 'leaf', 'critical' if bc.critical else 'not-critical')\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, leaf_path.to_str().unwrap(), dir.path().join(CA_CERT_FILE).to_str().unwrap()])
        .output()
        .expect("python3 runs (.ci/run installs it with python3-cryptography)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("leaf.der leaf critical"), "{text}");
    assert!(text.contains("ca.pem ca critical"), "{text}");
}

fn openssl(args: &[&str]) -> String {
    let out = std::process::Command::new("openssl").args(args).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn pem_string(der: &CertificateDer<'_>) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}
