//! Unix stream listeners as HAProxy sets them up: a socket file is bound at a
//! temporary name (`PATH.PID.tmp`), given its `mode`/`uid`/`gid`, then renamed over
//! the final path (so a stale file or a previous process's socket is replaced in one
//! step and clients never see a socket with the wrong permissions); `abns@` names
//! live in Linux's abstract namespace (no file). Also: receiving the connected sockets
//! a `sockpair@` peer passes (SCM_RIGHTS), and turning an accepted socket into a
//! client stream.

use super::stream::Accepted;
use crate::config::model::UnixPerms;
use socket2::{SockAddr, Socket};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A failed step and the system's error.
type StepError = (&'static str, io::Error);

/// Binds and listens on the socket file `path` with `perms`, through a temporary name
/// renamed over `path`.
pub fn bind_file(path: &str, perms: UnixPerms, backlog: i32) -> Result<Socket, StepError> {
    let tmp = format!("{path}.{}.tmp", std::process::id());
    if tmp.len() > crate::config::value::UNIX_PATH_MAX {
        return Err((
            "name too long for UNIX socket (limit usually 97)",
            io::Error::from_raw_os_error(libc::ENAMETOOLONG),
        ));
    }
    let _ = std::fs::remove_file(&tmp);
    let l =
        std::os::unix::net::UnixListener::bind(&tmp).map_err(|e| ("cannot bind UNIX socket", e))?;
    let undo = |e: StepError| {
        let _ = std::fs::remove_file(&tmp);
        e
    };
    if perms.uid.is_some() || perms.gid.is_some() {
        std::os::unix::fs::chown(&tmp, perms.uid, perms.gid)
            .map_err(|e| undo(("cannot change UNIX socket ownership", e)))?;
    }
    if let Some(mode) = perms.mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| undo(("cannot change UNIX socket ownership", e)))?;
    }
    let s = listening(l.into(), backlog).map_err(undo)?;
    std::fs::rename(&tmp, path)
        .map_err(|e| undo(("cannot switch final and temporary UNIX sockets", e)))?;
    Ok(s)
}

/// Binds and listens on the abstract-namespace name of `abns@NAME`.
pub fn bind_abns(name: &str, backlog: i32) -> Result<Socket, StepError> {
    let addr = crate::config::value::abns_addr(name).map_err(|e| ("cannot bind UNIX socket", e))?;
    let l = std::os::unix::net::UnixListener::bind_addr(&addr)
        .map_err(|e| ("cannot bind UNIX socket", e))?;
    listening(l.into(), backlog)
}

/// A bound unix socket made non-blocking with the bind's backlog (close-on-exec
/// already: the standard library sets it).
fn listening(fd: OwnedFd, backlog: i32) -> Result<Socket, StepError> {
    let s = Socket::from(fd);
    s.set_nonblocking(true)
        .map_err(|e| ("cannot set non-blocking mode", e))?;
    s.listen(backlog)
        .map_err(|e| ("cannot listen to UNIX socket", e))?;
    Ok(s)
}

/// An accepted socket as a client stream: TCP with its peer's address, or unix.
pub fn accepted(s: Socket, peer: &SockAddr) -> io::Result<(Accepted, Option<SocketAddr>)> {
    if let Some(a) = peer.as_socket() {
        return Ok((Accepted::Tcp(s.into()), Some(a)));
    }
    if peer.is_unix() {
        return Ok((Accepted::Unix(OwnedFd::from(s).into()), None));
    }
    Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
}

/// Receives one connected socket passed over the `sockpair@` socket `fd` with
/// SCM_RIGHTS, as HAProxy's `sockpair_accept_conn` does (one descriptor per message).
/// A message without exactly one descriptor is an `EPROTO` error (the caller skips
/// it); the end of the stream is `UnexpectedEof`.
pub fn recv_fd(fd: RawFd) -> io::Result<(Accepted, Option<SocketAddr>)> {
    let mut data = [0u8; 2];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for a few descriptors, so that extra ones are received and closed.
    let mut control = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; it points at `iov` and `control`, which live
    // until recvmsg returns; the kernel writes at most the lengths given.
    let (n, msg) = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT);
        (n, msg)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel wrote into `control`, with the
    // length it set in `msg`; each SCM_RIGHTS payload is an array of descriptors that
    // are now ours.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if n == 0 && fds.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if fds.len() != 1 {
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    }
    let s = Socket::from(fds.remove(0));
    s.set_nonblocking(true)?;
    let peer = s.peer_addr().or_else(|_| s.local_addr())?;
    accepted(s, &peer)
}
