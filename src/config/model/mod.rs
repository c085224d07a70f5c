//! The typed configuration model: what a valid haproxy.cfg means, with defaults applied.
//!
//! Every item keeps the `Loc` (file:line) it came from so that later layers (runtime
//! graph build, reload summaries) can still point at the config. Durations are
//! `Option<Duration>` where HAProxy's "unset" means infinite.

pub mod check;
mod errors;
mod resolvers;
mod rules;
mod server;
mod srv_tls;
mod tls;

pub use errors::*;
pub use resolvers::*;
pub use rules::*;
pub use server::*;
pub use srv_tls::*;
pub use tls::*;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A place in the configuration: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc {
    /// The file as given on the command line (or a directory entry).
    pub file: Arc<str>,
    /// 1-based line number.
    pub line: u32,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The `global` section.
    pub global: Global,
    /// Every `frontend`, `backend` and `listen`, in file order.
    pub proxies: Vec<Proxy>,
    /// The `userlist` sections, by name.
    pub userlists: crate::sample::auth::Userlists,
    /// The acl and map pattern references (`show acl`, `add map`, ...).
    pub pat_refs: Arc<crate::sample::refs::PatRefs>,
    /// The `resolvers` sections.
    pub resolvers: Vec<Resolvers>,
    /// The `peers` sections, in file order.
    pub peers: Vec<PeersSection>,
}

/// A `peers` section: the peers sharing stick tables, and the tables it declares.
#[derive(Debug, Clone, Default)]
pub struct PeersSection {
    /// Its name.
    pub name: String,
    /// `disabled`: the section does not run.
    pub disabled: bool,
    /// `bind ADDR:PORT`: where the local peer listens (else its `peer`/`server` line's address).
    pub bind: Option<Bind>,
    /// `peer NAME ADDR:PORT` and `server NAME [ADDR:PORT]` lines, in order.
    pub peers: Vec<PeerLine>,
    /// `table NAME type ...`: tables named `SECTION/NAME`, shared as `NAME`.
    pub tables: Vec<(String, StickTable)>,
    /// Where it was declared.
    pub loc: Loc,
}

/// One peer of a `peers` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLine {
    /// Its name (the local one is named by `localpeer`, `-L` or the host name).
    pub name: String,
    /// Its address (`server NAME` alone: none, for the local peer).
    pub addr: Option<SocketAddr>,
    /// Where it was declared.
    pub loc: Loc,
}

impl Config {
    /// The proxy with backend capability named `name`.
    pub fn backend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.kind.is_backend() && p.name == name)
    }

    /// Proxies that accept connections (frontends and listens).
    pub fn frontends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_frontend())
    }

    /// Proxies that hold servers (backends and listens).
    pub fn backends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_backend())
    }

    /// Number of `bind` addresses over every frontend and listen.
    pub fn listener_count(&self) -> usize {
        self.frontends().map(|p| p.binds.len()).sum()
    }
}

/// One `cpu-map` line: data-plane threads (numbered from 1) and the CPUs they run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMap {
    /// `auto:`: the threads take the CPUs one each, in order.
    pub auto: bool,
    /// The threads; `None`: all of them.
    pub threads: Option<Vec<u32>>,
    /// The CPUs, ascending, without duplicates.
    pub cpus: Vec<usize>,
}

/// The `global` section.
#[derive(Debug, Clone, Default)]
pub struct Global {
    /// `localpeer NAME`: this process's name in `peers` sections (`-L` wins).
    pub localpeer: Option<String>,
    /// `expose-experimental-directives`: `normalize-uri` is allowed.
    pub experimental: bool,
    /// `maxconn`; `None` derives it from the descriptor limit at start.
    pub maxconn: Option<u32>,
    /// `nbthread`; `None` uses one thread per CPU.
    pub nbthread: Option<u32>,
    /// `cpu-map` lines, in order (a later line wins for a thread).
    pub cpu_map: Vec<CpuMap>,
    /// `pidfile`.
    pub pidfile: Option<String>,
    /// `server-state-file`: the file `load-server-state-from-file global` reads.
    pub server_state_file: Option<String>,
    /// `server-state-base`: the directory of relative server-state file names.
    pub server_state_base: Option<String>,
    /// `hard-stop-after`: bounds the drain of a soft stop.
    pub hard_stop_after: Option<Duration>,
    /// `spread-checks` percentage (0..=50).
    pub spread_checks: u32,
    /// `log` targets.
    pub logs: Vec<LogTarget>,
    /// `stats socket` listeners.
    pub stats_sockets: Vec<StatsSocket>,
    /// `tune.bufsize` (default 16384): the largest request head accepted.
    pub bufsize: usize,
    /// `tune.http.maxhdr` (default 101).
    pub max_headers: usize,
    /// `tune.h2.*`: the HTTP/2 settings lbd announces to clients.
    pub h2: H2Tune,
    /// `log-tag` (default "lbd").
    pub log_tag: Option<String>,
    /// `set-var` / `set-var-fmt` lines: `proc.` variables set at start.
    pub set_vars: Vec<(crate::sample::Scope, String, VarInit)>,
    /// `external-check [preserve-env]`: external checks allowed.
    pub external_check: ExternalCheck,
    /// `crt-base`: where relative `crt` and `crt-list` paths are.
    pub crt_base: Option<std::path::PathBuf>,
    /// `ssl-load-extra-del-ext`: the key of a bind's `NAME.crt` is in `NAME.key`.
    pub ssl_del_ext: bool,
    /// `ca-base`: where relative `ca-file` and `crl-file` paths are.
    pub ca_base: Option<std::path::PathBuf>,
    /// `ssl-default-bind-options`, `-ciphers`, `-ciphersuites`.
    pub ssl_bind: SslOpts,
    /// `ssl-server-verify`, `ssl-default-server-*`.
    pub srv_tls: SrvTlsDefaults,
}

/// The `tune.h2.*` settings (HAProxy's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Tune {
    /// `tune.h2.max-concurrent-streams` (100): streams a client may have open at once.
    pub max_concurrent_streams: u32,
    /// `tune.h2.header-table-size` (4096): the HPACK dynamic table of the decoder.
    pub header_table_size: u32,
    /// `tune.h2.initial-window-size` (65535): each stream's receive window.
    pub initial_window_size: u32,
    /// `tune.h2.max-frame-size` (16384): the largest frame a client may send.
    pub max_frame_size: u32,
}

impl Default for H2Tune {
    fn default() -> Self {
        H2Tune {
            max_concurrent_streams: 100,
            header_table_size: 4096,
            initial_window_size: 65535,
            max_frame_size: 16384,
        }
    }
}

/// The protocol a `bind` speaks in `mode http` (`proto h1|h2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpProto {
    /// `proto h1`: HTTP/1 only, no HTTP/2 preface detection.
    H1,
    /// `proto h2`: HTTP/2 with prior knowledge (h2c).
    H2,
}

/// The global `external-check` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExternalCheck {
    /// Not set: `option external-check` is refused.
    #[default]
    Off,
    /// `external-check`: the program gets only the check's variables.
    On,
    /// `external-check preserve-env`: lbd's environment too.
    PreserveEnv,
}

/// The value of a `set-var` (a sample expression) or `set-var-fmt` (a format string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarInit {
    /// `set-var NAME EXPR`.
    Expr(crate::sample::Expr),
    /// `set-var-fmt NAME FMT`.
    Fmt(crate::sample::Fmt),
}

impl VarInit {
    /// The value in `env` (None when the sample is missing).
    pub fn value(&self, env: &crate::sample::Env<'_>) -> Option<crate::sample::Owned> {
        match self {
            VarInit::Expr(e) => e.eval(env).map(|v| v.into_owned()),
            VarInit::Fmt(f) => Some(crate::sample::Value::Str(f.eval(env).into())),
        }
    }
}

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDest {
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// A path: a unix datagram socket such as `/dev/log` when it is one, else a regular
    /// file opened in append mode (an lbd extension; HAProxy only takes sockets).
    Path(String),
    /// UDP syslog `host:port` (default port 514).
    Udp(SocketAddr),
}

/// One `log` line: destination, facility and optional max level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    /// Destination.
    pub dest: LogDest,
    /// Syslog facility number (local0 = 16).
    pub facility: u8,
    /// Highest severity number sent (7 = debug: everything).
    pub max_level: u8,
    /// `sample RANGES:SIZE`: of every SIZE messages, only those whose position (from 1)
    /// is in one of the inclusive ranges go to this target.
    pub sample: Option<LogSample>,
    /// Where it was declared.
    pub loc: Loc,
}

/// The access-log format of a proxy: one of HAProxy's predefined ones or a
/// `log-format` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    /// `option httplog`.
    Http,
    /// `option httplog clf`.
    HttpClf,
    /// `option httpslog`.
    Https,
    /// `option tcplog`.
    Tcp,
    /// `log-format`.
    Custom(crate::sample::Fmt),
}

/// HAProxy 2.6's `option httplog` format.
pub const HTTP_LOG_FORMAT: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";
/// `option httplog clf`.
pub const CLF_LOG_FORMAT: &str = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl";
/// `option httpslog`: `fc_err` is 0 (a connection error ends the connection before
/// any request) and `ssl_fc_err` 0 on a TLS connection, `-` on a clear one.
pub const HTTPS_LOG_FORMAT: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r 0/%[ssl_fc,iif(0,-)]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc";
/// `option tcplog`.
pub const TCP_LOG_FORMAT: &str =
    "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

impl LogFormat {
    /// The compiled format for a frontend in `mode`: an http format in a tcp
    /// frontend falls back to tcplog, as in HAProxy.
    pub fn compile(&self, mode: Mode) -> crate::sample::Fmt {
        let text = match self {
            LogFormat::Custom(f) => return f.clone(),
            _ if mode == Mode::Tcp => TCP_LOG_FORMAT,
            LogFormat::Http => HTTP_LOG_FORMAT,
            LogFormat::HttpClf => CLF_LOG_FORMAT,
            LogFormat::Https => HTTPS_LOG_FORMAT,
            LogFormat::Tcp => TCP_LOG_FORMAT,
        };
        crate::sample::Fmt::parse_log(text).expect("HAProxy's predefined formats parse")
    }
}

/// `capture request|response header NAME len N`: the last value of a header, cut to
/// `len` characters, shown in `option httplog` lines between braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The header name (lower case).
    pub name: String,
    /// The most characters kept.
    pub len: usize,
}

/// `log ... sample 1,3-4:5`: positions (inclusive ranges) out of a cycle of `size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSample {
    /// Inclusive ranges of positions, from 1.
    pub ranges: Vec<(u32, u32)>,
    /// The cycle length.
    pub size: u32,
}

/// `stats socket PATH [mode M] [level L]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    /// Unix socket path, or `ipv4@`/TCP address text.
    pub path: String,
    /// File mode (default 0o600 as HAProxy's umask typically yields).
    pub mode: u32,
    /// Permission level.
    pub level: StatsLevel,
    /// Where it was declared.
    pub loc: Loc,
}

/// Runtime socket permission level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatsLevel {
    /// Read only, no sensitive data.
    User,
    /// Read only.
    Operator,
    /// Everything.
    Admin,
}

/// Which section a proxy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyKind {
    /// `defaults`.
    #[default]
    Defaults,
    /// `frontend`.
    Frontend,
    /// `backend`.
    Backend,
    /// `listen`: both.
    Listen,
}

impl ProxyKind {
    /// Accepts connections.
    pub fn is_frontend(self) -> bool {
        matches!(self, ProxyKind::Frontend | ProxyKind::Listen)
    }
    /// Holds servers.
    pub fn is_backend(self) -> bool {
        matches!(self, ProxyKind::Backend | ProxyKind::Listen)
    }
    /// The section keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            ProxyKind::Defaults => "defaults",
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }
}

/// `mode tcp|http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Layer 4 byte streams (HAProxy's default).
    #[default]
    Tcp,
    /// Layer 7 HTTP/1.x.
    Http,
}

impl Mode {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Http => "http",
        }
    }
}

/// A frontend, backend, listen or defaults section after inheritance.
#[derive(Debug, Clone, Default)]
pub struct Proxy {
    /// Section name (empty for an anonymous `defaults`).
    pub name: String,
    /// Section kind.
    pub kind: ProxyKind,
    /// Where the section starts.
    pub loc: Loc,
    /// `mode`.
    pub mode: Mode,
    /// Every `bind` address (one per port of a range or comma list).
    pub binds: Vec<Bind>,
    /// `default_backend`.
    pub default_backend: Option<Named>,
    /// `use_backend` rules in order.
    pub use_backends: Vec<UseBackend>,
    /// `acl` declarations in order (a repeated name ORs).
    pub acls: Vec<Acl>,
    /// `balance`.
    pub balance: Balance,
    /// `balance` was written (here or in the defaults): the backend balances over its
    /// servers and ignores `dispatch`.
    pub balance_set: bool,
    /// `dispatch ADDR:PORT`: without `balance`, every connection goes to this address
    /// (servers are reached only by persistence).
    pub dispatch: Option<SocketAddr>,
    /// `hash-type`.
    pub hash_type: HashType,
    /// `load-server-state-from-file`.
    pub load_server_state: LoadServerState,
    /// `server-state-file-name` (the backend's name when unset or `use-backend-name`).
    pub server_state_file_name: Option<String>,
    /// `server` lines.
    pub servers: Vec<Server>,
    /// `default-server` settings new servers start from.
    pub default_server: ServerSettings,
    /// Every `timeout`.
    pub timeouts: Timeouts,
    /// `maxconn` (frontend: 0/None = global).
    pub maxconn: Option<u32>,
    /// `retries` (3).
    pub retries: u32,
    /// `option` flags.
    pub options: Options,
    /// The check options and the `tcp-check` and `http-check` rules.
    pub check: check::CheckSpec,
    /// `http-request` rules.
    pub http_request: Vec<HttpRule>,
    /// `http-response` rules.
    pub http_response: Vec<HttpRule>,
    /// `http-after-response` rules.
    pub http_after_response: Vec<HttpRule>,
    /// `tcp-request connection|session|content` and `tcp-response content` rules.
    pub tcp_rules: Vec<TcpRule>,
    /// `tcp-request inspect-delay`.
    pub inspect_delay: Option<Duration>,
    /// `tcp-response inspect-delay`.
    pub res_inspect_delay: Option<Duration>,
    /// `cookie`.
    pub cookie: Option<CookieCfg>,
    /// `stick-table`.
    pub stick_table: Option<StickTable>,
    /// `stick on|match|store-request`.
    pub stick_rules: Vec<StickRule>,
    /// `use-server NAME if|unless COND` rules in order.
    pub use_servers: Vec<(String, Condition, Loc)>,
    /// `stats` settings.
    pub stats: StatsCfg,
    /// `monitor-uri URI`: requests for it are answered by lbd (200, or 503 when a
    /// `monitor fail` condition matches), never forwarded.
    pub monitor_uri: Option<String>,
    /// `monitor fail if|unless COND`.
    pub monitor_fail: Vec<Condition>,
    /// `capture request header NAME len N`, in order.
    pub capture_request: Vec<Capture>,
    /// `capture response header NAME len N`, in order.
    pub capture_response: Vec<Capture>,
    /// `log` targets (after `log global` is resolved against the global section).
    pub logs: Vec<LogTarget>,
    /// `description`.
    pub description: Option<String>,
    /// `disabled`: the proxy is declared but does not run.
    pub disabled: bool,
    /// The access-log format: `log-format`, `option httplog|tcplog|httpslog`.
    pub log_format: Option<LogFormat>,
    /// `log-format-sd`.
    pub log_format_sd: Option<crate::sample::Fmt>,
    /// `error-log-format`.
    pub error_log_format: Option<crate::sample::Fmt>,
    /// `unique-id-format`.
    pub unique_id_format: Option<crate::sample::Fmt>,
    /// `unique-id-header` (lower case).
    pub unique_id_header: Option<String>,
    /// `log global` was given (resolved into `logs` at the end of parsing).
    pub log_global: bool,
    /// `errorfile`, `errorloc*` and `errorfiles` lines in order (a proxy starts with
    /// its `defaults` section's).
    pub errors: Vec<ErrorConf>,
    /// The error pages by status, `errors` resolved once every section is read.
    pub error_pages: ErrorPages,
}

/// A name reference with its location (e.g. `default_backend web`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The referenced name.
    pub name: String,
    /// Where it was written.
    pub loc: Loc,
}

/// Where a `bind` listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BindAddr {
    /// An IPv4/IPv6 address and port.
    Inet(SocketAddr),
    /// A unix stream socket file (`/path`, `unix@path`); for an inherited one, its
    /// path ("" when unnamed).
    Unix(String),
    /// A Linux abstract-namespace unix socket (`abns@NAME`).
    Abns(String),
    /// `sockpair@N`: one end of a unix socketpair over which connected sockets are
    /// passed (SCM_RIGHTS), each one a client connection.
    SockPair(i32),
}

impl BindAddr {
    /// The IP address and port, for an IP bind.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            BindAddr::Inet(a) => Some(*a),
            _ => None,
        }
    }
}

impl std::fmt::Display for BindAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindAddr::Inet(a) => write!(f, "{a}"),
            BindAddr::Unix(p) => write!(f, "{p}"),
            BindAddr::Abns(n) => write!(f, "abns@{n}"),
            BindAddr::SockPair(n) => write!(f, "sockpair@{n}"),
        }
    }
}

/// The socket file settings of a unix `bind` (`mode`, `uid`/`user`, `gid`/`group`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnixPerms {
    /// `mode OCTAL`: the file's permissions (unset: as the umask leaves them).
    pub mode: Option<u32>,
    /// `uid N` / `user NAME`: the file's owner (unset: lbd's user).
    pub uid: Option<u32>,
    /// `gid N` / `group NAME`: the file's group (unset: lbd's group).
    pub gid: Option<u32>,
}

/// One listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// What to listen on (for `fd@N`, the inherited socket's own address).
    pub addr: BindAddr,
    /// `fd@N`: a listening socket inherited from the parent process (VTest, systemd);
    /// lbd takes it over instead of opening one.
    pub fd: Option<i32>,
    /// `id N`: the listener's id (HAProxy numbers the others from 1 in order); a unix
    /// client is logged as `unix:ID`.
    pub id: Option<u32>,
    /// The socket file settings of a unix bind.
    pub perms: UnixPerms,
    /// `v4v6` / `v6only` / neither (system default).
    pub v6only: Option<bool>,
    /// `backlog N`.
    pub backlog: Option<u32>,
    /// `name N`.
    pub name: Option<String>,
    /// `accept-proxy`: connections start with a PROXY protocol header.
    pub accept_proxy: bool,
    /// `proto h1|h2`; none: HTTP/1, or HTTP/2 when a connection starts with its preface.
    pub proto: Option<HttpProto>,
    /// `ssl` and its parameters: TLS is terminated on this listener.
    pub ssl: Option<Box<BindSsl>>,
    /// Where it was declared.
    pub loc: Loc,
}

/// The listener ids of a proxy's binds as HAProxy numbers them: a bind's `id`, else
/// the first id from 1 up that no bind of the proxy uses, in declaration order.
pub fn listener_ids(binds: &[Bind]) -> Vec<u32> {
    let taken: std::collections::HashSet<u32> = binds.iter().filter_map(|b| b.id).collect();
    let mut next = 1;
    binds
        .iter()
        .map(|b| {
            b.id.unwrap_or_else(|| {
                while taken.contains(&next) {
                    next += 1;
                }
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// `use_backend NAME if|unless COND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    /// Target backend (as written, `%[...]` included).
    pub backend: String,
    /// `use_backend %[...]`: the name is a log-format string evaluated per request.
    pub dynamic: Option<crate::sample::Fmt>,
    /// Condition.
    pub cond: Condition,
    /// Where it was declared.
    pub loc: Loc,
}

/// `acl NAME FETCH[,CONVERTERS] [flags] PATTERNS...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Name (empty for anonymous `{ }` acls).
    pub name: String,
    /// The words after the name, as written.
    pub text: String,
    /// The sample expression.
    pub expr: crate::sample::Expr,
    /// The matching method and patterns.
    pub patterns: crate::sample::AclPatterns,
    /// Where it was declared.
    pub loc: Loc,
}

/// A condition: OR of AND-groups of (possibly negated) acl terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    /// `unless` inverts the whole result.
    pub unless: bool,
    /// Disjunction of conjunctions.
    pub any_of: Vec<Vec<Term>>,
}

/// One term of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// `!`.
    pub negate: bool,
    /// Named acl or anonymous one.
    pub acl: TermAcl,
}

/// What a term refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermAcl {
    /// A named acl of the same proxy (all declarations with that name, ORed).
    Named(String),
    /// An anonymous `{ criterion values }` acl.
    Anonymous(Box<Acl>),
}

/// `balance`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Balance {
    /// Smooth weighted round robin (default here, like HAProxy < 3.3).
    #[default]
    RoundRobin,
    /// Static weighted round robin.
    StaticRr,
    /// Fewest active connections per unit of weight.
    LeastConn,
    /// First server with free slots.
    First,
    /// Hash of the client address.
    Source,
    /// Hash of the URI (`whole` hashes the query too; `len`/`depth` limit).
    Uri {
        /// Include the query string.
        whole: bool,
        /// Hash only this many characters (0 = all).
        len: usize,
        /// Hash only this many directories (0 = all).
        depth: usize,
    },
    /// Hash of a header value.
    Hdr {
        /// Header name (lowercase).
        name: String,
        /// `use_domain_only`.
        domain_only: bool,
    },
    /// Hash of a query-string parameter.
    UrlParam(String),
    /// Power of N random choices.
    Random(u32),
}

impl Balance {
    /// True for algorithms that pick by hashing a request property.
    pub fn is_hash(&self) -> bool {
        matches!(
            self,
            Balance::Source | Balance::Uri { .. } | Balance::Hdr { .. } | Balance::UrlParam(_)
        )
    }
}

/// `hash-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashType {
    /// Modulo over the weighted server list (default).
    #[default]
    MapBased,
    /// Consistent hashing ring.
    Consistent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_ids_count_from_one_around_the_explicit_ones() {
        let b = |id| Bind {
            addr: BindAddr::Abns("x".into()),
            fd: None,
            id,
            perms: UnixPerms::default(),
            v6only: None,
            backlog: None,
            name: None,
            accept_proxy: false,
            proto: None,
            ssl: None,
            loc: Loc::default(),
        };
        assert_eq!(listener_ids(&[b(None), b(None)]), [1, 2]);
        assert_eq!(listener_ids(&[b(None), b(Some(1)), b(None)]), [2, 1, 3]);
        assert_eq!(listener_ids(&[b(Some(7)), b(None)]), [7, 1]);
    }
}
