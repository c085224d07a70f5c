//! lbd: a load-balancer daemon that reads HAProxy's configuration language.
//!
//! Floor plan: `lifecycle → frontend → {check, stats} → graph → backend → rules → shard → tls → log → {config, cli} → sample → stick`
//!
//! A module uses only modules to its right (never one to its left, nor its neighbour in
//! a `{...}` group); `tests/floor_plan.rs` enforces it, so src/ has no import cycle.
//! - `lifecycle`: start, signals, reload, soft stop, sd_notify; owns the running daemon.
//! - `frontend`: listeners, accept loops, the tcp and http proxies (the data path).
//! - `check`: active health-check tasks and probes.
//! - `stats`: the stats page, Prometheus metrics, the runtime socket.
//! - `graph`: the immutable runtime graph (frontends, backends) held in an `ArcSwap`,
//!   built from a `Config` and carrying server state across reloads.
//! - `backend`: servers at runtime, their state and health, balancing, persistence,
//!   queues, the connect path (retries, redispatch, PROXY header), the upstream pool.
//! - `rules`: acls and http rules compiled for the runtime graph.
//! - `shard`: the data-plane threads, one event loop each.
//! - `tls`: TLS material (certificate chains and keys, CA bundles, CRLs) and the
//!   rustls configurations built from them.
//! - `log`: operator messages and access-log lines, in HAProxy's words.
//! - `config`: text to a validated model (pure: no sockets); `cli`: the command line.
//! - `sample`: the rule language's engine: fetches, converters, acl patterns, maps,
//!   log-format strings, variables (pure: reads a request, never a socket).
//! - `stick`: stick tables (keys, counters, rates, expiry) and a request's tracked
//!   entries (pure data).
//!
//! docs/ARCHITECTURE.md tells the life of a connection, a request and a reload.

pub mod backend;
pub mod check;
pub mod cli;
pub mod config;
pub mod frontend;
pub mod graph;
pub mod lifecycle;
pub mod log;
pub mod rules;
pub mod sample;
pub mod shard;
pub mod stats;
pub mod stick;
pub mod tls;

pub use lifecycle::run;
