//! A connection to a server: plain TCP or unix stream, or TLS over either
//! (`server ... ssl`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A connected server stream.
#[derive(Debug)]
pub enum ServerStream {
    /// Clear text over TCP.
    Plain(TcpStream),
    /// Clear text over a unix stream socket.
    Unix(UnixStream),
    /// TLS (the handshake is done).
    Tls(Box<tokio_rustls::client::TlsStream<Raw>>),
}

/// The socket under a server connection.
#[derive(Debug)]
pub enum Raw {
    /// TCP.
    Tcp(TcpStream),
    /// A unix stream socket (`server s1 /path`, `unix@`, `abns@`).
    Unix(UnixStream),
}

impl Raw {
    /// The clear-text server stream over this socket.
    pub fn plain(self) -> ServerStream {
        match self {
            Raw::Tcp(s) => ServerStream::Plain(s),
            Raw::Unix(s) => ServerStream::Unix(s),
        }
    }
}

/// Forwards the I/O traits to the socket of every variant.
macro_rules! each {
    ($v:expr, $s:ident => $e:expr) => {
        match $v {
            Raw::Tcp($s) => $e,
            Raw::Unix($s) => $e,
        }
    };
}

impl AsyncRead for Raw {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Raw {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write(cx, b))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

/// What a TLS connection to a server negotiated (the `ssl_bc*` fetches).
pub use crate::sample::conn::SrvTls;

impl ServerStream {
    /// The TCP connection underneath; None over a unix socket.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ServerStream::Plain(s) => Some(s),
            ServerStream::Unix(_) => None,
            ServerStream::Tls(t) => match t.get_ref().0 {
                Raw::Tcp(s) => Some(s),
                Raw::Unix(_) => None,
            },
        }
    }

    /// What TLS negotiated; None in clear text.
    pub fn tls_info(&self) -> Option<SrvTls> {
        let ServerStream::Tls(t) = self else {
            return None;
        };
        let c = t.get_ref().1;
        let suite = c.negotiated_cipher_suite().map(|s| s.suite());
        Some(SrvTls {
            alpn: c
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            protocol: match c.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
                _ => "TLSv1.2",
            },
            cipher: suite
                .and_then(crate::tls::suites::openssl_name)
                .unwrap_or("(NONE)"),
            keysize: suite.map_or(0, crate::tls::suites::key_bits),
            resumed: c.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
            chain: c
                .peer_certificates()
                .map(|chain| chain.iter().flat_map(|d| d.iter().copied()).collect()),
            leaf_len: c
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map_or(0, |d| d.len()),
        })
    }
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ServerStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write(cx, b),
            ServerStream::Unix(s) => Pin::new(s).poll_write(cx, b),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, b),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ServerStream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerStream::Plain(s) => s.is_write_vectored(),
            ServerStream::Unix(s) => s.is_write_vectored(),
            ServerStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ServerStream::Unix(s) => Pin::new(s).poll_flush(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ServerStream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The TLS handshake over a connected `tcp` (or unix) stream with `config`, as `name`
/// (SNI when it is a DNS name), bounded by `timeout`.
pub async fn tls_handshake(
    config: std::sync::Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
    tcp: Raw,
    timeout: Option<std::time::Duration>,
) -> Result<ServerStream, super::pool::ConnectError> {
    use super::pool::ConnectError;
    let hs = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
    let r = match timeout {
        Some(t) => tokio::time::timeout(t, hs)
            .await
            .map_err(|_| ConnectError::Timeout)?,
        None => hs.await,
    };
    r.map(|s| ServerStream::Tls(Box::new(s)))
        .map_err(|e| ConnectError::Tls(crate::tls::client::handshake_info(&e)))
}
