//! The proxy's certificate authority: generated on first start, kept in the data dir
//! (`ca.pem` 0644, `ca-key.pem` 0600), and used to issue a leaf certificate per host,
//! on demand, for TLS interception.

mod leaf;
pub use leaf::end_entity_constraints;

use leaf::LeafIssuer;
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca-key.pem";
pub const CA_COMMON_NAME: &str = "clauderon proxy CA";
const CA_VALIDITY_DAYS: i64 = 3650;
/// ALPN protocols the proxy offers to sessions, preferred first.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("cannot write {}: {reason}", path.display())]
    Unwritable { path: PathBuf, reason: String },
    #[error("{} is readable by other users: run `chmod 600 {}`", path.display(), path.display())]
    KeyNotPrivate { path: PathBuf },
    #[error(
        "{} is not usable: {reason}. Delete {CA_CERT_FILE} and {CA_KEY_FILE} in {} to generate a new CA \
         (running sessions then need the new CA certificate)",
        path.display(), dir.display()
    )]
    Corrupt { path: PathBuf, dir: PathBuf, reason: String },
    #[error(
        "{} exists but its key {} does not: restore the key, or delete {} to generate a new CA \
         (running sessions then need the new CA certificate)",
        cert.display(), key.display(), cert.display()
    )]
    MissingKey { cert: PathBuf, key: PathBuf },
    #[error("cannot issue a certificate for `{0}`: it is not a DNS name or an IP address")]
    InvalidHost(String),
    #[error("certificate generation failed: {0}")]
    Generate(String),
}

/// The CA and the TLS configuration that presents its leaf certificates. Cheap to clone.
#[derive(Clone)]
pub struct CertificateAuthority {
    issuer: Arc<LeafIssuer>,
    config: Arc<ServerConfig>,
    cert_pem: Arc<str>,
    dir: PathBuf,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Load `dir/ca.pem` and `dir/ca-key.pem`, or generate them when there is no certificate yet.
    pub fn load_or_create(dir: &Path) -> Result<CertificateAuthority, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let exists = |p: &Path| {
            p.try_exists().map_err(|e| CaError::Unreadable { path: p.to_path_buf(), reason: e.to_string() })
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert_pem, key) = match (exists(&cert_path)?, exists(&key_path)?) {
            // A key without a certificate is left from an interrupted first start: no session
            // can trust it yet, so it is replaced.
            (false, _) => create(dir, &cert_path, &key_path, &provider)?,
            (true, false) => return Err(CaError::MissingKey { cert: cert_path, key: key_path }),
            (true, true) => load(dir, &cert_path, &key_path)?,
        };
        let corrupt =
            |reason: String| CaError::Corrupt { path: cert_path.clone(), dir: dir.to_path_buf(), reason };
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| corrupt(format!("no PEM certificate in it ({e})")))?;
        check_pair(&cert_der, &key, &provider).map_err(corrupt)?;
        let issuer = Arc::new(LeafIssuer::new(ca_params(), key, cert_der, provider)?);
        issuer.self_check().map_err(corrupt)?;
        let config = issuer.server_config(None)?;
        Ok(CertificateAuthority { issuer, config, cert_pem: cert_pem.into(), dir: dir.to_path_buf() })
    }

    /// The CA certificate, PEM: what sessions trust.
    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    /// One TLS configuration for every host: the certificate follows the client's SNI.
    /// A client that sends no SNI gets no certificate (the handshake fails); see
    /// [`server_config_for_host`](Self::server_config_for_host).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// Like [`server_config`](Self::server_config), but a client that sends no SNI (clients
    /// never send an IP address as SNI) gets the certificate for `host`, e.g. the CONNECT target.
    pub fn server_config_for_host(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        self.issuer.server_config(Some(host))
    }

    /// The leaf certificate and key for `host` (a DNS name or an IP address), chain
    /// `[leaf, ca]`, from the cache or made now.
    pub fn leaf_for(&self, host: &str) -> Result<Arc<CertifiedKey>, CaError> {
        self.issuer.leaf_for(host)
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_COMMON_NAME);
    name.push(DnType::OrganizationName, "clauderon");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn create(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<(String, KeyPair), CaError> {
    let generate = |e: rcgen::Error| CaError::Generate(e.to_string());
    let key = KeyPair::generate().map_err(generate)?;
    let mut params = ca_params();
    leaf::set_validity(&mut params, 1, CA_VALIDITY_DAYS);
    params.serial_number = Some(leaf::random_serial(provider)?);
    let cert = params.self_signed(&key).map_err(generate)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| CaError::Unwritable { path: dir.to_path_buf(), reason: e.to_string() })?;
    // The key first: a certificate on disk always has its key next to it.
    write_atomically(key_path, key.serialize_pem().as_bytes(), 0o600)?;
    let cert_pem = cert.pem();
    write_atomically(cert_path, cert_pem.as_bytes(), 0o644)?;
    tracing::info!(path = %cert_path.display(), "generated the proxy CA");
    Ok((cert_pem, key))
}

fn load(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(String, KeyPair), CaError> {
    let unreadable = |path: &Path, e: std::io::Error| CaError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(key_path).map_err(|e| unreadable(key_path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CaError::KeyNotPrivate { path: key_path.to_path_buf() });
    }
    let key_pem = std::fs::read_to_string(key_path).map_err(|e| unreadable(key_path, e))?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| CaError::Corrupt {
        path: key_path.to_path_buf(),
        dir: dir.to_path_buf(),
        reason: format!("not a PEM private key ({e})"),
    })?;
    let cert_pem = std::fs::read_to_string(cert_path).map_err(|e| unreadable(cert_path, e))?;
    Ok((cert_pem, key))
}

/// The certificate must carry the key's public half.
fn check_pair(
    cert: &CertificateDer<'static>,
    key: &KeyPair,
    provider: &CryptoProvider,
) -> Result<(), String> {
    let key_der = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| e.to_string())?;
    match CertifiedKey::from_der(vec![cert.clone()], key_der, provider) {
        Ok(_) => Ok(()),
        Err(rustls::Error::InconsistentKeys(_)) => Err(format!("it does not belong to {CA_KEY_FILE}")),
        Err(e) => Err(format!("not a certificate clauderon can use ({e})")),
    }
}

/// Write to a temporary file created with `mode`, then rename it over `path`: a reader
/// never sees a half-written file, and a key is never readable by others, even briefly.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let unwritable =
        |e: std::io::Error| CaError::Unwritable { path: path.to_path_buf(), reason: e.to_string() };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        // The umask may have removed bits from `mode` (a certificate must stay world-readable).
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(unwritable)
}
