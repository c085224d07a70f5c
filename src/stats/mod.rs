//! What operators see: one snapshot of the runtime graph rendered as HAProxy's CSV
//! (`show stat`, `;csv`), JSON, the live HTML page, Prometheus metrics, and the runtime
//! socket that also steers servers (drain, maintenance, weights, reload).

pub mod cafile;
pub mod certs;
pub mod cliwords;
pub mod crtlist;
pub mod master;
pub mod page;
pub mod patterns;
pub mod prometheus;
pub mod servers;
pub mod socket;
pub mod tables;
pub mod vars;

use crate::backend::state::Admin;
use crate::graph::Graph;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

pub use prometheus::prometheus;

static START: OnceLock<(Instant, SystemTime)> = OnceLock::new();

/// Marks the process start (uptime and process metrics count from here).
pub fn mark_start() {
    START.get_or_init(|| (Instant::now(), SystemTime::now()));
}

/// Seconds since start.
pub fn uptime_s() -> u64 {
    START.get().map_or(0, |(i, _)| i.elapsed().as_secs())
}

/// Start time as seconds since the epoch.
pub fn start_epoch() -> f64 {
    START
        .get()
        .and_then(|(_, t)| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The last check of a server.
#[derive(Debug, Clone, Default)]
pub struct CheckSnap {
    /// HAProxy's short code: L4OK, L4CON, L4TOUT, L6RSP, L7OK, L7STS, L7TOUT, L7RSP.
    pub code_name: &'static str,
    /// HTTP status, if any.
    pub http_code: Option<i32>,
    /// Duration in ms.
    pub duration_ms: u64,
    /// Full reason text (`reason: ..., info: ...`; the info alone for an agent).
    pub desc: String,
    /// The reason (`Layer7 wrong status`).
    pub reason: &'static str,
}

/// One server.
#[derive(Debug, Clone, Default)]
pub struct ServerSnap {
    /// Name.
    pub name: String,
    /// `UP`, `DOWN`, `UP 1/3`, `DOWN 1/2`, `MAINT`, `DRAIN`.
    pub status: String,
    /// Backup server.
    pub backup: bool,
    /// Current weight.
    pub weight: u32,
    /// Current sessions.
    pub cur: u32,
    /// Max sessions seen.
    pub max: u32,
    /// Session limit (0 = none).
    pub limit: u32,
    /// Total sessions.
    pub total: u64,
    /// Bytes in / out.
    pub bytes: (u64, u64),
    /// Connection errors.
    pub econ: u64,
    /// Response errors.
    pub eresp: u64,
    /// Retries, redispatches.
    pub retries: (u64, u64),
    /// Responses 1xx..5xx, other.
    pub hrsp: [u64; 6],
    /// Last check.
    pub check: Option<CheckSnap>,
    /// Failed checks.
    pub chkfail: u64,
    /// UP→DOWN transitions.
    pub chkdown: u64,
    /// Failed checks since the last passed one.
    pub consecutive_failures: u32,
    /// Seconds spent DOWN.
    pub downtime: u64,
    /// Consecutive passive errors.
    pub errors: u32,
    /// Seconds since the last state change.
    pub lastchg: u64,
    /// Average response time over the last 1024 (ms).
    pub avg_ms: f64,
    /// p50 and p99 response time (ms).
    pub p50_ms: f64,
    /// p99.
    pub p99_ms: f64,
    /// Queue length.
    pub queued: u32,
    /// Active checks enabled.
    pub checked: bool,
    /// `ip:port`.
    pub addr: String,
    /// `rise`, `fall` and the health counter (checked servers).
    pub health: (u32, u32, u32),
    /// The agent's health counter (`agent-check`; rise and fall are 1).
    pub agent_health: Option<u32>,
    /// The agent's last check.
    pub agent_check: Option<CheckSnap>,
}

/// One backend.
#[derive(Debug, Clone, Default)]
pub struct BackendSnap {
    /// Name.
    pub name: String,
    /// Servers.
    pub servers: Vec<ServerSnap>,
    /// Usable active and backup servers.
    pub act: usize,
    /// Usable backups.
    pub bck: usize,
    /// Total sessions.
    pub total: u64,
    /// Queue.
    pub queued: u32,
    /// Bytes in / out.
    pub bytes: (u64, u64),
    /// 503 for lack of server.
    pub no_server: u64,
    /// HAProxy's proxy id.
    pub iid: usize,
    /// `tcp` or `http`.
    pub mode: &'static str,
}

/// One frontend.
#[derive(Debug, Clone, Default)]
pub struct FrontendSnap {
    /// Name.
    pub name: String,
    /// Current connections.
    pub cur: u32,
    /// Total connections.
    pub total: u64,
    /// HTTP requests.
    pub requests: u64,
    /// Denied.
    pub denied: u64,
    /// Connections rejected by tcp-request connection|session rules.
    pub denied_conn: u64,
    /// TLS handshakes that failed (`bind ... ssl`).
    pub tls_failed: u64,
    /// Responses by class.
    pub hrsp: [u64; 6],
    /// Bytes in / out.
    pub bytes: (u64, u64),
    /// Limit.
    pub limit: u32,
    /// HAProxy's proxy id.
    pub iid: usize,
    /// `tcp` or `http`.
    pub mode: &'static str,
}

/// Everything at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Frontends.
    pub frontends: Vec<FrontendSnap>,
    /// Backends.
    pub backends: Vec<BackendSnap>,
}

fn check_code(reason: &str) -> &'static str {
    match reason {
        "Layer4 check passed" => "L4OK",
        "Layer4 connection problem" => "L4CON",
        "Layer4 timeout" => "L4TOUT",
        "Layer6 invalid response" => "L6RSP",
        "Layer7 check passed" => "L7OK",
        "Layer7 wrong status" => "L7STS",
        "Layer7 timeout" => "L7TOUT",
        "Layer7 invalid response" => "L7RSP",
        "External check error" => "PROCERR",
        "External check timeout" => "PROCTOUT",
        "External check passed" => "PROCOK",
        crate::backend::agent::NO_CHANGE => "CHECKED",
        _ => "UNK",
    }
}

/// Takes a snapshot of a graph.
pub fn snapshot(g: &Graph) -> Snapshot {
    let frontends = g
        .frontends
        .iter()
        .map(|f| {
            let s = &f.shared;
            FrontendSnap {
                name: f.name.clone(),
                cur: s.cur.load(Relaxed),
                total: s.total.load(Relaxed),
                requests: s.requests.load(Relaxed),
                denied: s.denied.load(Relaxed),
                denied_conn: s.denied_conn.load(Relaxed),
                tls_failed: s.tls_failed.load(Relaxed),
                hrsp: std::array::from_fn(|i| s.status[i].load(Relaxed)),
                bytes: (s.bytes_in.load(Relaxed), s.bytes_out.load(Relaxed)),
                limit: s.maxconn.unwrap_or(0),
                iid: g.uuid(f.proxy_id),
                mode: f.mode.as_str(),
            }
        })
        .collect();
    let backends = g
        .backends
        .iter()
        .map(|b| {
            let servers: Vec<ServerSnap> = b
                .servers
                .iter()
                .map(|sv| {
                    let st = &sv.state;
                    let c = st.check.lock().unwrap_or_else(|e| e.into_inner());
                    let status = match st.admin() {
                        Admin::Maint if st.resolution_maint() => "MAINT (resolution)".to_string(),
                        Admin::Maint => "MAINT".to_string(),
                        Admin::Drain if st.is_up() => "DRAIN".to_string(),
                        _ if st.is_up() && st.is_nolb() => "NOLB".to_string(),
                        _ if !sv.cfg.check => if st.is_up() { "UP" } else { "DOWN" }.to_string(),
                        _ => c.health.status_text(),
                    };
                    ServerSnap {
                        name: sv.name.clone(),
                        status,
                        backup: sv.cfg.backup,
                        weight: st.weight(),
                        cur: st.cur.load(Relaxed),
                        max: st.max.load(Relaxed),
                        limit: sv.maxconn(),
                        total: st.total.load(Relaxed),
                        bytes: (st.bytes_in.load(Relaxed), st.bytes_out.load(Relaxed)),
                        econ: st.conn_errors.load(Relaxed),
                        eresp: st.resp_errors.load(Relaxed),
                        retries: (st.retries.load(Relaxed), st.redispatches.load(Relaxed)),
                        hrsp: std::array::from_fn(|i| st.status[i].load(Relaxed)),
                        check: c.last.as_ref().map(|o| CheckSnap {
                            code_name: check_code(o.reason),
                            http_code: o.code,
                            duration_ms: o.duration.as_millis() as u64,
                            desc: o.describe(),
                            reason: o.reason,
                        }),
                        chkfail: c.failed_checks,
                        chkdown: c.down_transitions,
                        consecutive_failures: c.consecutive_failures,
                        downtime: c.downtime().as_secs(),
                        errors: c.errors,
                        lastchg: c.last_change.elapsed().as_secs(),
                        avg_ms: st.rt.avg_ms(),
                        p50_ms: st.rt.percentile_ms(50.0),
                        p99_ms: st.rt.percentile_ms(99.0),
                        queued: st.queued.load(Relaxed),
                        checked: sv.cfg.check,
                        addr: match sv.unix {
                            Some(_) => "unix".into(),
                            None => sv.addr.to_string(),
                        },
                        health: (sv.cfg.rise, sv.cfg.fall, c.health.value()),
                        agent_health: sv.cfg.agent.enabled.then(|| c.agent.health.value()),
                        agent_check: c.agent.last.as_ref().map(|o| CheckSnap {
                            code_name: check_code(o.reason),
                            http_code: o.code,
                            duration_ms: o.duration.as_millis() as u64,
                            desc: o.info.clone().unwrap_or_default(),
                            reason: o.reason,
                        }),
                    }
                })
                .collect();
            let (act, bck) = b.usable_counts();
            // A backend's bytes are its servers' (counted once, in tcp and http mode).
            let bytes = servers.iter().fold((0, 0), |(i, o), s: &ServerSnap| {
                (i + s.bytes.0, o + s.bytes.1)
            });
            BackendSnap {
                name: b.name.clone(),
                servers,
                act,
                bck,
                total: b.shared.total.load(Relaxed),
                queued: b.shared.queued.load(Relaxed),
                bytes,
                no_server: b.shared.no_server.load(Relaxed),
                iid: g.uuid(b.proxy_id),
                mode: b.mode.as_str(),
            }
        })
        .collect();
    Snapshot {
        frontends,
        backends,
    }
}

/// HAProxy 2.6's `show stat` header: all its 103 fields in its order (tools read them
/// by position). lbd leaves empty the ones it does not measure, as HAProxy does for
/// fields that do not apply.
pub const CSV_HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_check_status,agg_server_status,agg_check_status,";

/// One CSV row, filled by column name.
struct Row(Vec<String>);

impl Row {
    fn new() -> Self {
        Row(vec![
            String::new();
            CSV_HEADER[2..].trim_end_matches(',').split(',').count()
        ])
    }
    fn set(&mut self, col: &str, v: impl ToString) -> &mut Self {
        if let Some(i) = CSV_HEADER[2..].split(',').position(|c| c == col) {
            self.0[i] = v.to_string();
        }
        self
    }
    fn hrsp(&mut self, h: &[u64; 6]) -> &mut Self {
        for (i, c) in [
            "hrsp_1xx",
            "hrsp_2xx",
            "hrsp_3xx",
            "hrsp_4xx",
            "hrsp_5xx",
            "hrsp_other",
        ]
        .iter()
        .enumerate()
        {
            self.set(c, h[i]);
        }
        self
    }
    fn write(&self, o: &mut String) {
        o.push_str(&self.0.join(","));
        o.push_str(",\n");
    }
}

/// A text field of the CSV, quoted as HAProxy's `csv_enc` quotes one that holds a
/// comma, a double quote or a line break.
fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders HAProxy's CSV.
pub fn csv(s: &Snapshot) -> String {
    let pid = std::process::id();
    let mut o = String::new();
    o.push_str(CSV_HEADER);
    o.push('\n');
    for f in &s.frontends {
        Row::new()
            .set("pxname", &f.name)
            .set("svname", "FRONTEND")
            .set("scur", f.cur)
            .set("slim", f.limit)
            .set("stot", f.total)
            .set("bin", f.bytes.0)
            .set("bout", f.bytes.1)
            .set("dreq", f.denied)
            .set("status", "OPEN")
            .set("pid", pid)
            .set("iid", f.iid)
            .set("sid", 0)
            .set("type", 0)
            .set("req_tot", f.requests)
            .set("mode", f.mode)
            .set("conn_tot", f.total)
            .set("dcon", f.denied_conn)
            .hrsp(&f.hrsp)
            .write(&mut o);
    }
    for b in &s.backends {
        for (sid, sv) in b.servers.iter().enumerate() {
            let mut r = Row::new();
            r.set("pxname", &b.name)
                .set("svname", &sv.name)
                .set("qcur", sv.queued)
                // Requests queue in the backend, never on a server: its highest
                // queue is 0 (HAProxy shows the field for every server).
                .set("qmax", 0)
                .set("scur", sv.cur)
                .set("smax", sv.max)
                .set("stot", sv.total)
                .set("bin", sv.bytes.0)
                .set("bout", sv.bytes.1)
                .set("econ", sv.econ)
                .set("eresp", sv.eresp)
                .set("wretr", sv.retries.0)
                .set("wredis", sv.retries.1)
                .set(
                    "status",
                    if sv.checked || sv.status != "UP" {
                        sv.status.clone()
                    } else {
                        "no check".to_string()
                    },
                )
                .set("weight", sv.weight)
                .set("act", u8::from(!sv.backup))
                .set("bck", u8::from(sv.backup))
                .set("chkfail", sv.chkfail)
                .set("chkdown", sv.chkdown)
                .set("lastchg", sv.lastchg)
                .set("downtime", sv.downtime)
                .set("pid", pid)
                .set("iid", b.iid)
                .set("sid", sid + 1)
                .set("lbtot", sv.total)
                .set("type", 2)
                .set("hanafail", sv.errors)
                .set("addr", &sv.addr)
                .set("mode", b.mode)
                .set("uweight", sv.weight)
                .hrsp(&sv.hrsp);
            if sv.checked {
                r.set("check_rise", sv.health.0)
                    .set("check_fall", sv.health.1)
                    .set("check_health", sv.health.2);
            }
            if sv.limit != 0 {
                r.set("slim", sv.limit);
            }
            if let Some(h) = sv.agent_health {
                r.set("agent_rise", 1)
                    .set("agent_fall", 1)
                    .set("agent_health", h);
            }
            if let Some(a) = &sv.agent_check {
                r.set("agent_status", a.code_name)
                    .set("agent_duration", a.duration_ms)
                    .set("agent_desc", csv_text(a.reason))
                    .set("last_agt", csv_text(&a.desc));
                if let Some(code) = a.http_code {
                    r.set("agent_code", code);
                }
            }
            if let Some(c) = &sv.check {
                r.set("check_status", c.code_name)
                    .set("check_duration", c.duration_ms);
                if let Some(code) = c.http_code {
                    r.set("check_code", code);
                }
            }
            r.write(&mut o);
        }
        let weight: u32 = b
            .servers
            .iter()
            .filter(|s| s.status.starts_with("UP") && !s.backup)
            .map(|s| s.weight)
            .sum();
        let cur: u32 = b.servers.iter().map(|s| s.cur).sum();
        Row::new()
            .set("pxname", &b.name)
            .set("svname", "BACKEND")
            .set("qcur", b.queued)
            .set("scur", cur)
            .set("stot", b.total)
            .set("bin", b.bytes.0)
            .set("bout", b.bytes.1)
            // HAProxy: a backend without servers (`listen stats`) is UP, not DOWN.
            .set(
                "status",
                if b.act + b.bck > 0 || b.servers.is_empty() {
                    "UP"
                } else {
                    "DOWN"
                },
            )
            .set("weight", weight)
            .set("act", b.act)
            .set("bck", b.bck)
            .set("pid", pid)
            .set("iid", b.iid)
            .set("sid", 0)
            .set("lbtot", b.total)
            .set("type", 1)
            .set("mode", b.mode)
            .set("uweight", weight)
            .write(&mut o);
    }
    o
}

/// Escapes a string for JSON.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Renders the snapshot as JSON.
pub fn json(s: &Snapshot) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\"version\":{},\"pid\":{},\"uptime_s\":{},\"frontends\":[",
        json_str(env!("CARGO_PKG_VERSION")),
        std::process::id(),
        uptime_s()
    );
    for (i, f) in s.frontends.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(
            o,
            "{{\"name\":{},\"cur\":{},\"total\":{},\"requests\":{},\"denied\":{},\"denied_conn\":{},\"tls_failed\":{},\"hrsp\":[{},{},{},{},{},{}],\"bytes_in\":{},\"bytes_out\":{}}}",
            json_str(&f.name), f.cur, f.total, f.requests, f.denied, f.denied_conn, f.tls_failed,
            f.hrsp[0], f.hrsp[1], f.hrsp[2], f.hrsp[3], f.hrsp[4], f.hrsp[5], f.bytes.0, f.bytes.1
        );
    }
    o.push_str("],\"backends\":[");
    for (i, b) in s.backends.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(
            o,
            "{{\"name\":{},\"active\":{},\"backup\":{},\"total\":{},\"queued\":{},\"no_server\":{},\"bytes_in\":{},\"bytes_out\":{},\"servers\":[",
            json_str(&b.name), b.act, b.bck, b.total, b.queued, b.no_server, b.bytes.0, b.bytes.1
        );
        for (j, sv) in b.servers.iter().enumerate() {
            if j > 0 {
                o.push(',');
            }
            let check = match &sv.check {
                Some(c) => format!(
                    "{{\"status\":{},\"code\":{},\"duration_ms\":{},\"desc\":{}}}",
                    json_str(c.code_name),
                    c.http_code.map_or("null".into(), |c| c.to_string()),
                    c.duration_ms,
                    json_str(&c.desc)
                ),
                None => "null".into(),
            };
            let _ = write!(
                o,
                "{{\"name\":{},\"status\":{},\"backup\":{},\"weight\":{},\"cur\":{},\"max\":{},\"total\":{},\"bytes_in\":{},\"bytes_out\":{},\"econ\":{},\"eresp\":{},\"retries\":{},\"redispatches\":{},\"hrsp\":[{},{},{},{},{},{}],\"check\":{check},\"chkfail\":{},\"chkdown\":{},\"consecutive_failures\":{},\"downtime_s\":{},\"consecutive_errors\":{},\"lastchg_s\":{},\"avg_ms\":{:.3},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"queued\":{}}}",
                json_str(&sv.name), json_str(&sv.status), sv.backup, sv.weight, sv.cur, sv.max, sv.total,
                sv.bytes.0, sv.bytes.1, sv.econ, sv.eresp, sv.retries.0, sv.retries.1,
                sv.hrsp[0], sv.hrsp[1], sv.hrsp[2], sv.hrsp[3], sv.hrsp[4], sv.hrsp[5],
                sv.chkfail, sv.chkdown, sv.consecutive_failures, sv.downtime, sv.errors, sv.lastchg, sv.avg_ms, sv.p50_ms, sv.p99_ms, sv.queued
            );
        }
        o.push_str("]}");
    }
    o.push_str("]}");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        assert_eq!(json_str("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn csv_rows_have_the_header_field_count() {
        let cfg = crate::config::parse_str(
            "t.cfg",
            "defaults\n mode http\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nfrontend f\n bind 127.0.0.1:1\n default_backend b\nbackend b\n server s1 127.0.0.1:2\n server s2 127.0.0.1:3 backup\n",
        )
        .config
        .unwrap();
        let g = Graph::build(cfg, None);
        let out = csv(&snapshot(&g));
        let fields = CSV_HEADER.split(',').count();
        for line in out.lines() {
            assert_eq!(line.split(',').count(), fields, "{line}");
        }
        assert!(out.contains("\nb,s1,"));
        assert!(out.contains("\nb,BACKEND,"));
        assert!(out.contains("\nf,FRONTEND,"));
        let j = json(&snapshot(&g));
        assert!(j.contains("\"name\":\"s2\",\"status\":\"UP\",\"backup\":true"));
    }
}
