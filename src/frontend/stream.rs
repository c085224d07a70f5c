//! The client side of a connection, whatever listener it came in on: a TCP stream, or
//! a unix stream (a unix or `abns@` bind, a socket passed over `sockpair@`), or a TLS
//! connection lbd terminates over either (`bind ... ssl`). Both proxies take a
//! [`ClientStream`]; the relay splits a plain one without a lock.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// An accepted connection, not registered with a reactor yet (the serving shard does).
#[derive(Debug)]
pub enum Accepted {
    /// A TCP connection.
    Tcp(std::net::TcpStream),
    /// A unix stream connection.
    Unix(std::os::unix::net::UnixStream),
}

impl crate::shard::Unregistered for Accepted {
    type Stream = ClientStream;
    fn register(self) -> io::Result<ClientStream> {
        Ok(match self {
            Accepted::Tcp(s) => ClientStream::Tcp(TcpStream::from_std(s)?),
            Accepted::Unix(s) => ClientStream::Unix(UnixStream::from_std(s)?),
        })
    }
}

/// A client connection registered with the serving shard's reactor.
#[derive(Debug)]
pub enum ClientStream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix stream connection.
    Unix(UnixStream),
    /// A TLS connection over one of the others (boxed: rustls' state is large).
    Tls(Box<TlsStream>),
}

/// A TLS connection lbd terminates.
pub type TlsStream = tokio_rustls::server::TlsStream<ClientStream>;

impl ClientStream {
    /// Readiness of the socket to read (bytes or the end of the stream), without
    /// reading. For TLS, see [`ClientStream::buffered`] too.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            ClientStream::Tcp(s) => s.poll_read_ready(cx),
            ClientStream::Unix(s) => s.poll_read_ready(cx),
            ClientStream::Tls(s) => s.get_ref().0.poll_read_ready(cx),
        }
    }

    /// Whether the TLS layer holds what the application has not read yet (decrypted
    /// bytes, records read from the socket, the peer's close): then waiting for the
    /// socket to be readable would wait for nothing.
    pub fn buffered(&mut self) -> bool {
        match self {
            ClientStream::Tls(s) => s.get_mut().1.process_new_packets().map_or(true, |st| {
                st.plaintext_bytes_to_read() > 0 || st.peer_has_closed()
            }),
            _ => false,
        }
    }

    /// The protocol ALPN selected on a TLS connection (`h2`, `http/1.1`).
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tls()?.alpn_protocol()
    }

    /// The TLS connection, when lbd terminates TLS on it.
    pub fn tls(&self) -> Option<&rustls::ServerConnection> {
        match self {
            ClientStream::Tls(s) => Some(s.get_ref().1),
            _ => None,
        }
    }
}

impl AsRawFd for ClientStream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            ClientStream::Tcp(s) => s.as_raw_fd(),
            ClientStream::Unix(s) => s.as_raw_fd(),
            ClientStream::Tls(s) => s.get_ref().0.as_raw_fd(),
        }
    }
}

/// Calls the same method on whichever stream it is.
macro_rules! either {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            ClientStream::Tcp($s) => $e,
            ClientStream::Unix($s) => $e,
            ClientStream::Tls($s) => $e,
        }
    };
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        either!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Tcp(s) => s.is_write_vectored(),
            ClientStream::Unix(s) => s.is_write_vectored(),
            ClientStream::Tls(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// A socket whose waiting bytes can be peeked at (the client's, a server's).
pub trait Peek: AsRawFd + Sync {
    /// Waits until it is readable; true when the peer has shut its side.
    fn wait_readable(&self) -> impl std::future::Future<Output = io::Result<bool>> + Send;
    /// Runs a non-blocking read `f`; WouldBlock clears the readiness it observed.
    fn try_read_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

macro_rules! peek_impl {
    ($t:ty) => {
        impl Peek for $t {
            async fn wait_readable(&self) -> io::Result<bool> {
                Ok(self
                    .ready(tokio::io::Interest::READABLE)
                    .await?
                    .is_read_closed())
            }
            fn try_read_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
                self.try_io(tokio::io::Interest::READABLE, f)
            }
        }
    };
}
peek_impl!(TcpStream);
peek_impl!(UnixStream);

/// Peeking reads the socket: a TLS stream's bytes there are records, not the
/// client's bytes (see [`Inspect`]).
impl Peek for ClientStream {
    async fn wait_readable(&self) -> io::Result<bool> {
        match self {
            ClientStream::Tcp(s) => s.wait_readable().await,
            ClientStream::Unix(s) => s.wait_readable().await,
            ClientStream::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
    fn try_read_io<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        match self {
            ClientStream::Tcp(s) => s.try_read_io(f),
            ClientStream::Unix(s) => s.try_read_io(f),
            ClientStream::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

/// A stream whose first bytes content rules read (`tcp-request content`,
/// `tcp-response content`).
pub trait Inspect: Send {
    /// Waits until more than `seen` bytes are in `buf`, or the peer has shut its side
    /// (then `seen` comes back); returns how many are there.
    fn more(
        &mut self,
        buf: &mut [u8],
        seen: usize,
    ) -> impl std::future::Future<Output = io::Result<usize>> + Send;
    /// Whether the bytes `more` gave were taken from the stream (TLS: decrypted bytes
    /// cannot be peeked at), so that the caller must pass them on itself.
    fn consumes(&self) -> bool;
}

impl Inspect for ClientStream {
    async fn more(&mut self, buf: &mut [u8], seen: usize) -> io::Result<usize> {
        match self {
            ClientStream::Tls(s) => {
                if seen >= buf.len() {
                    return Ok(seen);
                }
                let n = tokio::io::AsyncReadExt::read(s, &mut buf[seen..]).await?;
                Ok(seen + n)
            }
            _ => peek_more(&*self, buf, seen).await,
        }
    }
    fn consumes(&self) -> bool {
        matches!(self, ClientStream::Tls(_))
    }
}

impl Inspect for tokio::net::tcp::OwnedReadHalf {
    async fn more(&mut self, buf: &mut [u8], seen: usize) -> io::Result<usize> {
        peek_more(self.as_ref(), buf, seen).await
    }
    fn consumes(&self) -> bool {
        false
    }
}

/// Peeks at the bytes waiting on `s` (without consuming them) once there are more
/// than `seen` of them, or the peer has shut its side (then the same number may come
/// back; 0 at the end). Used to read a PROXY protocol header exactly, as HAProxy does
/// with `MSG_PEEK`, and to inspect a payload that must still reach the other side.
pub async fn peek_more<S: Peek>(s: &S, buf: &mut [u8], seen: usize) -> io::Result<usize> {
    let fd = s.as_raw_fd();
    loop {
        // The peek runs inside `try_io`: when it finds nothing new, the readiness
        // observed before it is cleared (an event arriving after it is kept).
        let closed = s.wait_readable().await?;
        match s.try_read_io(|| peek_once(fd, buf, seen, closed)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// One `MSG_PEEK`; WouldBlock when no byte beyond `seen` is there yet (and more can
/// come: the buffer has room and the client has not shut its side).
fn peek_once(fd: RawFd, buf: &mut [u8], seen: usize, closed: bool) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; `fd` is an open socket.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n > 0 && n == seen && n < buf.len() && !closed {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    Ok(n)
}
