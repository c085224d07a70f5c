//! Listening sockets (socket2): SO_REUSEADDR, a backlog, `v4v6`/`v6only`.

use crate::config::model::Bind;
use socket2::{Domain, Protocol, Socket, Type};

/// Default listen backlog when the bind has no `backlog`.
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Opens a listening socket for a `bind` address.
///
/// The error text is HAProxy's: `cannot bind socket (Address already in use)
/// [127.0.0.1:80]`.
pub fn open(b: &Bind) -> Result<std::net::TcpListener, String> {
    let err = |what: &str, e: std::io::Error| {
        format!("{what} ({}) [{}]", crate::config::io_text(&e), b.addr)
    };
    let domain = if b.addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| err("cannot create listening socket", e))?;
    s.set_reuse_address(true)
        .map_err(|e| err("cannot set SO_REUSEADDR", e))?;
    if b.addr.is_ipv6() {
        if let Some(only) = b.v6only {
            s.set_only_v6(only)
                .map_err(|e| err("cannot set IPV6_V6ONLY", e))?;
        }
    }
    s.set_nonblocking(true)
        .map_err(|e| err("cannot set non-blocking mode", e))?;
    s.bind(&b.addr.into())
        .map_err(|e| err("cannot bind socket", e))?;
    let backlog = b
        .backlog
        .map_or(DEFAULT_BACKLOG, |v| v.min(i32::MAX as u32) as i32);
    s.listen(backlog)
        .map_err(|e| err("cannot listen to socket", e))?;
    Ok(s.into())
}
