//! The typed configuration model: what a valid haproxy.cfg means, with defaults applied.
//!
//! Every item keeps the `Loc` (file:line) it came from so that later layers (runtime
//! graph build, reload summaries) can still point at the config. Durations are
//! `Option<Duration>` where HAProxy's "unset" means infinite.

use std::net::{IpAddr, SocketAddr};
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
    /// `maxconn`; `None` derives it from the descriptor limit at start.
    pub maxconn: Option<u32>,
    /// `nbthread`; `None` uses one thread per CPU.
    pub nbthread: Option<u32>,
    /// `cpu-map` lines, in order (a later line wins for a thread).
    pub cpu_map: Vec<CpuMap>,
    /// `pidfile`.
    pub pidfile: Option<String>,
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
    /// `log-tag` (default "lbd").
    pub log_tag: Option<String>,
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
    /// Where it was declared.
    pub loc: Loc,
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
    /// `hash-type`.
    pub hash_type: HashType,
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
    /// `option httpchk` and `http-check` rules.
    pub http_check: HttpCheck,
    /// `http-request` rules.
    pub http_request: Vec<HttpRule>,
    /// `http-response` rules.
    pub http_response: Vec<HttpRule>,
    /// `cookie`.
    pub cookie: Option<CookieCfg>,
    /// `stick-table`.
    pub stick_table: Option<StickTable>,
    /// `stick on|match|store-request`.
    pub stick_rules: Vec<StickRule>,
    /// `stats` settings.
    pub stats: StatsCfg,
    /// `log` targets (after `log global` is resolved against the global section).
    pub logs: Vec<LogTarget>,
    /// `description`.
    pub description: Option<String>,
    /// `disabled`: the proxy is declared but does not run.
    pub disabled: bool,
    /// `log global` was given (resolved into `logs` at the end of parsing).
    pub log_global: bool,
}

/// A name reference with its location (e.g. `default_backend web`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The referenced name.
    pub name: String,
    /// Where it was written.
    pub loc: Loc,
}

/// One listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Address and port to listen on.
    pub addr: SocketAddr,
    /// `v4v6` / `v6only` / neither (system default).
    pub v6only: Option<bool>,
    /// `backlog N`.
    pub backlog: Option<u32>,
    /// `name N`.
    pub name: Option<String>,
    /// Where it was declared.
    pub loc: Loc,
}

/// `use_backend NAME if|unless COND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    /// Target backend.
    pub backend: String,
    /// Condition.
    pub cond: Condition,
    /// Where it was declared.
    pub loc: Loc,
}

/// `acl NAME CRITERION [flags] VALUES...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Name (empty for anonymous `{ }` acls).
    pub name: String,
    /// What is matched.
    pub criterion: Criterion,
    /// `-i`.
    pub ignore_case: bool,
    /// Patterns (any may match).
    pub values: Vec<AclValue>,
    /// Where it was declared.
    pub loc: Loc,
}

/// A sample fetch plus match method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    /// `hdr(name)` exact (`hdr(host)` compares without port? no: exact like HAProxy).
    Hdr(String),
    /// `hdr_beg(name)`.
    HdrBeg(String),
    /// `hdr_end(name)`.
    HdrEnd(String),
    /// `hdr_dom(name)`: domain-label match.
    HdrDom(String),
    /// `hdr_sub(name)`.
    HdrSub(String),
    /// `path`.
    Path,
    /// `path_beg`.
    PathBeg,
    /// `path_end`.
    PathEnd,
    /// `path_dir`: slash-delimited component match.
    PathDir,
    /// `path_sub`.
    PathSub,
    /// `src` CIDR match.
    Src,
    /// `method`.
    Method,
    /// `always_true`.
    AlwaysTrue,
    /// `always_false`.
    AlwaysFalse,
    /// `ssl_fc`: the client connection is TLS. lbd terminates no TLS: always false.
    SslFc,
}

/// A parsed acl pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclValue {
    /// A string pattern.
    Str(String),
    /// A network for `src`.
    Net(IpAddr, u8),
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

/// A `server` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Name, unique in its backend.
    pub name: String,
    /// The address as written (hostname or IP).
    pub host: String,
    /// Resolved address; port 0 when the line had none (use the client's port).
    pub addr: SocketAddr,
    /// The line had an explicit port.
    pub has_port: bool,
    /// Settings (from `default-server` then the line).
    pub settings: ServerSettings,
    /// Where it was declared.
    pub loc: Loc,
}

impl Server {
    /// Address active checks connect to (`addr`/`port` override the server's).
    pub fn check_addr(&self) -> SocketAddr {
        let ip = self.settings.check_addr.unwrap_or(self.addr.ip());
        let port = self.settings.check_port.unwrap_or(self.addr.port());
        SocketAddr::new(ip, port)
    }
}

/// `init-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitState {
    /// Health = rise: UP, one failure marks DOWN (HAProxy's default).
    #[default]
    Up,
    /// Health = rise + fall - 1.
    FullyUp,
    /// Health = rise - 1: DOWN, one success marks UP.
    Down,
    /// Health = 0.
    FullyDown,
}

/// `observe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observe {
    /// Connection outcomes.
    Layer4,
    /// Connection and HTTP response outcomes.
    Layer7,
}

/// `on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Only switch to fastinter.
    FastInter,
    /// Simulate one failed check (default).
    #[default]
    FailCheck,
    /// The next failure marks the server DOWN.
    SuddenDeath,
    /// Mark the server DOWN at once.
    MarkDown,
}

/// Settings a `server` line can carry (also `default-server`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// `check`.
    pub check: bool,
    /// `inter` (2s).
    pub inter: Duration,
    /// `fastinter` (falls back to inter).
    pub fastinter: Option<Duration>,
    /// `downinter` (falls back to inter).
    pub downinter: Option<Duration>,
    /// `rise` (2).
    pub rise: u32,
    /// `fall` (3).
    pub fall: u32,
    /// `port`: check port.
    pub check_port: Option<u16>,
    /// `addr`: check address.
    pub check_addr: Option<IpAddr>,
    /// `weight` (1, 0..=256).
    pub weight: u32,
    /// `backup`.
    pub backup: bool,
    /// `disabled`: start in maintenance.
    pub disabled: bool,
    /// `maxconn` (0 = unlimited).
    pub maxconn: u32,
    /// `maxqueue` (0 = unlimited).
    pub maxqueue: u32,
    /// `slowstart`.
    pub slowstart: Option<Duration>,
    /// `observe`.
    pub observe: Option<Observe>,
    /// `error-limit` (10).
    pub error_limit: u32,
    /// `on-error`.
    pub on_error: OnError,
    /// `on-marked-down shutdown-sessions`.
    pub shutdown_on_down: bool,
    /// `on-marked-up shutdown-backup-sessions`.
    pub shutdown_backup_on_up: bool,
    /// `init-state`.
    pub init_state: InitState,
    /// `cookie VALUE`.
    pub cookie: Option<String>,
    /// `send-proxy` (1) / `send-proxy-v2` (2).
    pub send_proxy: Option<u8>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            check: false,
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            check_port: None,
            check_addr: None,
            weight: 1,
            backup: false,
            disabled: false,
            maxconn: 0,
            maxqueue: 0,
            slowstart: None,
            observe: None,
            error_limit: 10,
            on_error: OnError::FailCheck,
            shutdown_on_down: false,
            shutdown_backup_on_up: false,
            init_state: InitState::Up,
            cookie: None,
            send_proxy: None,
        }
    }
}

impl ServerSettings {
    /// Interval while changing state or not yet checked.
    pub fn fastinter(&self) -> Duration {
        self.fastinter.unwrap_or(self.inter)
    }
    /// Interval while fully DOWN.
    pub fn downinter(&self) -> Duration {
        self.downinter.unwrap_or(self.inter)
    }
}

/// Every `timeout`; `None` is infinite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// `timeout connect`.
    pub connect: Option<Duration>,
    /// `timeout client`.
    pub client: Option<Duration>,
    /// `timeout server`.
    pub server: Option<Duration>,
    /// `timeout http-request`.
    pub http_request: Option<Duration>,
    /// `timeout http-keep-alive`.
    pub http_keep_alive: Option<Duration>,
    /// `timeout queue` (falls back to connect).
    pub queue: Option<Duration>,
    /// `timeout tunnel`.
    pub tunnel: Option<Duration>,
    /// `timeout check`.
    pub check: Option<Duration>,
    /// `timeout client-fin`.
    pub client_fin: Option<Duration>,
    /// `timeout server-fin`.
    pub server_fin: Option<Duration>,
}

impl Timeouts {
    /// Effective queue timeout.
    pub fn queue(&self) -> Option<Duration> {
        self.queue.or(self.connect)
    }
}

/// `option forwardfor [except NET] [header NAME] [if-none]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFor {
    /// Source network that does not get the header.
    pub except: Option<(IpAddr, u8)>,
    /// Header name (X-Forwarded-For).
    pub header: String,
    /// Only add when absent.
    pub if_none: bool,
}

/// HTTP connection handling chosen by options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpConnMode {
    /// `option http-keep-alive` (default).
    #[default]
    KeepAlive,
    /// `option http-server-close`: keep the client side, close the server side.
    ServerClose,
    /// `option httpclose`: close both sides after each exchange.
    Close,
}

/// `option` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `option forwardfor`.
    pub forwardfor: Option<ForwardFor>,
    /// `option redispatch`.
    pub redispatch: bool,
    /// `option allbackups`.
    pub allbackups: bool,
    /// `option httplog`.
    pub httplog: bool,
    /// `option tcplog`.
    pub tcplog: bool,
    /// Connection mode from http-keep-alive / http-server-close / httpclose.
    pub http_conn: HttpConnMode,
    /// `option log-health-checks`.
    pub log_health_checks: bool,
    /// `option dontlognull`.
    pub dontlognull: bool,
    /// `option tcp-check`.
    pub tcp_check: bool,
}

/// `option httpchk` / `http-check send|expect`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCheck {
    /// HTTP checks are on (`option httpchk`).
    pub enabled: bool,
    /// Method (OPTIONS).
    pub method: String,
    /// URI (/).
    pub uri: String,
    /// Version (HTTP/1.0).
    pub version: String,
    /// Extra headers from `http-check send hdr` (or the old `\r\n` version trick).
    pub headers: Vec<(String, String)>,
    /// Request body from `http-check send body`.
    pub body: Option<String>,
    /// `http-check expect`; none = 2xx/3xx pass.
    pub expect: Option<Expect>,
}

/// `http-check expect [!] status|rstatus|string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// `!`.
    pub negate: bool,
    /// What is expected.
    pub kind: ExpectKind,
}

/// The matcher of an `http-check expect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectKind {
    /// Inclusive status ranges.
    Status(Vec<(u16, u16)>),
    /// Regex on the status code text (kept as written; compiled by the check layer).
    RStatus(String),
    /// Substring of the body.
    String(String),
}

/// An `http-request` / `http-response` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    /// What to do.
    pub action: HttpAction,
    /// `if`/`unless`.
    pub cond: Option<Condition>,
    /// Where it was declared.
    pub loc: Loc,
}

/// Actions lbd performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAction {
    /// `set-header NAME VALUE`.
    SetHeader(String, String),
    /// `add-header NAME VALUE`.
    AddHeader(String, String),
    /// `del-header NAME`.
    DelHeader(String),
    /// `return [status N] [content-type T] [string S|lf-string S]`.
    Return {
        /// Status (200).
        status: u16,
        /// Content type.
        content_type: Option<String>,
        /// Body.
        body: Option<String>,
        /// Extra headers (`hdr NAME VALUE`).
        headers: Vec<(String, String)>,
    },
    /// `deny [deny_status N]`.
    Deny(u16),
    /// `use-service prometheus-exporter`.
    UseServicePrometheus,
    /// `redirect location|prefix|scheme ...` (also the `redirect` keyword).
    Redirect(Redirect),
}

/// A redirect rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// What `to` means.
    pub kind: RedirectKind,
    /// Location, prefix or scheme.
    pub to: String,
    /// 301, 302 (default), 303, 307 or 308.
    pub code: u16,
    /// `drop-query`.
    pub drop_query: bool,
    /// `append-slash`.
    pub append_slash: bool,
    /// `set-cookie NAME[=VALUE]`.
    pub set_cookie: Option<String>,
    /// `clear-cookie NAME[=]`.
    pub clear_cookie: Option<String>,
}

/// The kinds of redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// The Location is the string itself.
    Location,
    /// The Location is the prefix followed by the request's path.
    Prefix,
    /// The Location is `SCHEME://HOST` followed by the request's path.
    Scheme,
}

/// `cookie NAME insert|rewrite|prefix ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieCfg {
    /// Cookie name.
    pub name: String,
    /// Mode.
    pub mode: CookieMode,
    /// `indirect`.
    pub indirect: bool,
    /// `nocache`.
    pub nocache: bool,
    /// `postonly`.
    pub postonly: bool,
    /// `preserve`.
    pub preserve: bool,
    /// `httponly`.
    pub httponly: bool,
    /// `secure`.
    pub secure: bool,
    /// `domain D` (several allowed).
    pub domains: Vec<String>,
    /// `maxidle`.
    pub maxidle: Option<Duration>,
    /// `maxlife`.
    pub maxlife: Option<Duration>,
    /// `attr V`.
    pub attrs: Vec<String>,
}

/// Cookie persistence mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieMode {
    /// lbd sets the cookie.
    Insert,
    /// The server sets it, lbd rewrites the value.
    Rewrite,
    /// lbd prefixes the server's cookie value.
    Prefix,
    /// No mode given: the application sets the cookie; lbd only reads it.
    Passive,
}

/// `stick-table type ip size N [expire T]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickTable {
    /// Maximum entries.
    pub size: u64,
    /// Entry expiry.
    pub expire: Option<Duration>,
    /// Where it was declared.
    pub loc: Loc,
}

/// `stick on|match|store-request src [table T] [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickRule {
    /// Which kind.
    pub kind: StickKind,
    /// Table proxy name (None = this proxy).
    pub table: Option<String>,
    /// Condition.
    pub cond: Option<Condition>,
    /// Where it was declared.
    pub loc: Loc,
}

/// The kinds of `stick` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickKind {
    /// match + store.
    On,
    /// lookup only.
    Match,
    /// store only.
    StoreRequest,
}

/// `stats` settings of a proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsCfg {
    /// `stats enable` (or implied by uri/auth/refresh).
    pub enabled: bool,
    /// `stats uri` (/haproxy?stats).
    pub uri: Option<String>,
    /// `stats refresh`.
    pub refresh: Option<Duration>,
    /// `stats auth user:pass`.
    pub auth: Vec<(String, String)>,
    /// `stats realm`.
    pub realm: Option<String>,
    /// `stats admin if ...` was given (accepted; the page is read-only).
    pub admin: bool,
}

impl StatsCfg {
    /// The effective URI prefix.
    pub fn uri(&self) -> &str {
        self.uri.as_deref().unwrap_or("/haproxy?stats")
    }
}
