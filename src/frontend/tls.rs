//! The TLS handshake of a client of a `bind ... ssl` listener, run in the task that
//! serves the connection (never in the accept loop), within `timeout client`: the
//! ClientHello's SNI picks the certificate and the server configuration (`crt-list`
//! line options), then rustls completes the handshake. A failure ends only this
//! connection; it is counted and logged with HAProxy's words.

use super::stream::ClientStream;
use crate::sample::ssl::TlsInfo;
use crate::tls::server::BindTls;
use std::time::Duration;

/// Why a handshake failed, as HAProxy words it in its connection error log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HsError {
    /// The client closed before a complete ClientHello.
    Empty,
    /// A socket error.
    Abort,
    /// `timeout client` ran out.
    Timeout,
    /// The client's certificate is not valid: not issued by a `ca-file` CA, expired,
    /// revoked... (OpenSSL reports these at depth 0, which HAProxy words so).
    CrtFail,
    /// Anything else (no shared version or suite, no certificate for a `strict-sni`
    /// name, a required client certificate missing, not TLS at all).
    Handshake,
}

impl HsError {
    /// HAProxy's text.
    pub fn text(self) -> &'static str {
        match self {
            HsError::Empty => "Connection closed during SSL handshake",
            HsError::Abort => "Connection error during SSL handshake",
            HsError::Timeout => "Timeout during SSL handshake",
            HsError::CrtFail => "SSL client certificate not trusted",
            HsError::Handshake => "SSL handshake failure",
        }
    }

    /// A client that went away without a word (not logged with `dontlognull`).
    pub fn is_null(self) -> bool {
        matches!(self, HsError::Empty | HsError::Abort)
    }

    fn of(e: &std::io::Error) -> HsError {
        use rustls::Error as R;
        match e.get_ref().and_then(|x| x.downcast_ref::<R>()) {
            Some(R::InvalidCertificate(_)) => HsError::CrtFail,
            Some(_) => HsError::Handshake,
            None => match e.kind() {
                std::io::ErrorKind::UnexpectedEof => HsError::Empty,
                std::io::ErrorKind::InvalidData => HsError::Handshake,
                _ => HsError::Abort,
            },
        }
    }
}

/// Runs the handshake on `stream` within `limit`; the TLS stream and what the fetches
/// read of it.
pub async fn handshake(
    stream: ClientStream,
    bind: &BindTls,
    limit: Option<Duration>,
) -> Result<(ClientStream, TlsInfo), HsError> {
    let run = async {
        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let start = acceptor.await.map_err(|e| HsError::of(&e))?;
        let hello = start.client_hello();
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        let (set, config) = bind.config_for(sni.as_deref(), hello.alpn());
        let tls = start
            .into_stream(config)
            .await
            .map_err(|e| HsError::of(&e))?;
        Ok::<_, HsError>((tls, sni, set))
    };
    let (tls, sni, set) = match limit {
        Some(t) => tokio::time::timeout(t, run)
            .await
            .map_err(|_| HsError::Timeout)??,
        None => run.await?,
    };
    let mut info = info(tls.get_ref().1, sni, bind);
    // A certificate let through by `*-ignore-err`: what was wrong with it.
    if let (Some(v), Some(chain)) = (&set.strict, tls.get_ref().1.peer_certificates()) {
        info.verify = crate::tls::verify::verify_code(v.as_ref(), chain);
    }
    Ok((ClientStream::Tls(Box::new(tls)), info))
}

/// What the `ssl_*` fetches read of an established connection.
fn info(c: &rustls::ServerConnection, sni: Option<String>, bind: &BindTls) -> TlsInfo {
    let suite = c.negotiated_cipher_suite();
    let own_cert = bind
        .resolver
        .store
        .load()
        .lookup(sni.as_deref())
        .and_then(|e| e.cert.cert.first())
        .map(|d| d.as_ref().into());
    TlsInfo {
        alpn: c.alpn_protocol().map(<[u8]>::to_vec),
        version: match c.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            _ => "TLSv1.2",
        },
        cipher: suite.map_or("(none)", |s| crate::tls::server::suite_name(s.suite())),
        keysize: suite.map_or(0, |s| key_bits(s.suite())),
        client_cert: c
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|d| d.to_vec()),
        client_chain: c
            .peer_certificates()
            .filter(|chain| chain.len() > 1)
            .map(|chain| chain[1..].iter().flat_map(|d| d.iter().copied()).collect()),
        // A certificate that did not verify ended the handshake (unless let through).
        verify: 0,
        own_cert,
        resumed: c.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        sni,
    }
}

/// The symmetric key size of a suite in bits.
fn key_bits(s: rustls::CipherSuite) -> i64 {
    let name = format!("{s:?}");
    if name.contains("AES_128") {
        128
    } else {
        256
    }
}
