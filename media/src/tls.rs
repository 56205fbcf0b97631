//! How a client trusts the server it reaches over HTTPS/WSS: through the public web's
//! certificate authorities, or — for a server hosting on a local network with a self-signed
//! certificate — through that one certificate, named by its SHA-256 fingerprint (shown by the
//! host, checked and remembered by the person joining).

use base64::Engine;
use parlor_protocol::lan::{fingerprint, normalize_fingerprint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;

/// Which certificates a client accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Trust {
    /// Those the public web's authorities vouch for (a cloud deployment).
    #[default]
    Public,
    /// Exactly the certificate with this fingerprint, whatever it names (a LAN server).
    Pinned(String),
}

impl Trust {
    /// `Pinned` for a fingerprint as typed or pasted; an error naming the problem otherwise.
    pub fn pinned(text: &str) -> Result<Self, String> {
        normalize_fingerprint(text)
            .map(Trust::Pinned)
            .ok_or_else(|| format!("{text:?} is not a SHA-256 fingerprint (32 hex bytes)"))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts the one certificate whose fingerprint it holds, or — holding none — any
/// certificate, to read what a server presents. Handshake signatures are always checked, so
/// the server must hold the certificate's key.
#[derive(Debug)]
struct Fingerprinted {
    pin: Option<String>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Fingerprinted {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pin {
            Some(pin) if *pin != fingerprint(end_entity) => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn fingerprinted(pin: Option<String>) -> ClientConfig {
    let provider = provider();
    let verifier = Arc::new(Fingerprinted {
        pin,
        algorithms: provider.signature_verification_algorithms,
    });
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// The TLS settings for `trust` (HTTP/1.1, which WebSocket upgrades need).
pub fn client_config(trust: &Trust) -> Arc<ClientConfig> {
    let mut config = match trust {
        Trust::Pinned(pin) => fingerprinted(Some(pin.clone())),
        Trust::Public => {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default versions")
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// An HTTP client trusting as `trust` says.
pub fn http_client(trust: &Trust) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(client_config(trust)))
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// What a server presents: its certificate and the certificate's fingerprint.
#[derive(Clone, Debug)]
pub struct PresentedCertificate {
    pub der: Vec<u8>,
    pub fingerprint: String,
}

impl PresentedCertificate {
    /// The certificate in PEM.
    pub fn pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }
}

/// `host` and `port` of an `https://host:port/…` URL.
pub fn https_authority(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| format!("{url} is not an https:// address"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse() {
            Ok(port) => (h, port),
            Err(_) if authority.starts_with('[') && authority.ends_with(']') => (authority, 443),
            Err(_) => return Err(format!("{url}: bad port {p:?}")),
        },
        _ => (authority, 443),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{url} names no host"));
    }
    Ok((host.to_owned(), port))
}

/// Connects to an `https://` server and reads the certificate it presents, trusting nothing
/// yet: for showing its fingerprint to a person before they trust it.
pub async fn presented_certificate(url: &str) -> Result<PresentedCertificate, String> {
    let (host, port) = https_authority(url)?;
    let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(fingerprinted(None)));
    let reach = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("{host}:{port}: {e}"))?;
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{host}:{port}: TLS: {e}"))
    };
    let tls = tokio::time::timeout(Duration::from_secs(10), reach)
        .await
        .map_err(|_| format!("{host}:{port}: no answer in 10 s"))??;
    let der = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or_else(|| format!("{host}:{port} presented no certificate"))?;
    Ok(PresentedCertificate {
        fingerprint: fingerprint(&der),
        der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_addresses_are_split_into_host_and_port() {
        let a = |u: &str| https_authority(u).map_err(|_| ());
        assert_eq!(
            a("https://10.0.0.5:8080/m/x"),
            Ok(("10.0.0.5".into(), 8080))
        );
        assert_eq!(
            a("https://parlor.example"),
            Ok(("parlor.example".into(), 443))
        );
        assert_eq!(a("wss://h:9/ws"), Ok(("h".into(), 9)));
        assert_eq!(a("https://[::1]:8443/"), Ok(("::1".into(), 8443)));
        assert_eq!(a("https://[::1]/"), Ok(("::1".into(), 443)));
        assert!(a("http://h:1").is_err());
        assert!(a("https://h:port").is_err());
        assert!(a("https://:8080").is_err());
    }

    #[test]
    fn fingerprints_become_pins_only_when_well_formed() {
        assert!(Trust::pinned("AB").is_err());
        let fp = fingerprint(b"c");
        assert_eq!(Trust::pinned(&fp.replace(':', "")), Ok(Trust::Pinned(fp)));
    }
}
