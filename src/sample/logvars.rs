//! The `%` variables of HAProxy's custom log format (manual section 8.2.4) and what an
//! access-log line knows besides the request: dates, timers, counts, byte counts and
//! the termination state ([`LogInfo`]). Outside an access log (header values, `set-var-fmt`)
//! the variables that need it render as HAProxy renders an unknown value: `-`, or -1
//! for a timer.

use super::expr::Env;
use std::io::Write;
use std::net::SocketAddr;
use std::time::SystemTime;

/// How a variable or sample is written: `%{+Q}`, `%{+X}`, `%{+E}`, and whether a
/// missing value is written `-` (log lines) or left empty (header values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `+Q`: between double quotes.
    pub quote: bool,
    /// `+X`: addresses, ports and some numbers in hexadecimal.
    pub hex: bool,
    /// `+E`: `"`, `\` and `]` escaped with a backslash.
    pub escape: bool,
    /// `+M`: a missing value is written `-` (the default in log formats).
    pub mandatory: bool,
}

/// A `%` variable of the custom log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogVar {
    /// `%o`: sets the flags of every variable after it.
    Defaults,
    BytesOut,
    BytesIn,
    ReqCookie,
    ResCookie,
    Hostname,
    Method,
    Path,
    PathOnly,
    Query,
    Uri,
    Version,
    UniqueId,
    Status,
    GmtDate,
    LocalDate,
    Th,
    Ti,
    TR,
    Tq,
    Tw,
    Tc,
    Tr,
    Ta,
    Td,
    Tt,
    Tu,
    Ts,
    ActConn,
    Backend,
    BeConn,
    BackendIp,
    BackendPort,
    BeQueue,
    ClientIp,
    ClientPort,
    Frontend,
    FeTransport,
    FeConn,
    FrontendIp,
    FrontendPort,
    LogCount,
    HdrReq,
    HdrReqList,
    HdrRes,
    HdrResList,
    Millis,
    Pid,
    Request,
    Retries,
    ReqCounter,
    Server,
    SrvConn,
    ServerIp,
    ServerPort,
    SrvQueue,
    SslCipher,
    SslVersion,
    AcceptDate,
    ReqDate,
    ReqGmtDate,
    ReqLocalDate,
    Term,
    TermCookie,
}

/// Names of the variables, as written after `%`.
pub const LOG_VARS: &[(&str, LogVar)] = &[
    ("o", LogVar::Defaults),
    ("B", LogVar::BytesOut),
    ("CC", LogVar::ReqCookie),
    ("CS", LogVar::ResCookie),
    ("H", LogVar::Hostname),
    ("HM", LogVar::Method),
    ("HP", LogVar::Path),
    ("HPO", LogVar::PathOnly),
    ("HQ", LogVar::Query),
    ("HU", LogVar::Uri),
    ("HV", LogVar::Version),
    ("ID", LogVar::UniqueId),
    ("ST", LogVar::Status),
    ("T", LogVar::GmtDate),
    ("Ta", LogVar::Ta),
    ("Tc", LogVar::Tc),
    ("Td", LogVar::Td),
    ("Th", LogVar::Th),
    ("Ti", LogVar::Ti),
    ("Tl", LogVar::LocalDate),
    ("Tq", LogVar::Tq),
    ("TR", LogVar::TR),
    ("Tr", LogVar::Tr),
    ("Ts", LogVar::Ts),
    ("Tt", LogVar::Tt),
    ("Tu", LogVar::Tu),
    ("Tw", LogVar::Tw),
    ("U", LogVar::BytesIn),
    ("ac", LogVar::ActConn),
    ("b", LogVar::Backend),
    ("bc", LogVar::BeConn),
    ("bi", LogVar::BackendIp),
    ("bp", LogVar::BackendPort),
    ("bq", LogVar::BeQueue),
    ("ci", LogVar::ClientIp),
    ("cp", LogVar::ClientPort),
    ("f", LogVar::Frontend),
    ("fc", LogVar::FeConn),
    ("fi", LogVar::FrontendIp),
    ("fp", LogVar::FrontendPort),
    ("ft", LogVar::FeTransport),
    ("hr", LogVar::HdrReq),
    ("hrl", LogVar::HdrReqList),
    ("hs", LogVar::HdrRes),
    ("hsl", LogVar::HdrResList),
    ("lc", LogVar::LogCount),
    ("ms", LogVar::Millis),
    ("pid", LogVar::Pid),
    ("r", LogVar::Request),
    ("rc", LogVar::Retries),
    ("rt", LogVar::ReqCounter),
    ("s", LogVar::Server),
    ("sc", LogVar::SrvConn),
    ("si", LogVar::ServerIp),
    ("sp", LogVar::ServerPort),
    ("sq", LogVar::SrvQueue),
    ("sslc", LogVar::SslCipher),
    ("sslv", LogVar::SslVersion),
    ("t", LogVar::AcceptDate),
    ("tr", LogVar::ReqDate),
    ("trg", LogVar::ReqGmtDate),
    ("trl", LogVar::ReqLocalDate),
    ("ts", LogVar::Term),
    ("tsc", LogVar::TermCookie),
];

impl LogVar {
    /// The variable named `name` exactly.
    pub fn named(name: &str) -> Option<LogVar> {
        LOG_VARS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// Whether the value is known only when the response has been sent (a log line
    /// renders these last).
    pub fn is_late(self) -> bool {
        use LogVar::*;
        matches!(
            self,
            BytesOut | BytesIn | Ta | Td | Tt | Tu | Term | TermCookie
        )
    }

    /// Whether the variable reads the response.
    pub fn needs_response(self) -> bool {
        matches!(
            self,
            LogVar::Status | LogVar::HdrRes | LogVar::HdrResList | LogVar::ResCookie
        )
    }
}

/// Connection counts of a log line: `%ac/%fc/%bc/%sc/%rc %sq/%bq`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounts {
    /// `%ac`: connections of the process.
    pub ac: u32,
    /// `%fc`: connections of the frontend.
    pub fc: u32,
    /// `%bc`: connections of the backend.
    pub bc: u32,
    /// `%sc`: connections of the server.
    pub sc: u32,
    /// `%rc`: retries.
    pub rc: u32,
    /// `%sq`: requests queued on the server before this one.
    pub sq: u32,
    /// `%bq`: requests queued on the backend before this one.
    pub bq: u32,
}

/// What is known only at the end of a request or connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEnd {
    /// `%B`: bytes sent to the client, headers included.
    pub bytes_out: u64,
    /// `%U`: bytes received from the client, headers included.
    pub bytes_in: u64,
    /// `%Tt`: milliseconds from the accept (http: from the start of the request's
    /// idle time) to the end.
    pub total: i64,
    /// `%tsc`: the termination state and cookie flags (`%ts` is the first two).
    pub term: [u8; 4],
}

impl Default for LogEnd {
    fn default() -> Self {
        LogEnd {
            bytes_out: 0,
            bytes_in: 0,
            total: -1,
            term: *b"----",
        }
    }
}

/// What an access-log line knows besides the request and response in [`Env`].
#[derive(Debug, Clone, Copy)]
pub struct LogInfo<'a> {
    /// A unix socket client's listener id (`%ci` is `unix`, `%cp` the id).
    pub unix_id: Option<u32>,
    /// `%t`: when the connection was accepted.
    pub accept: SystemTime,
    /// `%tr`: when the request began (the accept in tcp mode).
    pub request: SystemTime,
    /// `%si:%sp`: the server's address.
    pub server_addr: Option<SocketAddr>,
    /// The server is a unix socket: `%si`/`%bi` are `unix`, `%sp`/`%bp` 0 (HAProxy's
    /// words for a unix address).
    pub server_unix: bool,
    /// `%bi:%bp`: the address lbd connected to the server from.
    pub backend_src: Option<SocketAddr>,
    /// Connection counts.
    pub counts: LogCounts,
    /// `%lc`: the frontend's log line counter.
    pub log_count: u64,
    /// `%rt`: the process's request (or tcp session) counter.
    pub req_counter: u64,
    /// `%Th`, `%Ti`, `%TR`, `%Tw`, `%Tc`, `%Tr` in milliseconds; -1: not reached.
    pub th: i64,
    /// `%Ti`.
    pub ti: i64,
    /// `%TR`.
    pub treq: i64,
    /// `%Tw`.
    pub tw: i64,
    /// `%Tc`.
    pub tc: i64,
    /// `%Tr`.
    pub tr: i64,
    /// `%ST` when lbd answered without a response in `Env` (0 in tcp mode).
    pub status: u16,
    /// No response at all (the client left first): `%ST` is -1.
    pub no_response: bool,
    /// `%r`: the request line (`<BADREQ>` for an unparsable request).
    pub request_line: Option<&'a str>,
    /// Whether the frontend has capture slots (`%hr`, `%hs` are written at all).
    pub req_slots: bool,
    /// Likewise for response captures.
    pub res_slots: bool,
    /// The end (late values).
    pub end: LogEnd,
    /// The rule that ended its rule set last (file, line): `last_rule_file`,
    /// `last_rule_line`.
    pub last_rule: Option<(&'a str, u32)>,
}

impl Default for LogInfo<'_> {
    fn default() -> Self {
        LogInfo {
            unix_id: None,
            accept: SystemTime::UNIX_EPOCH,
            request: SystemTime::UNIX_EPOCH,
            server_addr: None,
            server_unix: false,
            backend_src: None,
            counts: LogCounts::default(),
            log_count: 0,
            req_counter: 0,
            th: -1,
            ti: -1,
            treq: -1,
            tw: -1,
            tc: -1,
            tr: -1,
            status: 0,
            no_response: false,
            request_line: None,
            req_slots: false,
            res_slots: false,
            end: LogEnd::default(),
            last_rule: None,
        }
    }
}

/// Adds when every part is known (-1 otherwise).
fn sum(parts: &[i64]) -> i64 {
    if parts.iter().any(|&p| p < 0) {
        -1
    } else {
        parts.iter().sum()
    }
}

impl LogInfo<'_> {
    /// The numbers (timers, counts, dates) without the borrowed request line.
    pub fn numbers(&self) -> LogInfo<'static> {
        LogInfo {
            unix_id: self.unix_id,
            accept: self.accept,
            request: self.request,
            server_addr: self.server_addr,
            server_unix: self.server_unix,
            backend_src: self.backend_src,
            counts: self.counts,
            log_count: self.log_count,
            req_counter: self.req_counter,
            th: self.th,
            ti: self.ti,
            treq: self.treq,
            tw: self.tw,
            tc: self.tc,
            tr: self.tr,
            status: self.status,
            no_response: self.no_response,
            request_line: None,
            req_slots: self.req_slots,
            res_slots: self.res_slots,
            end: self.end,
            last_rule: None,
        }
    }

    /// `%Tq` = `%Th + %Ti + %TR`.
    pub fn tq(&self) -> i64 {
        sum(&[self.th, self.ti, self.treq])
    }

    /// `%Ta`: `%Tt` without the handshake and idle time.
    fn ta(&self) -> i64 {
        let t = self.end.total;
        if t < 0 {
            return -1;
        }
        t - self.th.max(0) - self.ti.max(0)
    }

    /// `%Td`: `%Tt - (%Tq + %Tw + %Tc + %Tr)`; -1 without a server response.
    fn td(&self) -> i64 {
        let before = sum(&[self.tw, self.tc, self.tr.max(0)]);
        if before < 0 || self.end.total < 0 || (self.status != 0 && self.tr < 0) {
            return -1;
        }
        self.end.total - self.tq().max(0) - before
    }

    /// `%Tu`: `%Tt - %Ti`.
    fn tu(&self) -> i64 {
        if self.end.total < 0 {
            return -1;
        }
        self.end.total - self.ti.max(0)
    }
}

/// Writes `s` as a log string: quoted, escaped or `#XX`-encoded as asked; a missing
/// value is `-` when mandatory.
pub fn text(out: &mut Vec<u8>, s: Option<&[u8]>, f: Flags, encode: Option<&[u8]>) {
    if f.quote {
        out.push(b'"');
    }
    match s {
        Some(s) if !s.is_empty() => {
            for &c in s {
                if encode.is_some_and(|set| !(32..127).contains(&c) || set.contains(&c)) {
                    let _ = write!(out, "#{c:02X}");
                } else if f.escape && matches!(c, b'"' | b'\\' | b']') {
                    out.extend_from_slice(&[b'\\', c]);
                } else {
                    out.push(c);
                }
            }
        }
        _ if f.mandatory && !f.quote => out.push(b'-'),
        _ => {}
    }
    if f.quote {
        out.push(b'"');
    }
}

/// What `%r`, `%HU` and the like encode as `#XX` (besides control characters).
const URL_ENCODE: &[u8] = b"\"#";

fn int(out: &mut Vec<u8>, v: i64, f: Flags) {
    if f.quote {
        out.push(b'"');
    }
    let _ = write!(out, "{v}");
    if f.quote {
        out.push(b'"');
    }
}

/// A number that `+X` writes as hexadecimal of `width` digits.
fn hexable(out: &mut Vec<u8>, v: u64, f: Flags, width: usize) {
    if f.quote {
        out.push(b'"');
    }
    let _ = if f.hex {
        write!(out, "{v:0width$X}")
    } else {
        write!(out, "{v}")
    };
    if f.quote {
        out.push(b'"');
    }
}

fn ip(out: &mut Vec<u8>, a: Option<std::net::IpAddr>, f: Flags) {
    match a {
        Some(std::net::IpAddr::V4(v4)) if f.hex => {
            let o = v4.octets();
            let s = format!("{:02X}{:02X}{:02X}{:02X}", o[0], o[1], o[2], o[3]);
            text(out, Some(s.as_bytes()), f, None);
        }
        Some(a) => text(out, Some(a.to_string().as_bytes()), f, None),
        None => text(out, None, f, None),
    }
}

fn port(out: &mut Vec<u8>, p: Option<u16>, f: Flags) {
    match p {
        Some(p) => hexable(out, u64::from(p), f, 4),
        None => text(out, None, f, None),
    }
}

/// A date as HAProxy writes it: `%d/%b/%Y:%H:%M:%S` then `.mmm` or ` +0000` (UTC).
pub fn date_text(t: SystemTime, millis: bool) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (y, mon, day, rem) = civil(d.as_secs());
    let mut v = format!(
        "{day:02}/{}/{y}:{:02}:{:02}:{:02}",
        MONTHS[mon as usize - 1],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if millis {
        v.push_str(&format!(".{:03}", d.subsec_millis()));
    } else {
        v.push_str(" +0000");
    }
    v
}

fn date(out: &mut Vec<u8>, t: SystemTime, millis: bool, f: Flags) {
    text(out, Some(date_text(t, millis).as_bytes()), f, None);
}

/// Month abbreviations.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month from 1, day, seconds into the day) of seconds since the epoch, UTC
/// (Howard Hinnant's civil_from_days).
pub fn civil(secs: u64) -> (i64, u32, u32, u64) {
    let days = (secs / 86400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs % 86400)
}

/// Captured values as `%hr` writes them (`{a|b}`), or `%hrl` (`a b`, each quoted
/// with `+Q`).
fn captured(out: &mut Vec<u8>, slots: &[Option<String>], list: bool, f: Flags) {
    const HDR_ENCODE: &[u8] = b"\"#{|}";
    if list {
        for (i, v) in slots.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            text(out, v.as_deref().map(str::as_bytes), f, Some(HDR_ENCODE));
        }
        return;
    }
    if f.quote {
        out.push(b'"');
    }
    out.push(b'{');
    let plain = Flags {
        quote: false,
        mandatory: false,
        ..f
    };
    for (i, v) in slots.iter().enumerate() {
        if i > 0 {
            out.push(b'|');
        }
        text(
            out,
            v.as_deref().map(str::as_bytes),
            plain,
            Some(HDR_ENCODE),
        );
    }
    out.push(b'}');
    if f.quote {
        out.push(b'"');
    }
}

/// Writes variable `v`; false when it wrote nothing at all (`%hr` without capture
/// slots), which lets the next separator be skipped as HAProxy does.
pub fn write_var(v: LogVar, env: &Env<'_>, f: Flags, out: &mut Vec<u8>) -> bool {
    use LogVar::*;
    let none = LogInfo::default();
    let log = env.log.unwrap_or(&none);
    let s = |out: &mut Vec<u8>, v: Option<&str>| text(out, v.map(str::as_bytes), f, None);
    let url =
        |out: &mut Vec<u8>, v: Option<&str>| text(out, v.map(str::as_bytes), f, Some(URL_ENCODE));
    let uri = env.req.map(|r| r.uri);
    match v {
        Defaults => return false,
        BytesOut => int(out, log.end.bytes_out as i64, f),
        BytesIn => int(out, log.end.bytes_in as i64, f),
        ReqCookie | ResCookie => s(out, None),
        SslCipher => s(out, env.conn.and_then(|c| c.tls.as_ref()).map(|t| t.cipher)),
        SslVersion => s(
            out,
            env.conn.and_then(|c| c.tls.as_ref()).map(|t| t.version),
        ),
        Hostname => s(out, super::hash::hostname()),
        Method => url(out, env.req.map(|r| r.method)),
        Path => url(out, uri.map(|u| u.split('?').next().unwrap_or(u))),
        PathOnly => url(out, uri.map(path_only)),
        Query => url(out, uri.map(|u| u.find('?').map_or("", |i| &u[i..]))),
        Uri => url(out, uri),
        Version => s(
            out,
            env.req.map(|r| format!("HTTP/{}", r.version)).as_deref(),
        ),
        UniqueId => s(out, env.unique_id),
        Status if log.no_response => int(out, -1, f),
        Status => int(
            out,
            env.res
                .map_or(i64::from(log.status), |r| i64::from(r.status)),
            f,
        ),
        GmtDate | LocalDate => date(out, log.accept, false, f),
        AcceptDate => date(out, log.accept, true, f),
        ReqDate => date(out, log.request, true, f),
        ReqGmtDate | ReqLocalDate => date(out, log.request, false, f),
        Th => int(out, log.th, f),
        Ti => int(out, log.ti, f),
        TR => int(out, log.treq, f),
        Tq => int(out, log.tq(), f),
        Tw => int(out, log.tw, f),
        Tc => int(out, log.tc, f),
        Tr => int(out, log.tr, f),
        Ta => int(out, log.ta(), f),
        Td => int(out, log.td(), f),
        Tt => int(out, log.end.total, f),
        Tu => int(out, log.tu(), f),
        Ts => {
            let secs = log
                .accept
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            hexable(out, secs, f, 8)
        }
        Millis => {
            let ms = log
                .accept
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_millis());
            if f.hex {
                hexable(out, u64::from(ms), f, 2)
            } else {
                s(out, Some(&format!("{ms:03}")))
            }
        }
        ActConn => int(out, i64::from(log.counts.ac), f),
        FeConn => int(out, i64::from(log.counts.fc), f),
        BeConn => int(out, i64::from(log.counts.bc), f),
        SrvConn => int(out, i64::from(log.counts.sc), f),
        Retries => int(out, i64::from(log.counts.rc), f),
        SrvQueue => int(out, i64::from(log.counts.sq), f),
        BeQueue => int(out, i64::from(log.counts.bq), f),
        Backend => s(out, env.be.or(env.fe).map(|n| n.name)),
        Frontend => s(out, env.fe.map(|n| n.name)),
        // HAProxy marks a TLS client connection with `~`.
        FeTransport => {
            s(out, env.fe.map(|n| n.name));
            if env.fe.is_some() && env.conn.is_some_and(|c| c.tls.is_some()) {
                out.push(b'~');
            }
        }
        Server => s(out, Some(env.srv.map_or("<NOSRV>", |n| n.name))),
        ClientIp => match log.unix_id {
            Some(_) => s(out, Some("unix")),
            None => ip(out, env.src.map(|a| a.ip()), f),
        },
        ClientPort => match log.unix_id {
            Some(id) => hexable(out, u64::from(id), f, 4),
            None => port(out, env.src.map(|a| a.port()), f),
        },
        FrontendIp => ip(out, env.dst.map(|a| a.ip()), f),
        FrontendPort => port(out, env.dst.map(|a| a.port()), f),
        BackendIp | ServerIp if log.server_unix => s(out, Some("unix")),
        BackendPort | ServerPort if log.server_unix => port(out, Some(0), f),
        BackendIp => ip(out, log.backend_src.map(|a| a.ip()), f),
        BackendPort => port(out, log.backend_src.map(|a| a.port()), f),
        ServerIp => ip(out, log.server_addr.map(|a| a.ip()), f),
        ServerPort => port(out, log.server_addr.map(|a| a.port()), f),
        LogCount => int(out, log.log_count as i64, f),
        ReqCounter => hexable(out, log.req_counter, f, 4),
        Pid => hexable(out, u64::from(std::process::id()), f, 4),
        Request => url(out, log.request_line),
        HdrReq | HdrReqList if !log.req_slots => return false,
        HdrRes | HdrResList if !log.res_slots => return false,
        HdrReq => captured(out, env.req_captures, false, f),
        HdrReqList => captured(out, env.req_captures, true, f),
        HdrRes => captured(out, env.res_captures, false, f),
        HdrResList => captured(out, env.res_captures, true, f),
        Term => s(out, std::str::from_utf8(&log.end.term[..2]).ok()),
        TermCookie => s(out, std::str::from_utf8(&log.end.term).ok()),
    }
    true
}

/// `%HPO`: the path of a request target, without scheme, authority nor query.
fn path_only(u: &str) -> &str {
    let u = u.split('?').next().unwrap_or(u);
    match u.find("://") {
        Some(i) => {
            let rest = &u[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => u,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_only_drops_scheme_authority_and_query() {
        assert_eq!(path_only("/a/b?x"), "/a/b");
        assert_eq!(path_only("http://h:8/r/3?q"), "/r/3");
        assert_eq!(path_only("http://h"), "/");
    }

    #[test]
    fn text_flags() {
        let f = Flags::default();
        let mut o = Vec::new();
        text(
            &mut o,
            None,
            Flags {
                mandatory: true,
                ..f
            },
            None,
        );
        text(&mut o, None, Flags { quote: true, ..f }, None);
        text(&mut o, Some(b"a\"]\\"), Flags { escape: true, ..f }, None);
        text(&mut o, Some(b"\"#\n"), f, Some(URL_ENCODE));
        assert_eq!(o, b"-\"\"a\\\"\\]\\\\#22#23#0A");
    }

    #[test]
    fn timers_derive_from_the_parts() {
        let l = LogInfo {
            th: 0,
            ti: 5,
            treq: 2,
            tw: 1,
            tc: 3,
            tr: 10,
            status: 200,
            end: LogEnd {
                total: 40,
                ..LogEnd::default()
            },
            ..LogInfo::default()
        };
        assert_eq!((l.tq(), l.ta(), l.td(), l.tu()), (7, 35, 19, 35));
        let no_server = LogInfo { tw: -1, ..l };
        assert_eq!(no_server.td(), -1);
    }
}
