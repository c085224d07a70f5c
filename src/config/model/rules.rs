//! Options, checks, HTTP rules, persistence (cookie, stick) and the stats page.

use super::*;
use crate::sample::{Expr, Fmt, Method, Scope};
use std::net::IpAddr;
use std::time::Duration;

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
    /// `option originalto` (`if_none` unused).
    pub originalto: Option<ForwardFor>,
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
    /// `option http-buffer-request`: the request body is read ahead (up to a buffer)
    /// before the proxy's `http-request` rules run.
    pub buffer_request: bool,
    /// `option tcp-check`.
    pub tcp_check: bool,
    /// `option http-restrict-req-hdr-names`.
    pub restrict_hdr_names: HdrNames,
    /// `http-reuse`.
    pub http_reuse: HttpReuse,
}

/// `http-reuse never|safe|aggressive|always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpReuse {
    /// No sharing: lbd closes the server connection after each response.
    Never,
    /// HAProxy's default; lbd's pool.
    #[default]
    Safe,
    /// lbd's pool.
    Aggressive,
    /// lbd's pool.
    Always,
}

/// `option http-restrict-req-hdr-names preserve|delete|reject`: what becomes of a
/// request header whose name holds a character outside `[A-Za-z0-9-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HdrNames {
    /// Kept (the default).
    #[default]
    Preserve,
    /// Removed.
    Delete,
    /// The request is refused with 403.
    Reject,
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
    /// `set-header NAME FMT`.
    SetHeader(String, Fmt),
    /// `add-header NAME FMT`.
    AddHeader(String, Fmt),
    /// `del-header NAME [-m METH]`: headers whose name matches.
    DelHeader(String, Method),
    /// `replace-header NAME REGEX FMT` (whole value) / `replace-value` (each
    /// comma-separated item).
    ReplaceHeader {
        /// Header name.
        name: String,
        /// Regex matched against the value (or item).
        regex: String,
        /// Replacement (`\1` back-references).
        with: Fmt,
        /// `replace-value`.
        items: bool,
    },
    /// `return [status N] [content-type T] [string S|lf-string FMT] [hdr N FMT]...`.
    Return {
        /// Status (200).
        status: u16,
        /// Content type.
        content_type: Option<String>,
        /// Body.
        body: Option<Fmt>,
        /// Extra headers (`hdr NAME VALUE`).
        headers: Vec<(String, Fmt)>,
    },
    /// `deny [deny_status N]`: the proxy's error page for N.
    Deny(u16),
    /// `deny` with its own answer (`errorfile`, `errorfiles`, `string`, `hdr`...): the
    /// `Return` or `ErrorPage` it gives, counted as denied.
    DenyWith(Box<HttpAction>),
    /// `return status N errorfile FILE|errorfiles NAME|default-errorfiles`.
    ErrorPage(u16, ReplyPage),
    /// `allow`: stop evaluating the rules of this set.
    Allow,
    /// `use-service prometheus-exporter`.
    UseServicePrometheus,
    /// `redirect location|prefix|scheme ...` (also the `redirect` keyword).
    Redirect(Redirect),
    /// `set-var(SCOPE.NAME) EXPR`.
    SetVar(Scope, String, Expr),
    /// `set-var-fmt(SCOPE.NAME) FMT`.
    SetVarFmt(Scope, String, Fmt),
    /// `unset-var(SCOPE.NAME)`.
    UnsetVar(Scope, String),
    /// `set-path|set-pathq|set-query|set-uri|set-method FMT`.
    SetUri(UriPart, Fmt),
    /// `replace-path|replace-pathq|replace-uri REGEX FMT`.
    ReplaceUri(UriPart, String, Fmt),
    /// `set-status CODE [reason STR]` (responses).
    SetStatus(u16, Option<String>),
    /// `set-src|set-dst|set-src-port|set-dst-port EXPR` (requests).
    SetAddr(AddrPart, Expr),
    /// `track-scN KEY [table T]`: track the key's entry in slot N.
    Track {
        /// 0, 1 or 2.
        slot: usize,
        /// The key.
        key: Expr,
        /// The table's proxy (None: this proxy).
        table: Option<String>,
    },
    /// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)`: increment a counter of slot N's entry.
    ScIncGpc {
        /// 0 (gpc0) or 1 (gpc1).
        gpc: u8,
        /// The slot.
        slot: usize,
    },
    /// `sc-set-gpt0(N) VALUE`: set the tag of slot N's entry.
    ScSetGpt0 {
        /// The slot.
        slot: usize,
        /// An integer or a sample expression.
        value: Expr,
    },
    /// `http-request auth [realm R]`: answer 401 asking for Basic credentials (realm
    /// default: the proxy's name, filled in when the rule is compiled).
    Auth(Option<String>),
    /// `http-request capture EXPR len N|id N`, `http-response capture EXPR id N`: the
    /// sample goes into capture slot `id` (a `len` rule declares its own slot).
    Capture {
        /// The sample.
        expr: Expr,
        /// The slot, from 0.
        id: usize,
        /// `len N`: the most characters kept (None: the declared slot's).
        len: Option<usize>,
    },
    /// `http-request set-timeout server|tunnel TIME|EXPR`.
    SetTimeout(TimeoutKind, TimeoutArg),
    /// `http-request|http-response strict-mode on|off`.
    StrictMode(bool),
    /// `http-request reject`: close the connection without an answer.
    Reject,
    /// `http-request|http-response silent-drop`: close the connection at once, as
    /// if the peer had gone.
    SilentDrop,
    /// `http-request tarpit [deny_status N] [ANSWER]`: hold the request for `timeout
    /// tarpit`, then answer as `deny` does (default 500).
    Tarpit(Box<HttpAction>),
    /// `http-request normalize-uri NORMALIZER`.
    NormalizeUri(Normalizer),
    /// `http-request wait-for-body time TIME [at-least BYTES]`: read the body ahead
    /// until it is complete, `at_least` bytes (0: no such bound) are in, or the buffer
    /// is full; 408 when `time` passes first.
    WaitForBody {
        /// How long to wait.
        time: std::time::Duration,
        /// Enough bytes to go on (0: the whole body or a full buffer).
        at_least: u64,
    },
}

/// Which timeout `set-timeout` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// `timeout server`.
    Server,
    /// `timeout tunnel`.
    Tunnel,
}

/// `set-timeout`'s value: a time, or a sample expression giving milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeoutArg {
    /// Known at load time.
    Fixed(Duration),
    /// Evaluated per request (an integer, in milliseconds).
    Expr(Expr),
}

/// A `normalize-uri` normalizer (HAProxy 2.6's set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalizer {
    /// `fragment-encode`: `#` in the path and query becomes `%23`.
    FragmentEncode,
    /// `fragment-strip`: the `#...` fragment is removed.
    FragmentStrip,
    /// `path-merge-slashes`: runs of `/` in the path become one.
    PathMergeSlashes,
    /// `path-strip-dot`: `.` segments of the path are removed.
    PathStripDot,
    /// `path-strip-dotdot [full]`: `seg/..` segments are resolved (`full`: `..`
    /// above the root too).
    PathStripDotdot(bool),
    /// `percent-decode-unreserved [strict]`: `%XX` of an unreserved character is
    /// decoded (`strict`: an invalid `%` answers 400).
    PercentDecodeUnreserved(bool),
    /// `percent-to-uppercase [strict]`: `%xx` hex digits in upper case.
    PercentToUppercase(bool),
    /// `query-sort-by-name`: query parameters sorted by name (stable).
    QuerySortByName,
}

/// When a `tcp-request` / `tcp-response` rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpWhen {
    /// `tcp-request connection`: at accept, before anything is read.
    Connection,
    /// `tcp-request session`: once the session exists (after the handshake).
    Session,
    /// `tcp-request content`: on the request's content (each request in `mode http`).
    Content,
    /// `tcp-response content`: on the response's content.
    Response,
}

/// A `tcp-request` / `tcp-response` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRule {
    /// When it runs.
    pub when: TcpWhen,
    /// What it does.
    pub action: TcpAction,
    /// `if`/`unless`.
    pub cond: Option<Condition>,
    /// Where it was declared.
    pub loc: Loc,
}

/// The actions of `tcp-request` / `tcp-response` rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpAction {
    /// `accept`: stop evaluating rules of this kind, go on.
    Accept,
    /// `reject`: close the connection (or stop the request) at once.
    Reject,
    /// `silent-drop`: close without a word (lbd closes as `reject` does).
    SilentDrop,
    /// `set-var(SCOPE.NAME) EXPR`.
    SetVar(Scope, String, Expr),
    /// `set-var-fmt(SCOPE.NAME) FMT`.
    SetVarFmt(Scope, String, Fmt),
    /// `unset-var(SCOPE.NAME)`.
    UnsetVar(Scope, String),
    /// `set-src|set-dst|set-src-port|set-dst-port EXPR`.
    SetAddr(AddrPart, Expr),
    /// `track-scN KEY [table T]` (the table is named by the validation).
    Track {
        /// 0, 1 or 2.
        slot: usize,
        /// The key.
        key: Expr,
        /// The table's proxy (None: this proxy).
        table: Option<String>,
    },
    /// `expect-proxy layer4`: the connection starts with a PROXY protocol header.
    ExpectProxy,
    /// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)`: increment gpc0 or gpc1 (0 or 1) of the
    /// entry tracked in slot N.
    ScIncGpc {
        /// 0 or 1.
        gpc: u8,
        /// The slot.
        slot: usize,
    },
}

pub use crate::sample::conn::AddrPart;

/// The part of the request line that `set-*`/`replace-*` rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriPart {
    /// The path (no query).
    Path,
    /// Path and query.
    PathQ,
    /// The query string (without `?`).
    Query,
    /// The whole request target.
    Uri,
    /// The method.
    Method,
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

/// `stick-table type T [len N] size N [expire T] [nopurge] [store DATA,...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickTable {
    /// Key type (with its length for string and binary).
    pub key: crate::stick::KeyType,
    /// Maximum entries.
    pub size: u64,
    /// Entry expiry.
    pub expire: Option<Duration>,
    /// `nopurge`: a full table refuses new keys.
    pub nopurge: bool,
    /// Stored data types with their periods in ms (0 for counters).
    pub store: Vec<(crate::stick::Data, u64)>,
    /// `peers NAME`: the section it is shared with.
    pub peers: Option<String>,
    /// Where it was declared.
    pub loc: Loc,
}

/// `stick on|match|store-request|store-response PATTERN [table T] [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickRule {
    /// Which kind.
    pub kind: StickKind,
    /// The pattern: a sample expression giving the key.
    pub expr: Expr,
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
    /// store only, with a key read on the response (`res.cook(SRV)`), once the
    /// server's response head is in (http mode).
    StoreResponse,
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
