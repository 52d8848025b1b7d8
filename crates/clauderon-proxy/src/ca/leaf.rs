//! Leaf certificates: one per host, made on demand, cached, and picked by SNI.

use super::{ALPN_PROTOCOLS, CaError};
use chrono::{Datelike, TimeDelta, Utc};
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const LEAF_CACHE_CAPACITY: usize = 1_000;
const LEAF_VALIDITY_DAYS: i64 = 90;
/// A cached leaf is replaced well before it expires, so a long-running daemon never serves a stale one.
const LEAF_REFRESH_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);
const SELF_CHECK_HOST: &str = "self-check.clauderon.invalid";

/// Validity from `days_back` days ago to `days_ahead` days from now (at midnight UTC, so
/// a little longer back: clocks in sessions may lag).
pub(super) fn set_validity(params: &mut CertificateParams, days_back: i64, days_ahead: i64) {
    let now = Utc::now();
    let day = |t: chrono::DateTime<Utc>| rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8);
    params.not_before = day(now - TimeDelta::days(days_back));
    params.not_after = day(now + TimeDelta::days(days_ahead));
}

/// A random positive 128-bit serial: leaves share one key, so the default (a hash of the
/// public key) would give them all the same serial.
pub(super) fn random_serial(provider: &CryptoProvider) -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; 16];
    provider.secure_random.fill(&mut bytes).map_err(|_| CaError::Generate("no system randomness".into()))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Lowercase, without a trailing dot or IPv6 brackets; refused unless a DNS name or IP address.
fn normalize_host(host: &str) -> Result<String, CaError> {
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let trimmed = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(trimmed);
    let lower = trimmed.to_ascii_lowercase();
    match ServerName::try_from(lower.as_str()) {
        Ok(_) if !lower.contains('*') => Ok(lower),
        _ => Err(CaError::InvalidHost(host.to_string())),
    }
}

pub(super) struct LeafIssuer {
    /// The CA as rcgen needs it to sign: its name and key identifier (rebuilt from the key).
    ca: rcgen::Certificate,
    ca_key: KeyPair,
    ca_der: CertificateDer<'static>,
    /// All leaves share one key, made at start and never stored: signing is all a new host costs.
    leaf_key: KeyPair,
    leaf_signer: Arc<dyn SigningKey>,
    provider: Arc<CryptoProvider>,
    cache: Mutex<LeafCache>,
}

impl fmt::Debug for LeafIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeafIssuer").finish_non_exhaustive()
    }
}

impl LeafIssuer {
    pub(super) fn new(
        ca_params: CertificateParams,
        ca_key: KeyPair,
        ca_der: CertificateDer<'static>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, CaError> {
        let generate = |e: String| CaError::Generate(e);
        let ca = ca_params.self_signed(&ca_key).map_err(|e| generate(e.to_string()))?;
        let leaf_key = KeyPair::generate().map_err(|e| generate(e.to_string()))?;
        let leaf_der =
            PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| generate(e.to_string()))?;
        let leaf_signer =
            provider.key_provider.load_private_key(leaf_der).map_err(|e| generate(e.to_string()))?;
        Ok(LeafIssuer {
            ca,
            ca_key,
            ca_der,
            leaf_key,
            leaf_signer,
            provider,
            cache: Mutex::new(LeafCache::new(LEAF_CACHE_CAPACITY)),
        })
    }

    pub(super) fn leaf_for(&self, host: &str) -> Result<Arc<CertifiedKey>, CaError> {
        let host = normalize_host(host)?;
        if let Some(hit) = self.cache.lock().unwrap_or_else(PoisonError::into_inner).get(&host) {
            return Ok(hit);
        }
        // Made outside the lock: two first requests for one host may both sign; the second
        // insert wins and both certificates are valid.
        let leaf = Arc::new(self.make_leaf(&host)?);
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).insert(host, leaf.clone());
        Ok(leaf)
    }

    fn make_leaf(&self, host: &str) -> Result<CertifiedKey, CaError> {
        let generate = |e: rcgen::Error| CaError::Generate(format!("{host}: {e}"));
        let mut params = CertificateParams::new(vec![host.to_string()])
            .map_err(|_| CaError::InvalidHost(host.to_string()))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if host.len() <= 64 {
            params.distinguished_name.push(DnType::CommonName, host);
        }
        params.is_ca = IsCa::NoCa;
        params.custom_extensions.push(end_entity_constraints());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial(&self.provider)?);
        set_validity(&mut params, 1, LEAF_VALIDITY_DAYS);
        let cert = params.signed_by(&self.leaf_key, &self.ca, &self.ca_key).map_err(generate)?;
        Ok(CertifiedKey::new(vec![cert.der().clone(), self.ca_der.clone()], self.leaf_signer.clone()))
    }

    /// Issue a leaf and verify it the way a client would, trusting only the CA certificate:
    /// proves the files on disk belong together and can still sign (e.g. not expired).
    pub(super) fn self_check(&self) -> Result<(), String> {
        let probe = self.make_leaf(SELF_CHECK_HOST).map_err(|e| e.to_string())?;
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).map_err(|e| format!("not a CA certificate ({e})"))?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from(SELF_CHECK_HOST).map_err(|e| e.to_string())?;
        let (leaf, chain) = probe.cert.split_first().ok_or("no certificate was issued")?;
        verifier
            .verify_server_cert(leaf, chain, &name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| format!("certificates it signs do not verify ({e})"))
    }

    pub(super) fn server_config(
        self: &Arc<Self>,
        default_host: Option<&str>,
    ) -> Result<Arc<ServerConfig>, CaError> {
        let default_host = default_host.map(normalize_host).transpose()?;
        let resolver = HostResolver { issuer: self.clone(), default_host };
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| CaError::Generate(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// Picks the leaf by SNI, or by the default host when the client sent none.
#[derive(Debug)]
pub(super) struct HostResolver {
    issuer: Arc<LeafIssuer>,
    default_host: Option<String>,
}

impl ResolvesServerCert for HostResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let host = client_hello.server_name().or(self.default_host.as_deref())?;
        match self.issuer.leaf_for(host) {
            Ok(leaf) => Some(leaf),
            Err(e) => {
                tracing::warn!(host, error = %e, "no certificate for TLS interception");
                None
            }
        }
    }
}

/// Bounded: when full, the oldest entry goes.
struct LeafCache {
    entries: HashMap<String, (Instant, Arc<CertifiedKey>)>,
    order: VecDeque<String>,
    capacity: usize,
}

impl LeafCache {
    fn new(capacity: usize) -> Self {
        LeafCache { entries: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    fn get(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        self.entries.get(host).filter(|(made, _)| made.elapsed() < LEAF_REFRESH_AFTER).map(|(_, k)| k.clone())
    }

    fn insert(&mut self, host: String, leaf: Arc<CertifiedKey>) {
        if let Some(slot) = self.entries.get_mut(&host) {
            *slot = (Instant::now(), leaf);
            return;
        }
        while self.entries.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            self.entries.remove(&oldest);
        }
        self.order.push_back(host.clone());
        self.entries.insert(host, (Instant::now(), leaf));
    }
}

/// basicConstraints for a certificate that is not a CA, critical: an empty SEQUENCE. `cA`
/// defaults to FALSE, and DER forbids writing a default, which rcgen's `IsCa::ExplicitNoCa`
/// does (`cA: FALSE`): strict parsers (Python's `cryptography`, and the tools built on it)
/// refuse such a certificate.
pub fn end_entity_constraints() -> rcgen::CustomExtension {
    const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
    let mut ext = rcgen::CustomExtension::from_oid_content(BASIC_CONSTRAINTS, vec![0x30, 0x00]);
    ext.set_criticality(true);
    ext
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalized_and_checked() {
        assert_eq!(normalize_host("API.Anthropic.com.").ok().as_deref(), Some("api.anthropic.com"));
        assert_eq!(normalize_host("[::1]").ok().as_deref(), Some("::1"));
        assert_eq!(normalize_host("127.0.0.1").ok().as_deref(), Some("127.0.0.1"));
        for bad in ["", "a b", "*.example.com", "exa\nmple.com", "a/b"] {
            assert!(matches!(normalize_host(bad), Err(CaError::InvalidHost(_))), "{bad:?}");
        }
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_oldest() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap_or_else(|e| panic!("{e}"));
        let signer = provider.key_provider.load_private_key(der).unwrap_or_else(|e| panic!("{e}"));
        let leaf = Arc::new(CertifiedKey::new(Vec::new(), signer));
        let mut cache = LeafCache::new(2);
        cache.insert("a".into(), leaf.clone());
        cache.insert("b".into(), leaf.clone());
        cache.insert("a".into(), leaf.clone());
        cache.insert("c".into(), leaf.clone());
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        assert_eq!((cache.entries.len(), cache.order.len()), (2, 2));
    }
}
