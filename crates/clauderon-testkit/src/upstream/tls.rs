//! A throwaway certificate authority for tests, and the TLS configurations built on it: the
//! upstream's server config (a leaf for the requested names) and clients that trust only it.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The ALPN protocols a TLS client or server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// `http/1.1` only (what a WebSocket client offers).
    Http1,
    /// `h2` only.
    Http2,
    /// `h2` first, then `http/1.1`.
    Both,
}

impl Alpn {
    pub fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Alpn::Http1 => vec![b"http/1.1".to_vec()],
            Alpn::Http2 => vec![b"h2".to_vec()],
            Alpn::Both => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }
}

/// A CA (ECDSA P-256) made fresh for one test; nothing outside the test trusts it.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").field("key", &"***").finish_non_exhaustive()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TestCa {
    pub fn new() -> Self {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .unwrap_or_else(|e| panic!("generating the test CA key: {e}"));
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "clauderon testkit CA");
        dn.push(DnType::OrganizationName, "clauderon tests");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("self-signing the test CA: {e}"));
        TestCa { cert, key }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// Writes the CA certificate to `dir/testkit-ca.pem` (for a proxy's extra CA files, or
    /// `curl --cacert`) and returns the path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("testkit-ca.pem");
        std::fs::write(&path, self.ca_pem())
            .unwrap_or_else(|e| panic!("writing the test CA to {}: {e}", path.display()));
        path
    }

    /// A root store holding only this CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der()).unwrap_or_else(|e| panic!("adding the test CA to a root store: {e}"));
        roots
    }

    /// Issues a leaf (CA:FALSE, serverAuth) for DNS names and IP addresses, signed by this CA.
    pub fn issue(&self, names: &[String]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .unwrap_or_else(|e| panic!("generating a leaf key: {e}"));
        let mut params = CertificateParams::new(names.to_vec())
            .unwrap_or_else(|e| panic!("leaf names {names:?} are not valid: {e}"));
        params.distinguished_name.push(DnType::CommonName, names.first().map_or("localhost", |n| n.as_str()));
        // Valid DER (no explicit `cA: FALSE`), so strict clients such as mitmproxy read it.
        params.is_ca = IsCa::NoCa;
        params.custom_extensions.push(clauderon_proxy::ca::end_entity_constraints());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params
            .signed_by(&key, &self.cert, &self.key)
            .unwrap_or_else(|e| panic!("signing a leaf for {names:?}: {e}"));
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![leaf.der().clone(), self.ca_der()], key_der)
    }

    /// A server config presenting a leaf for `names`, offering `alpn`.
    pub fn server_config(&self, names: &[String], alpn: Alpn) -> Arc<rustls::ServerConfig> {
        let (chain, key) = self.issue(names);
        let mut config = rustls::ServerConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("TLS versions: {e}"))
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap_or_else(|e| panic!("server certificate: {e}"));
        config.alpn_protocols = alpn.protocols();
        Arc::new(config)
    }

    /// A client config trusting only this CA, offering `alpn`.
    pub fn client_config(&self, alpn: Alpn) -> Arc<rustls::ClientConfig> {
        let mut config = rustls::ClientConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("TLS versions: {e}"))
            .with_root_certificates(self.root_store())
            .with_no_client_auth();
        config.alpn_protocols = alpn.protocols();
        Arc::new(config)
    }
}
