//! Servers, their settings, and timeouts.

use super::*;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A `server` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Name, unique in its backend.
    pub name: String,
    /// The address as written (hostname or IP).
    pub host: String,
    /// Resolved address; port 0 when the line had none (use the client's port).
    pub addr: SocketAddr,
    /// The line had an explicit port (a unix socket server counts as having one).
    pub has_port: bool,
    /// A unix socket server: its path, or `abns@NAME` (then `addr` is 0.0.0.0:0).
    pub unix: Option<String>,
    /// Settings (from `default-server` then the line).
    pub settings: ServerSettings,
    /// Where it was declared.
    pub loc: Loc,
}

impl ServerSettings {
    /// Whether active checks speak TLS: `check-ssl`, or `ssl` on a server whose
    /// checks go to its own address (no `port`/`addr`) unless `no-check-ssl`.
    pub fn check_tls(&self) -> bool {
        match self.tls.check_ssl {
            Some(on) => on,
            None => self.tls.ssl && self.check_port.is_none() && self.check_addr.is_none(),
        }
    }
}

impl Server {
    /// Address active checks connect to (`addr`/`port` override the server's).
    pub fn check_addr(&self) -> SocketAddr {
        let ip = self.settings.check_addr.unwrap_or(self.addr.ip());
        let port = self.settings.check_port.unwrap_or(self.addr.port());
        SocketAddr::new(ip, port)
    }
}

/// `proxy-v2-options`: TLVs a server's PROXY v2 header carries besides the addresses
/// (the TLS ones need TLS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyV2Opts {
    /// `authority`: the authority the client's own PROXY header carried.
    pub authority: bool,
    /// `crc32c`: a checksum of the whole header.
    pub crc32c: bool,
    /// `unique-id`: the stream's unique id (`unique-id-format`).
    pub unique_id: bool,
}

/// `load-server-state-from-file`: where a backend's servers find the state a
/// previous process saved (`show servers state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadServerState {
    /// `none` (default): the configuration alone.
    #[default]
    None,
    /// `global`: the global `server-state-file`.
    Global,
    /// `local`: the backend's own file (`server-state-file-name`).
    Local,
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
    /// `proxy-v2-options` (TLVs of the v2 header; they imply `send-proxy-v2`).
    pub pp_opts: ProxyV2Opts,
    /// `check-send-proxy`: health checks send the PROXY header (the server's version,
    /// v1 without `send-proxy*`).
    pub check_send_proxy: bool,
    /// `agent-check` (and its settings).
    pub agent: AgentSettings,
    /// `ssl`, `verify`, `sni`, `alpn`, `check-ssl`, `proto`...
    pub tls: SrvTls,
    /// `resolvers`, `resolve-prefer`, `resolve-net`, `init-addr`.
    pub dns: ServerDns,
    /// `track [BACKEND/]SERVER`: the health of that server instead of checks.
    pub track: Option<String>,
    /// `check` was given, but disabled for want of a port: the server may still be
    /// tracked, as in HAProxy.
    pub check_no_port: bool,
}

/// An agent check: `agent-check`, `agent-port`, `agent-addr`, `agent-inter`,
/// `agent-send`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentSettings {
    /// `agent-check` (`no-agent-check` clears it).
    pub enabled: bool,
    /// `agent-port` (required with `agent-check`).
    pub port: Option<u16>,
    /// `agent-addr` (the server's address otherwise).
    pub addr: Option<IpAddr>,
    /// `agent-inter` (the server's `inter` otherwise).
    pub inter: Option<Duration>,
    /// `agent-send`: sent once connected.
    pub send: Option<String>,
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
            pp_opts: Default::default(),
            check_send_proxy: false,
            agent: AgentSettings::default(),
            tls: SrvTls::default(),
            dns: ServerDns::default(),
            track: None,
            check_no_port: false,
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
    /// `timeout tarpit` (`http-request tarpit`; unset: `timeout connect`).
    pub tarpit: Option<Duration>,
}

impl Timeouts {
    /// Effective queue timeout.
    pub fn queue(&self) -> Option<Duration> {
        self.queue.or(self.connect)
    }
}
