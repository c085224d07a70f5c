//! Parsers (nom) for the values that keywords take: times, sizes, addresses, port
//! ranges, `balance` expressions and status lists. Each returns a message fit to
//! follow `parsing [file:line] : ` when the value is bad.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, map_res, opt};
use nom::sequence::{delimited, pair, preceded};
use nom::IResult;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

thread_local! {
    static OFFLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Stops `resolve` from asking the system resolver, on the calling thread only: a
/// hostname then resolves to 127.0.0.1, except names under `.invalid`, which fail. For
/// the fuzzer: real lookups send arbitrary names to DNS and can wait 5 s for a timeout.
pub fn set_offline_resolution(on: bool) {
    OFFLINE.with(|o| o.set(on));
}

fn number(i: &str) -> IResult<&str, u64> {
    map_res(digit1, str::parse::<u64>)(i)
}

fn time_unit(i: &str) -> IResult<&str, &str> {
    alt((tag("us"), tag("ms"), tag("s"), tag("m"), tag("h"), tag("d")))(i)
}

/// Parses a HAProxy time: a number with `us`, `ms` (default), `s`, `m`, `h` or `d`.
pub fn time(s: &str) -> Result<Duration, String> {
    let parsed: IResult<&str, (u64, Option<&str>)> = all_consuming(pair(number, opt(time_unit)))(s);
    let (_, (n, unit)) = parsed.map_err(|_| format!("unexpected character in time value '{s}'"))?;
    let d = match unit.unwrap_or("ms") {
        "us" => Some(Duration::from_micros(n)),
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => n.checked_mul(86400).map(Duration::from_secs),
    };
    match d {
        // HAProxy keeps times in milliseconds in an int: ~24.8 days at most.
        Some(d) if d.as_millis() <= i32::MAX as u128 => Ok(d),
        _ => Err(format!(
            "timer overflow in argument '{s}' (maximum value is 2147483647 ms or ~24.8 days)"
        )),
    }
}

/// Parses a size with an optional `k`, `m` or `g` suffix (powers of 1024).
pub fn size(s: &str) -> Result<u64, String> {
    let parsed: IResult<&str, (u64, Option<char>)> = all_consuming(pair(
        number,
        opt(alt((
            char('k'),
            char('K'),
            char('m'),
            char('M'),
            char('g'),
            char('G'),
        ))),
    ))(s);
    let (_, (n, suffix)) = parsed.map_err(|_| format!("invalid size '{s}'"))?;
    let mul: u64 = match suffix.map(|c| c.to_ascii_lowercase()) {
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        _ => 1,
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("size '{s}' is too large"))
}

/// Parses an unsigned integer within `lo..=hi`.
pub fn int_in(s: &str, lo: u64, hi: u64, what: &str) -> Result<u64, String> {
    let parsed: IResult<&str, u64> = all_consuming(number)(s);
    match parsed {
        Ok((_, n)) if (lo..=hi).contains(&n) => Ok(n),
        Ok(_) => Err(format!("{what} must be between {lo} and {hi} (got '{s}')")),
        Err(_) => Err(format!("{what} expects an integer argument (got '{s}')")),
    }
}

/// A set of ids like `1`, `2-4` or `0,2,5-7` (each at most `max`), ascending and
/// without duplicates.
fn id_set(s: &str, max: usize, what: &str) -> Result<Vec<usize>, String> {
    let bad = || {
        format!("{what}: invalid set '{s}' (expected numbers or ranges like 0-3, comma separated)")
    };
    let mut out = Vec::new();
    for part in s.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| bad())?;
        let hi: usize = hi.parse().map_err(|_| bad())?;
        if lo > hi {
            return Err(bad());
        }
        if hi > max {
            return Err(format!(
                "{what}: '{hi}' is above the highest allowed ({max})"
            ));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `cpu-map [auto:]<group>[/<threads>] <cpu-set>...` (the words after the keyword).
/// `None`: the line maps a process or thread group other than lbd's one (group 1).
pub fn cpu_map(w: &[String]) -> Result<Option<crate::config::model::CpuMap>, String> {
    let (Some(spec), true) = (w.first(), w.len() >= 2) else {
        return Err(
            "'cpu-map' expects a thread set and a CPU set, e.g. 'cpu-map 1/all 0-3'.".into(),
        );
    };
    let (auto, spec) = match spec.strip_prefix("auto:") {
        Some(rest) => (true, rest),
        None => (false, spec.as_str()),
    };
    let (group, threads) = match spec.split_once('/') {
        Some((g, t)) => (g, Some(t)),
        None => (spec, None),
    };
    if group != "all" && !id_set(group, 4096, "'cpu-map'")?.contains(&1) {
        return Ok(None);
    }
    let threads = match threads {
        None | Some("all") => None,
        Some(t) => {
            let ids = id_set(t, 4096, "'cpu-map'")?;
            if ids.contains(&0) {
                return Err("'cpu-map': threads are numbered from 1.".into());
            }
            Some(ids.into_iter().map(|i| i as u32).collect::<Vec<_>>())
        }
    };
    let mut cpus = Vec::new();
    for c in &w[1..] {
        cpus.extend(id_set(c, libc::CPU_SETSIZE as usize - 1, "'cpu-map'")?);
    }
    cpus.sort_unstable();
    cpus.dedup();
    if auto {
        if let Some(t) = &threads {
            if t.len() != cpus.len() {
                return Err(format!(
                    "'cpu-map auto:' needs as many CPUs as threads ({} threads, {} CPUs).",
                    t.len(),
                    cpus.len()
                ));
            }
        }
    }
    Ok(Some(crate::config::model::CpuMap {
        auto,
        threads,
        cpus,
    }))
}

fn port(i: &str) -> IResult<&str, u16> {
    map_res(digit1, str::parse::<u16>)(i)
}

fn port_range(i: &str) -> IResult<&str, (u16, Option<u16>)> {
    pair(port, opt(preceded(char('-'), port)))(i)
}

/// Splits `host:port` where the port is the text after the last colon and an IPv6
/// address may be bracketed. Returns (host, port text).
pub(crate) fn split_host_port(s: &str) -> (&str, Option<&str>) {
    let bracketed: IResult<&str, &str> =
        delimited(char('['), take_while1(|c: char| c != ']'), char(']'))(s);
    if let Ok((rest, host)) = bracketed {
        return match rest.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None => (host, if rest.is_empty() { None } else { Some(rest) }),
        };
    }
    match s.rfind(':') {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    }
}

fn bind_host(host: &str) -> Result<IpAddr, String> {
    match host {
        "" | "*" | "0.0.0.0" => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "::" => Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        h => {
            let h = h
                .strip_prefix("ipv4@")
                .or_else(|| h.strip_prefix("ipv6@"))
                .unwrap_or(h);
            if let Ok(ip) = h.parse::<IpAddr>() {
                return Ok(ip);
            }
            resolve(h, 0).map(|a| a.ip())
        }
    }
}

/// Parses one `bind` argument: `[addr]:port[-port][,[addr]:port...]` into socket
/// addresses, one per port.
pub fn bind_addrs(s: &str) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        if part.starts_with('/') || part.starts_with("unix@") || part.starts_with("abns@") {
            return Err(format!(
                "unix socket address '{part}' must be the only address of its 'bind' line"
            ));
        }
        if part.starts_with("fd@") || part.starts_with("sockpair@") {
            return Err(format!(
                "'{part}' must be the only address of its 'bind' line"
            ));
        }
        if part.starts_with("quic") {
            return Err(format!(
                "bind address family of '{part}' is not supported by lbd"
            ));
        }
        let (host, port_text) = split_host_port(part);
        let Some(port_text) = port_text else {
            return Err(format!("missing port number: '{part}'"));
        };
        let parsed: IResult<&str, (u16, Option<u16>)> = all_consuming(port_range)(port_text);
        let (lo, hi) = match parsed {
            Ok((_, (lo, hi))) => (lo, hi.unwrap_or(lo)),
            Err(_) => return Err(format!("invalid port range '{port_text}' in '{part}'")),
        };
        if lo == 0 || hi < lo {
            return Err(format!("invalid port range '{port_text}' in '{part}'"));
        }
        let ip =
            bind_host(host).map_err(|e| format!("invalid address '{host}' in '{part}': {e}"))?;
        for p in lo..=hi {
            out.push(SocketAddr::new(ip, p));
        }
    }
    Ok(out)
}

/// The kind of an inherited socket (`fd@N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inherited {
    /// A TCP listening socket on this address.
    Tcp(SocketAddr),
    /// A unix stream listening socket, and its path (empty when unnamed; an abstract
    /// name is written `abns@NAME`).
    Unix(String),
}

/// The longest unix socket path: `sun_path` holds 108 bytes with the final NUL.
pub const UNIX_PATH_MAX: usize = 107;

/// A unix socket path of a `bind` or `stats socket` (`/path` or `unix@path`), checked
/// for length as HAProxy does.
pub fn unix_path(spec: &str) -> Result<String, String> {
    let path = spec.strip_prefix("unix@").unwrap_or(spec);
    if path.is_empty() {
        return Err("empty unix socket path".into());
    }
    if path.len() > UNIX_PATH_MAX {
        return Err(format!(
            "socket path '{path}' too long (max {UNIX_PATH_MAX})"
        ));
    }
    Ok(path.to_string())
}

/// The name of an `abns@NAME` address, checked for length.
pub fn abns_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("empty abstract socket name in 'abns@'".into());
    }
    if name.len() > UNIX_PATH_MAX {
        return Err(format!(
            "socket path '{name}' too long (max {UNIX_PATH_MAX})"
        ));
    }
    Ok(name.to_string())
}

/// The abstract-namespace address of `abns@NAME` as HAProxy forms it: the whole of
/// `sun_path` (a NUL, the name, NUL padding), so lbd and HAProxy reach each other's
/// `abns@` sockets.
pub fn abns_addr(name: &str) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    let mut padded = name.as_bytes().to_vec();
    padded.resize(UNIX_PATH_MAX, 0);
    std::os::unix::net::SocketAddr::from_abstract_name(padded)
}

/// `sockpair@N`: the descriptor must be an open unix stream socket (one end of a
/// socketpair over which connections are passed).
pub fn sockpair_fd(text: &str) -> Result<i32, String> {
    let fd: i32 = text
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("invalid file descriptor number in 'sockpair@{text}'"))?;
    // SAFETY: only borrowed for getsockname/getsockopt; `SockRef` never closes it.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    let local = sock
        .local_addr()
        .map_err(|e| format!("cannot use 'sockpair@{fd}': {}", super::io_text(&e)))?;
    if !local.is_unix() || !matches!(sock.r#type(), Ok(socket2::Type::STREAM)) {
        return Err(format!("'sockpair@{fd}' is not a unix stream socket"));
    }
    Ok(fd)
}

/// The descriptor systemd's socket activation passed under `name`: `LISTEN_FDNAMES`
/// (colon-separated) names the `LISTEN_FDS` descriptors from 3 on, when `LISTEN_PID`
/// is this process.
fn listen_fd_named(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<i32> {
    let pid: u32 = env("LISTEN_PID")?.trim().parse().ok()?;
    if pid != std::process::id() {
        return None;
    }
    let count: usize = env("LISTEN_FDS")?.trim().parse().ok()?;
    let names = env("LISTEN_FDNAMES")?;
    let idx = names.split(':').take(count).position(|n| n == name)?;
    i32::try_from(3 + idx).ok()
}

/// Looks at the file descriptor of an `fd@N` address (`N` a number, or a name from
/// systemd's `LISTEN_FDNAMES`): it must be an open stream socket, set up by the parent
/// process. Only reads the descriptor's address and type; the socket is taken over
/// when listeners open.
pub fn inherited_fd(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(i32, Inherited), String> {
    let fd: i32 = match text.parse::<i32>() {
        Ok(n) if n >= 0 => n,
        Ok(_) => return Err(format!("invalid file descriptor number in 'fd@{text}'")),
        Err(_) => listen_fd_named(text, env).ok_or_else(|| {
            format!("'fd@{text}': no socket named '{text}' was passed by systemd (LISTEN_FDNAMES)")
        })?,
    };
    // SAFETY: the descriptor is only borrowed for getsockname/getsockopt; it is not
    // closed here (`SockRef` never closes).
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    let local = sock
        .local_addr()
        .map_err(|e| format!("cannot use 'fd@{fd}': {}", super::io_text(&e)))?;
    match sock.r#type() {
        Ok(socket2::Type::STREAM) => {}
        _ => return Err(format!("'fd@{fd}' is not a stream socket")),
    }
    match local.as_socket() {
        Some(a) => Ok((fd, Inherited::Tcp(a))),
        None if local.is_unix() => Ok((fd, Inherited::Unix(unix_name(&local)))),
        None => Err(format!(
            "'fd@{fd}' has an address family lbd does not support"
        )),
    }
}

/// The uid of user `name` (from the password database).
pub fn user_id(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: zeroed passwd is a valid out-parameter; getpwnam_r writes into `pw` and
    // `buf` (of the length given) and sets `out` to `&pw` on success.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out = std::ptr::null_mut();
        let rc = libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out);
        (rc == 0 && !out.is_null()).then_some(pw.pw_uid)
    }
}

/// The gid of group `name` (from the group database).
pub fn group_id(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 65536];
    // SAFETY: as in `user_id`, with getgrnam_r.
    unsafe {
        let mut gr: libc::group = std::mem::zeroed();
        let mut out = std::ptr::null_mut();
        let rc = libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut out);
        (rc == 0 && !out.is_null()).then_some(gr.gr_gid)
    }
}

/// How a unix socket address is written: its path, `abns@NAME`, or "" when unnamed.
fn unix_name(a: &socket2::SockAddr) -> String {
    if let Some(p) = a.as_pathname() {
        return p.display().to_string();
    }
    match a.as_abstract_namespace() {
        Some(n) => {
            let n = n
                .iter()
                .rposition(|b| *b != 0)
                .map_or(&n[..0], |e| &n[..=e]);
            format!("abns@{}", String::from_utf8_lossy(n))
        }
        None => String::new(),
    }
}

/// Resolves a hostname (or IP) at load time.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    if host.is_empty() {
        return Err("empty address".into());
    }
    if host.contains('<') || host.contains('>') || host.contains('{') || host.contains('}') {
        return Err(format!(
            "'{host}' looks like an unfilled placeholder, not an address"
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if OFFLINE.with(|o| o.get()) {
        if host.ends_with(".invalid") {
            return Err(format!("could not resolve address '{host}'"));
        }
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("could not resolve address '{host}': {e}"))?
        .next()
        .ok_or_else(|| format!("could not resolve address '{host}'"))
}

/// The unix socket of a server address (`/path`, `unix@path`: the path; `abns@NAME`:
/// `abns@NAME`), checked as HAProxy checks a bind's; None for other address forms.
pub fn server_unix(s: &str) -> Option<Result<String, String>> {
    if let Some(name) = s.strip_prefix("abns@") {
        return Some(abns_name(name).map(|n| format!("abns@{n}")));
    }
    (s.starts_with('/') || s.starts_with("unix@")).then(|| unix_path(s))
}

/// Expands the `${NAME}` of an address as HAProxy's `str2sa_range` does (also
/// outside double quotes): a variable that is not set expands to nothing.
pub fn env_expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let Some(end) = rest[i + 2..].find('}') else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str(&env(&rest[i + 2..i + 2 + end]).unwrap_or_default());
        rest = &rest[i + 3 + end..];
    }
    out.push_str(rest);
    out
}

/// Parses a server address `host[:port]`; returns (host, resolved, has_port).
pub fn server_addr(s: &str) -> Result<(String, SocketAddr, bool), String> {
    for prefix in ["unix@", "abns@", "/", "sockpair@", "fd@"] {
        if s.starts_with(prefix) {
            return Err(format!(
                "server address family of '{s}' is not supported by lbd"
            ));
        }
    }
    let s2 = s
        .strip_prefix("ipv4@")
        .or_else(|| s.strip_prefix("ipv6@"))
        .unwrap_or(s);
    // A bare IPv6 address without brackets has no port.
    if s2.parse::<Ipv6Addr>().is_ok() {
        return Ok((s2.to_string(), resolve(s2, 0)?, false));
    }
    let (host, port_text) = split_host_port(s2);
    let (port, has_port) = match port_text {
        None | Some("") => (0, false),
        Some(p) => {
            if p.starts_with('+') || p.starts_with('-') {
                return Err(format!(
                    "relative server port '{p}' in '{s}' is not supported by lbd"
                ));
            }
            let parsed: IResult<&str, u16> = all_consuming(port)(p);
            match parsed {
                Ok((_, 0)) | Err(_) => {
                    return Err(format!("invalid port '{p}' in server address '{s}'"))
                }
                Ok((_, n)) => (n, true),
            }
        }
    };
    let addr = resolve(host, port)?;
    Ok((host.to_string(), addr, has_port))
}

/// Parses a network `a.b.c.d[/len]`, `a.b.c.d/m.a.s.k` or an IPv6 prefix.
pub fn network(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("'{s}' is not a valid IPv4 or IPv6 address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => match (ip, l.parse::<Ipv4Addr>()) {
                (IpAddr::V4(_), Ok(mask)) => {
                    let m = u32::from(mask);
                    if m.leading_ones() + m.trailing_zeros() != 32 {
                        return Err(format!("'{s}' has a non-contiguous netmask"));
                    }
                    m.leading_ones() as u8
                }
                _ => return Err(format!("'{s}' has an invalid prefix length")),
            },
        },
    };
    Ok((ip, len))
}

fn ident(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')(i)
}

/// Parses `name(arg)` or `name`; returns (name, arg).
pub fn call(s: &str) -> Option<(&str, Option<&str>)> {
    let parsed: IResult<&str, (&str, Option<&str>)> = all_consuming(pair(
        ident,
        opt(delimited(
            char('('),
            nom::bytes::complete::take_while(|c| c != ')'),
            char(')'),
        )),
    ))(s);
    parsed.ok().map(|(_, v)| v)
}

/// Parses a status list like `200,300-310`.
pub fn status_list(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let parsed: IResult<&str, (u16, Option<u16>)> = all_consuming(port_range)(part);
        match parsed {
            Ok((_, (lo, hi))) => {
                let hi = hi.unwrap_or(lo);
                if !(100..=999).contains(&lo) || !(100..=999).contains(&hi) || hi < lo {
                    return Err(format!("invalid status range '{part}'"));
                }
                out.push((lo, hi));
            }
            Err(_) => return Err(format!("invalid status code or range '{part}'")),
        }
    }
    Ok(out)
}

/// Parses a syslog facility name to its number.
pub fn facility(s: &str) -> Option<u8> {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
        "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    NAMES.iter().position(|n| *n == s).map(|p| p as u8)
}

/// Parses a syslog level name to its number.
pub fn level(s: &str) -> Option<u8> {
    const NAMES: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    NAMES.iter().position(|n| *n == s).map(|p| p as u8)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_maps() {
        use crate::config::model::CpuMap;
        let m = |s: &str| super::cpu_map(&s.split(' ').map(String::from).collect::<Vec<_>>());
        let map = |auto, threads: Option<Vec<u32>>, cpus: Vec<usize>| {
            Ok(Some(CpuMap {
                auto,
                threads,
                cpus,
            }))
        };
        assert_eq!(m("1/all 0-3"), map(false, None, vec![0, 1, 2, 3]));
        assert_eq!(m("1 1"), map(false, None, vec![1]));
        assert_eq!(m("all 2,0"), map(false, None, vec![0, 2]));
        assert_eq!(m("1/2 3 1"), map(false, Some(vec![2]), vec![1, 3]));
        assert_eq!(
            m("auto:1/1-4 0-3"),
            map(true, Some(vec![1, 2, 3, 4]), vec![0, 1, 2, 3])
        );
        assert_eq!(m("auto:1/all 0-1"), map(true, None, vec![0, 1]));
        assert_eq!(m("2 2"), Ok(None), "another process");
        assert_eq!(m("2/1-2 0"), Ok(None), "another thread group");
        assert!(m("1/1").unwrap_err().contains("expects"));
        assert!(m("1/0 1").unwrap_err().contains("numbered from 1"));
        assert!(m("1/all 3-1").unwrap_err().contains("invalid set '3-1'"));
        assert!(m("1/all x").unwrap_err().contains("invalid set 'x'"));
        assert!(m("1/all 5000").unwrap_err().contains("above the highest"));
        assert!(m("auto:1/1-2 0-3")
            .unwrap_err()
            .contains("2 threads, 4 CPUs"));
    }

    use super::*;

    #[test]
    fn times_with_every_unit() {
        assert_eq!(time("100").unwrap(), Duration::from_millis(100));
        assert_eq!(time("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(time("5ms").unwrap(), Duration::from_millis(5));
        assert_eq!(time("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(time("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(time("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(time("1d").unwrap(), Duration::from_secs(86400));
    }

    #[test]
    fn bad_times_are_rejected() {
        assert!(time("").is_err());
        assert!(time("10x").is_err());
        assert!(time("-1s").is_err());
        assert!(time("1.5s").is_err());
        assert!(time("30d").unwrap_err().contains("timer overflow"));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("16384").unwrap(), 16384);
        assert_eq!(size("1k").unwrap(), 1024);
        assert_eq!(size("2m").unwrap(), 2 << 20);
        assert!(size("1t").is_err());
    }

    #[test]
    fn bind_forms() {
        let v4 = |p| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), p);
        assert_eq!(bind_addrs(":80").unwrap(), [v4(80)]);
        assert_eq!(bind_addrs("*:80").unwrap(), [v4(80)]);
        assert_eq!(bind_addrs("0.0.0.0:80").unwrap(), [v4(80)]);
        assert_eq!(
            bind_addrs(":::443").unwrap(),
            [SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 443)]
        );
        assert_eq!(
            bind_addrs("[::1]:8080").unwrap(),
            ["[::1]:8080".parse().unwrap()]
        );
        assert_eq!(
            bind_addrs("127.0.0.1:8000-8002").unwrap(),
            [
                "127.0.0.1:8000".parse().unwrap(),
                "127.0.0.1:8001".parse().unwrap(),
                "127.0.0.1:8002".parse().unwrap()
            ]
        );
        assert_eq!(
            bind_addrs("127.0.0.1:80,:81").unwrap(),
            ["127.0.0.1:80".parse().unwrap(), v4(81)]
        );
        assert_eq!(
            bind_addrs("ipv4@127.0.0.1:80").unwrap(),
            ["127.0.0.1:80".parse().unwrap()]
        );
    }

    #[test]
    fn bad_binds() {
        assert!(bind_addrs("127.0.0.1")
            .unwrap_err()
            .contains("missing port"));
        assert!(bind_addrs(":0").is_err());
        assert!(bind_addrs(":90-80").is_err());
        assert!(bind_addrs(":70000").is_err());
        assert!(bind_addrs(":80,/var/run/x.sock")
            .unwrap_err()
            .contains("only address"));
        assert!(unix_path(&"x".repeat(108))
            .unwrap_err()
            .contains("too long"));
        assert_eq!(unix_path("unix@/run/a.sock").unwrap(), "/run/a.sock");
    }

    #[test]
    fn server_addresses() {
        let (h, a, p) = server_addr("127.0.0.1:8080").unwrap();
        assert_eq!(
            (h.as_str(), a, p),
            ("127.0.0.1", "127.0.0.1:8080".parse().unwrap(), true)
        );
        let (_, a, p) = server_addr("10.0.0.1").unwrap();
        assert_eq!((a.port(), p), (0, false));
        let (_, a, _) = server_addr("[::1]:81").unwrap();
        assert_eq!(a, "[::1]:81".parse().unwrap());
        let (_, a, p) = server_addr("::1").unwrap();
        assert_eq!((a.ip(), p), ("::1".parse::<IpAddr>().unwrap(), false));
        let (_, a, _) = server_addr("localhost:80").unwrap();
        assert!(a.ip().is_loopback());
    }

    #[test]
    fn bad_server_addresses() {
        assert!(server_addr("<ip>:80").unwrap_err().contains("placeholder"));
        assert!(server_addr("1.2.3.4:0").is_err());
        let env = |n: &str| (n == "P").then(|| "81".to_string());
        assert_eq!(env_expand("${A}:${P}", &env), ":81");
        assert_eq!(env_expand("x${P", &env), "x${P");
        assert!(server_addr("1.2.3.4:x").is_err());
        assert!(server_addr("no-such-host.invalid:80")
            .unwrap_err()
            .contains("could not resolve"));
    }

    #[test]
    fn unix_server_addresses() {
        assert_eq!(
            server_unix("/run/app.sock"),
            Some(Ok("/run/app.sock".into()))
        );
        assert_eq!(server_unix("unix@rel.sock"), Some(Ok("rel.sock".into())));
        assert_eq!(server_unix("abns@app"), Some(Ok("abns@app".into())));
        assert!(server_unix("abns@").unwrap().is_err());
        assert!(server_unix("unix@").unwrap().is_err());
        assert_eq!(server_unix("10.0.0.1:80"), None);
        assert_eq!(server_unix("sockpair@3"), None);
    }

    #[test]
    fn offline_resolution_answers_without_dns() {
        set_offline_resolution(true);
        let (_, a, _) = server_addr("app.internal:8080").unwrap();
        assert_eq!(a, "127.0.0.1:8080".parse().unwrap());
        assert!(server_addr("no-such-host.invalid:80").is_err());
        assert_eq!(
            server_addr("10.1.2.3:80").unwrap().1,
            "10.1.2.3:80".parse().unwrap()
        );
        set_offline_resolution(false);
    }

    #[test]
    fn networks() {
        assert_eq!(
            network("10.0.0.0/8").unwrap(),
            ("10.0.0.0".parse().unwrap(), 8)
        );
        assert_eq!(network("10.1.2.3").unwrap().1, 32);
        assert_eq!(network("10.0.0.0/255.255.0.0").unwrap().1, 16);
        assert_eq!(network("::1/128").unwrap().1, 128);
        assert!(network("10.0.0.0/33").is_err());
        assert!(network("10.0.0.0/255.0.255.0").is_err());
        assert!(network("nope").is_err());
    }

    #[test]
    fn calls_and_statuses() {
        assert_eq!(call("hdr(host)"), Some(("hdr", Some("host"))));
        assert_eq!(call("random"), Some(("random", None)));
        assert_eq!(call("hdr(host"), None);
        assert_eq!(
            status_list("200,300-310").unwrap(),
            [(200, 200), (300, 310)]
        );
        assert!(status_list("2xx").is_err());
        assert!(status_list("310-300").is_err());
    }

    #[test]
    fn ranges_and_syslog_names() {
        assert_eq!(int_in("256", 0, 256, "weight").unwrap(), 256);
        assert!(int_in("257", 0, 256, "weight").is_err());
        assert_eq!(facility("local0"), Some(16));
        assert_eq!(level("info"), Some(6));
        assert_eq!(facility("local9"), None);
    }
}
