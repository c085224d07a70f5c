//! `resolvers` sections and the server settings that use them (`resolvers`,
//! `resolve-prefer`, `resolve-net`, `init-addr`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A `resolvers NAME` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolvers {
    /// The section name.
    pub name: String,
    /// `nameserver NAME ADDR[:PORT]` lines (and those `parse-resolv-conf` read), in
    /// order: a query goes to each in turn until one answers.
    pub nameservers: Vec<(String, SocketAddr)>,
    /// `resolve_retries` (3): queries sent before a resolution is a timeout.
    pub retries: u32,
    /// `timeout resolve` (1s): the interval between resolutions of a name.
    pub timeout_resolve: Duration,
    /// `timeout retry` (1s): how long one query waits for its answer.
    pub timeout_retry: Duration,
    /// `hold` periods by status.
    pub hold: Hold,
    /// `accepted_payload_size` (512): the EDNS0 UDP payload size announced.
    pub payload_size: u16,
}

impl Resolvers {
    /// A section with HAProxy's defaults.
    pub fn new(name: &str) -> Self {
        Resolvers {
            name: name.to_string(),
            nameservers: Vec::new(),
            retries: 3,
            timeout_resolve: Duration::from_secs(1),
            timeout_retry: Duration::from_secs(1),
            hold: Hold::default(),
            payload_size: 512,
        }
    }
}

/// `hold STATUS PERIOD`: how long the last good answer is kept after a resolution
/// ends with each status (`valid`: how long a good answer stands before the name is
/// asked again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// `hold valid` (10s).
    pub valid: Duration,
    /// `hold nx` (30s).
    pub nx: Duration,
    /// `hold timeout` (30s).
    pub timeout: Duration,
    /// `hold refused` (30s).
    pub refused: Duration,
    /// `hold other` (30s).
    pub other: Duration,
    /// `hold obsolete` (0s): how long a record missing from the answers is still used.
    pub obsolete: Duration,
}

impl Default for Hold {
    fn default() -> Self {
        let d30 = Duration::from_secs(30);
        Hold {
            valid: Duration::from_secs(10),
            nx: d30,
            timeout: d30,
            refused: d30,
            other: d30,
            obsolete: Duration::ZERO,
        }
    }
}

/// `resolve-prefer`: the address family asked first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// `ipv4`.
    V4,
    /// `ipv6` (HAProxy's default).
    #[default]
    V6,
}

/// One method of `init-addr`, tried in order at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitAddr {
    /// `last`: the address the server-state file saved.
    Last,
    /// `libc`: the system resolver.
    Libc,
    /// `none`: start without an address, in maintenance until DNS gives one.
    None,
    /// An IP address.
    Ip(IpAddr),
}

/// The DNS settings of a server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerDns {
    /// `resolvers NAME`.
    pub resolvers: Option<String>,
    /// `resolve-prefer`.
    pub prefer: Family,
    /// `resolve-net`: networks whose addresses are preferred, in order.
    pub nets: Vec<(IpAddr, u8)>,
    /// `init-addr` (HAProxy's default: `last,libc`).
    pub init_addr: Option<Vec<InitAddr>>,
    /// Made by `server-template`.
    pub template: bool,
    /// The server starts without an address (`init-addr none`, an SRV record): in
    /// maintenance until DNS gives it one.
    pub no_addr: bool,
}

impl ServerDns {
    /// The `init-addr` methods in force.
    pub fn init_addr(&self) -> Vec<InitAddr> {
        self.init_addr
            .clone()
            .unwrap_or(vec![InitAddr::Last, InitAddr::Libc])
    }
}

/// Whether `ip` is in `net/len`.
pub fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}
