//! TLS towards servers (`server ... ssl`, `check-ssl`): one rustls client
//! configuration per server for its traffic and one for its checks, built from the
//! server's settings and the global `ssl-default-server-*` / `ssl-server-verify`.
//!
//! Verification follows HAProxy: with `verify required` the chain must lead to a
//! `ca-file` certificate (and pass its `crl-file`); the name checked is `verifyhost`,
//! else the SNI sent, else none (an IP address is never checked against the
//! certificate). Each configuration keeps its own session cache, so the second
//! connection to a server resumes the first one's TLS session (`no-ssl-reuse`: never).

use crate::config::model::{ServerSettings, SrvTlsDefaults, SrvVerify};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, SignatureScheme};
use std::net::IpAddr;
use std::sync::Arc;

/// Sessions remembered per server configuration.
const SESSIONS: usize = 256;

/// The TLS contexts of one server.
#[derive(Debug)]
pub struct ServerTls {
    /// For its traffic (`ssl`), None when only its checks use TLS.
    pub traffic: Option<Arc<ClientConfig>>,
    /// For its checks (`check-ssl`, or `ssl` without a check `port`/`addr`).
    pub check: Option<Arc<ClientConfig>>,
    /// `check-sni`.
    pub check_sni: Option<ServerName<'static>>,
    /// The server's `alpn` (a `tcp-check connect ssl` without `alpn` offers it).
    pub alpn: Vec<Vec<u8>>,
    /// The name a connection without SNI uses: the server's address (no SNI is sent
    /// for an address).
    pub addr: ServerName<'static>,
    /// `crt`: the client certificate (`commit ssl cert` swaps it).
    pub client_cert: Option<Arc<super::srvcert::ClientCert>>,
    /// The session caches of its configurations (emptied when the certificate
    /// changes).
    pub sessions: Vec<Arc<super::srvcert::Sessions>>,
}

impl ServerTls {
    /// The name to open a connection with: `sni` when it is a valid DNS name, else
    /// the server's address (no SNI extension).
    pub fn name(&self, sni: Option<&str>) -> ServerName<'static> {
        sni.and_then(|s| ServerName::try_from(s.to_ascii_lowercase()).ok())
            .unwrap_or_else(|| self.addr.clone())
    }
}

/// Builds the TLS contexts of a server at `ip`; None when it uses no TLS. `connects`:
/// its backend has a `tcp-check connect ssl` rule (a check context is needed then,
/// as for `check-ssl`). Err: a message for `[ALERT]` (an unreadable file, a cipher
/// list with nothing usable).
pub fn build(
    s: &ServerSettings,
    g: &SrvTlsDefaults,
    ip: IpAddr,
    connects: bool,
    files: &super::cafile::TrustFiles,
) -> Result<Option<ServerTls>, String> {
    let t = &s.tls;
    let check_tls = s.check_tls() || connects;
    if !t.ssl && !check_tls {
        return Ok(None);
    }
    let provider = {
        let mut p = rustls::crypto::ring::default_provider();
        let tls12 = match t.ciphers.as_ref().or(g.ciphers.as_ref()) {
            Some(list) => super::suites::tls12(list)?,
            None => p
                .cipher_suites
                .iter()
                .filter(|c| c.tls13().is_none())
                .copied()
                .collect(),
        };
        let tls13 = match t.ciphersuites.as_ref().or(g.ciphersuites.as_ref()) {
            Some(list) => super::suites::tls13(list)?,
            None => p
                .cipher_suites
                .iter()
                .filter(|c| c.tls13().is_some())
                .copied()
                .collect(),
        };
        p.cipher_suites = tls13.into_iter().chain(tls12).collect();
        Arc::new(p)
    };
    let versions = if t.versions.is_set() {
        t.versions
    } else {
        g.versions
    };
    let verifier: Arc<dyn ServerCertVerifier> = match t.verify.unwrap_or(g.verify) {
        SrvVerify::None => Arc::new(NoVerify(provider.clone())),
        SrvVerify::Required => {
            let ca = t
                .ca_file
                .as_ref()
                .ok_or("verify is enabled but no CA file specified.")?;
            let trust = super::pkix::Trust::load(files, ca, None, t.crl_file.as_deref())?;
            Arc::new(Verifier {
                trust,
                algs: provider.signature_verification_algorithms,
                host: t.verifyhost.clone(),
            })
        }
    };
    let cert = match &t.crt {
        Some(p) => {
            let ck = super::load_cert_key(p).map_err(|e| e.to_string())?;
            Some(Arc::new(super::srvcert::ClientCert {
                path: ck.path,
                cert: arc_swap::ArcSwap::new(ck.certified),
            }))
        }
        None => None,
    };
    let sessions = std::sync::Mutex::new(Vec::new());
    let config = |alpn: Option<&Vec<String>>| -> Result<Arc<ClientConfig>, String> {
        let b = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&super::suites::versions(&versions))
            .map_err(|e| format!("no usable TLS version: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let mut c = match &cert {
            Some(cc) => b.with_client_cert_resolver(cc.clone()),
            None => b.with_no_client_auth(),
        };
        c.alpn_protocols = alpn_bytes(alpn);
        c.resumption = if t.no_reuse {
            rustls::client::Resumption::disabled()
        } else {
            let store = Arc::new(super::srvcert::Sessions::new(SESSIONS));
            sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(store.clone());
            rustls::client::Resumption::store(store)
        };
        Ok(Arc::new(c))
    };
    Ok(Some(ServerTls {
        traffic: t.ssl.then(|| config(t.alpn.as_ref())).transpose()?,
        check: check_tls
            .then(|| config(t.check_alpn.as_ref().or(t.alpn.as_ref())))
            .transpose()?,
        check_sni: t
            .check_sni
            .as_ref()
            .and_then(|n| ServerName::try_from(n.to_ascii_lowercase()).ok()),
        addr: ServerName::IpAddress(ip.into()),
        alpn: alpn_bytes(t.alpn.as_ref()),
        client_cert: cert,
        sessions: sessions.into_inner().unwrap_or_else(|e| e.into_inner()),
    }))
}

/// An ALPN list as rustls takes it.
pub fn alpn_bytes(v: Option<&Vec<String>>) -> Vec<Vec<u8>> {
    v.map(|v| v.iter().map(|p| p.as_bytes().to_vec()).collect())
        .unwrap_or_default()
}

/// Why a handshake with a server failed, in the words of HAProxy's check results.
pub fn handshake_info(e: &std::io::Error) -> &'static str {
    let tls = e.get_ref().and_then(|i| i.downcast_ref::<Error>());
    match tls {
        Some(Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => "Server presented an SSL certificate different from the configured one",
        _ => "SSL handshake failure",
    }
}

/// `verify required`: the chain (and CRL) verification of [`super::pkix`]; the name
/// checked is `verifyhost`, else the SNI, else none, against the leaf's
/// subjectAltName DNS entries and CNs (as HAProxy's verify callback).
#[derive(Debug)]
struct Verifier {
    trust: super::pkix::Trust,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
    host: Option<String>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.trust
            .verify(end_entity, intermediates, now, super::pkix::Purpose::Server)?;
        let name = match (&self.host, server_name) {
            (Some(h), _) => h.to_ascii_lowercase(),
            (None, ServerName::DnsName(d)) => d.as_ref().to_ascii_lowercase(),
            // No name to check: the chain was good.
            (None, _) => return Ok(ServerCertVerified::assertion()),
        };
        if super::cert_names(end_entity)
            .iter()
            .any(|p| super::name_matches(p, &name))
        {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::NotValidForName))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
            .or_else(|e| super::verify_with_cert_key(message, cert, dss, &self.algs).map_err(|_| e))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
            .or_else(|e| super::verify_with_cert_key(message, cert, dss, &self.algs).map_err(|_| e))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// `verify none`: any certificate, but the handshake signatures still have to be
/// right.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
            .or_else(|e| super::verify_with_cert_key(message, cert, dss, algs).map_err(|_| e))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
            .or_else(|e| super::verify_with_cert_key(message, cert, dss, algs).map_err(|_| e))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Every server's TLS settings built once, for `-c` and before a reload: the errors
/// as `parsing [file:line] : 'server B/S' : ...` alerts.
pub fn check(cfg: &crate::config::model::Config) -> Vec<crate::config::Diag> {
    let mut out = Vec::new();
    let files = super::cafile::TrustFiles::default();
    for p in cfg.backends() {
        for s in &p.servers {
            let connects = p.check.connects_with_tls();
            if let Err(e) = build(
                &s.settings,
                &cfg.global.srv_tls,
                s.addr.ip(),
                connects,
                &files,
            ) {
                out.push(crate::config::Diag {
                    level: crate::config::Level::Alert,
                    loc: Some(s.loc.clone()),
                    msg: format!("'server {}/{}' : {e}", p.name, s.name),
                });
            }
        }
    }
    out
}
