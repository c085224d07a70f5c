//! Listening sockets (socket2): SO_REUSEADDR, TCP_NODELAY, a backlog, `v4v6`/`v6only`
//! for IP binds; unix stream sockets (`unix.rs`); and accepting on them.

use super::stream::Accepted;
use crate::config::model::{Bind, BindAddr};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use tokio::io::unix::AsyncFd;

/// What a listening socket accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TCP connections.
    Tcp,
    /// Unix stream connections (a socket file, `abns@`, or an inherited one).
    Unix,
    /// Connected sockets passed over a socketpair (`sockpair@N`).
    SockPair,
}

/// A socket opened for a `bind`, not registered with a reactor yet.
#[derive(Debug)]
pub struct Opened {
    /// The socket.
    pub sock: Socket,
    /// What it accepts.
    pub kind: Kind,
}

/// A listening socket registered with the reactor of the thread that accepts on it.
///
/// Not a `tokio::net::TcpListener`: its `accept` registers each new connection with
/// the accepting thread's reactor, and a connection served by another thread then
/// costs a deregistration and a second registration (two `epoll_ctl` calls).
#[derive(Debug)]
pub struct Listening {
    io: AsyncFd<Socket>,
    kind: Kind,
}

impl Listening {
    /// Registers an opened socket with the calling thread's reactor.
    pub fn register(o: Opened) -> std::io::Result<Listening> {
        // SAFETY: the socket owns its descriptor, open and the same until the
        // `AsyncFd` drops it.
        let io = unsafe { AsyncFd::register_with_interest(o.sock, tokio::io::Interest::READABLE) }?;
        Ok(Listening { io, kind: o.kind })
    }

    /// What it accepts.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The IP address it listens on (none for a unix socket).
    pub fn local_inet(&self) -> Option<SocketAddr> {
        match self.kind {
            Kind::Tcp => self.io.get_ref().local_addr().ok()?.as_socket(),
            _ => None,
        }
    }
}

impl AsRawFd for Listening {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

/// Waits for and accepts one connection, non-blocking and close-on-exec, registered
/// with no reactor yet: the thread that serves it registers it. Returns the client's
/// IP address for a TCP connection. A connection that failed between the handshake and
/// `accept` is skipped (see [`retry_accept`]). On a `sockpair@` socket, a connected
/// socket received over it; the end of that stream (the sender closed it) is an
/// `UnexpectedEof` error, after which nothing more comes.
pub async fn accept(l: &Listening) -> std::io::Result<(Accepted, Option<SocketAddr>)> {
    loop {
        let mut ready = l.io.readable().await?;
        match ready.try_io(|s| match l.kind {
            Kind::SockPair => super::unix::recv_fd(s.get_ref().as_raw_fd()),
            _ => {
                let (s, addr) =
                    SockRef::from(s.get_ref()).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
                super::unix::accepted(s, &addr)
            }
        }) {
            Ok(Err(e)) if retry_accept(&e) => continue,
            Ok(r) => return r,
            Err(_would_block) => continue,
        }
    }
}
/// Whether an `accept` error concerns only the connection being accepted, so the next
/// one can be accepted at once: an interrupted call, a connection aborted while it
/// waited, and the network errors Linux passes on from a pending connection (accept(2):
/// "treat them like EAGAIN by retrying"). Anything else (out of descriptors or memory)
/// makes the accept loop log it and back off.
fn retry_accept(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EINTR
                | libc::ECONNABORTED
                | libc::EPROTO
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
        )
    )
}

/// Default listen backlog when the bind has no `backlog`.
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Why a listening socket could not be opened: the step that failed, the system's
/// error and the address. Displayed in HAProxy's words: `cannot bind socket (Address
/// already in use) [127.0.0.1:80]`.
#[derive(Debug, thiserror::Error)]
#[error("{step} ({}) [{addr}]", crate::config::io_text(.source))]
pub struct ListenError {
    /// What lbd was doing, e.g. `cannot bind socket`.
    pub step: &'static str,
    /// The address of the `bind`.
    pub addr: BindAddr,
    /// The system's error.
    pub source: std::io::Error,
}

/// The backlog of a bind.
fn backlog(b: &Bind) -> i32 {
    b.backlog
        .map_or(DEFAULT_BACKLOG, |v| v.min(i32::MAX as u32) as i32)
}

/// Takes over a descriptor the parent process passed for bind `b` (`fd@N`,
/// `sockpair@N`).
fn take_over(b: &Bind, fd: RawFd, kind: Kind) -> Result<Opened, ListenError> {
    let err = |step: &'static str| {
        move |source: std::io::Error| ListenError {
            step,
            addr: b.addr.clone(),
            source,
        }
    };
    // SAFETY: the parent process handed this descriptor to lbd for this bind (the
    // config checked it is a stream socket of this family); lbd owns it from here.
    let s = unsafe { <Socket as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    s.set_cloexec(true).map_err(err("cannot set FD_CLOEXEC"))?;
    s.set_nonblocking(true)
        .map_err(err("cannot set non-blocking mode"))?;
    if kind == Kind::Tcp {
        s.set_nodelay(true).map_err(err("cannot set TCP_NODELAY"))?;
    }
    if kind != Kind::SockPair {
        s.listen(backlog(b))
            .map_err(err("cannot listen to socket"))?;
    }
    Ok(Opened { sock: s, kind })
}

/// Opens a listening socket for a `bind` address, or takes over the inherited one of
/// an `fd@N` or `sockpair@N` bind.
pub fn open(b: &Bind) -> Result<Opened, ListenError> {
    let err = |step: &'static str| {
        move |source: std::io::Error| ListenError {
            step,
            addr: b.addr.clone(),
            source,
        }
    };
    if let Some(fd) = b.fd {
        let kind = match b.addr {
            BindAddr::Inet(_) => Kind::Tcp,
            _ => Kind::Unix,
        };
        return take_over(b, fd, kind);
    }
    let addr = match &b.addr {
        BindAddr::Inet(a) => *a,
        BindAddr::Unix(path) => {
            let sock = super::unix::bind_file(path, b.perms, backlog(b))
                .map_err(|(step, source)| err(step)(source))?;
            return Ok(Opened {
                sock,
                kind: Kind::Unix,
            });
        }
        BindAddr::Abns(name) => {
            let sock = super::unix::bind_abns(name, backlog(b))
                .map_err(|(step, source)| err(step)(source))?;
            return Ok(Opened {
                sock,
                kind: Kind::Unix,
            });
        }
        BindAddr::SockPair(fd) => return take_over(b, *fd, Kind::SockPair),
    };
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
        .map_err(err("cannot create listening socket"))?;
    s.set_reuse_address(true)
        .map_err(err("cannot set SO_REUSEADDR"))?;
    if addr.is_ipv6() {
        if let Some(only) = b.v6only {
            s.set_only_v6(only).map_err(err("cannot set IPV6_V6ONLY"))?;
        }
    }
    s.set_nonblocking(true)
        .map_err(err("cannot set non-blocking mode"))?;
    // Accepted connections inherit it on Linux: no setsockopt per connection.
    s.set_nodelay(true).map_err(err("cannot set TCP_NODELAY"))?;
    s.bind(&addr.into()).map_err(err("cannot bind socket"))?;
    s.listen(backlog(b))
        .map_err(err("cannot listen to socket"))?;
    Ok(Opened {
        sock: s,
        kind: Kind::Tcp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn bind_any() -> Bind {
        Bind {
            addr: BindAddr::Inet("127.0.0.1:0".parse().unwrap()),
            fd: None,
            id: None,
            perms: Default::default(),
            v6only: None,
            backlog: None,
            name: None,
            accept_proxy: false,
            proto: None,
            loc: Default::default(),
        }
    }

    #[test]
    fn accept_retries_errors_of_one_connection_and_backs_off_on_the_others() {
        use std::io::Error;
        for e in [
            libc::ECONNABORTED,
            libc::EINTR,
            libc::EPROTO,
            libc::ENETUNREACH,
        ] {
            assert!(retry_accept(&Error::from_raw_os_error(e)), "{e}");
        }
        for e in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EINVAL,
        ] {
            assert!(!retry_accept(&Error::from_raw_os_error(e)), "{e}");
        }
        assert!(!retry_accept(&Error::other("not from the system")));
    }

    #[tokio::test]
    async fn accepted_connections_are_nodelay_nonblocking_cloexec_and_unregistered() {
        let opened = open(&bind_any()).expect("open");
        let addr = opened.sock.local_addr().unwrap().as_socket().unwrap();
        let l = Listening::register(opened).expect("register");
        assert_eq!(l.local_inet(), Some(addr));
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (s, peer) = accept(&l).await.expect("accept");
        assert_eq!(peer, Some(client.local_addr().unwrap()));
        let Accepted::Tcp(s) = s else {
            panic!("a TCP listener accepted {s:?}")
        };
        // TCP_NODELAY inherited from the listening socket.
        assert!(s.nodelay().unwrap(), "accepted socket without TCP_NODELAY");
        // Non-blocking: nothing to read is WouldBlock, not a wait.
        let mut buf = [0u8; 1];
        let e = std::io::Read::read(&mut (&s), &mut buf).expect_err("read on an empty socket");
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        // Close-on-exec, so a reload's child or a check command does not inherit it.
        // SAFETY: F_GETFD on a descriptor we own.
        let flags = unsafe { libc::fcntl(s.as_raw_fd(), libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0, "no FD_CLOEXEC");
        // Unregistered: the thread that serves it registers it.
        let s = tokio::net::TcpStream::from_std(s).expect("register the connection");
        client.try_write(b"x").expect("write");
        s.readable().await.expect("readable");
        assert_eq!(s.try_read(&mut buf).expect("read"), 1);
    }
}
