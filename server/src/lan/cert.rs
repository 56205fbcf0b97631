//! The LAN server's certificate: self-signed, made once and kept in the data directory (the
//! key readable by its owner only), so its fingerprint stays the same from one start to the
//! next and people who trusted it once are not asked again.

use crate::util;
use parlor_protocol::lan::fingerprint;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

const CERT_FILE: &str = "lan-certificate.pem";
const KEY_FILE: &str = "lan-key.pem";

pub struct LanCertificate {
    pub cert_der: CertificateDer<'static>,
    /// Built once, when the pair is read (which also proves the certificate is the key's).
    acceptor: TlsAcceptor,
    /// The certificate in PEM, for clients that pin it.
    pub cert_pem: String,
    /// SHA-256, as [`parlor_protocol::lan::fingerprint`] writes it.
    pub fingerprint: String,
}

impl LanCertificate {
    /// The certificate kept in `dir`, or a new one naming this machine, `localhost` and
    /// `addresses`.
    pub fn load_or_create(dir: &Path, addresses: &[IpAddr]) -> io::Result<Self> {
        // One at a time in this process: the server and whoever announces it (the desktop
        // app, `--lan`) may both ask at start, and two new pairs must not race to the disk.
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _alone = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        if cert_path.exists() && key_path.exists() {
            match Self::load(&cert_path, &key_path) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(error = %e, "LAN certificate unreadable; making a new one")
                }
            }
        }
        let host = util::host_name();
        let mut names = vec![
            "localhost".to_owned(),
            host.clone(),
            format!("{host}.local"),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        names.extend(
            addresses
                .iter()
                .filter(|a| !a.is_unspecified())
                .map(|a| a.to_string()),
        );
        names.dedup();
        let mut params = rcgen::CertificateParams::new(names).map_err(io::Error::other)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("Parlor on {host}"));
        let key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let cert = params.self_signed(&key).map_err(io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        // The key goes last: a pair is only ever read with the key that made it (a crash in
        // between leaves a mismatched pair, which `load` finds damaged).
        util::write_private(&cert_path, cert.pem().as_bytes())?;
        util::write_private(&key_path, key.serialize_pem().as_bytes())?;
        tracing::info!(path = %cert_path.display(), "made a LAN certificate");
        Self::load(&cert_path, &key_path)
    }

    fn load(cert_path: &Path, key_path: &Path) -> io::Result<Self> {
        let cert_pem = std::fs::read_to_string(cert_path)?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let key_pem = std::fs::read(key_path)?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        // A certificate that is not the key's is damaged, like an unreadable one.
        let acceptor = tls_acceptor(cert_der.clone(), key_der)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(Self {
            fingerprint: fingerprint(&cert_der),
            cert_der,
            acceptor,
            cert_pem,
        })
    }

    /// A TLS acceptor serving this certificate (HTTP/1.1 only: WebSocket upgrades need it).
    pub fn acceptor(&self) -> io::Result<TlsAcceptor> {
        Ok(self.acceptor.clone())
    }
}

fn tls_acceptor(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            LanCertificate::load_or_create(dir.path(), &["192.0.2.7".parse().unwrap()]).unwrap();
        let again = LanCertificate::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert!(first.acceptor().is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is its owner's alone");
        }
        // A damaged pair, or a certificate without its own key, is replaced rather than served.
        std::fs::write(dir.path().join(CERT_FILE), "not a certificate").unwrap();
        let replaced = LanCertificate::load_or_create(dir.path(), &[]).unwrap();
        assert_ne!(replaced.fingerprint, first.fingerprint);
        let other = tempfile::tempdir().unwrap();
        LanCertificate::load_or_create(other.path(), &[]).unwrap();
        std::fs::copy(other.path().join(KEY_FILE), dir.path().join(KEY_FILE)).unwrap();
        let rekeyed = LanCertificate::load_or_create(dir.path(), &[]).unwrap();
        assert_ne!(rekeyed.fingerprint, replaced.fingerprint);
        assert!(rekeyed.acceptor().is_ok());
    }

    #[test]
    fn asked_at_once_from_several_threads_there_is_one_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let fingerprints: Vec<String> = std::thread::scope(|s| {
            let asks: Vec<_> = (0..4)
                .map(|_| s.spawn(|| LanCertificate::load_or_create(dir.path(), &[]).unwrap()))
                .collect();
            asks.into_iter()
                .map(|a| a.join().unwrap().fingerprint)
                .collect()
        });
        assert!(
            fingerprints.windows(2).all(|w| w[0] == w[1]),
            "{fingerprints:?}"
        );
    }
}
