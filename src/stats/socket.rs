//! The runtime socket (`stats socket PATH [mode M] [level L]`): HAProxy's line commands,
//! so `echo "disable server web/s1" | socat stdio /run/lbd.sock` scripts keep working.
//!
//! One command per connection (several separated by `;`), or `prompt` for an
//! interactive session. Changes apply at once to the running graph's shared server
//! state, so they survive reloads.

use crate::backend::state::Admin;
use crate::config::model::{StatsLevel, StatsSocket};
use crate::graph::GraphHandle;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// What the socket asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `reload`: read the configuration files again.
    Reload,
    /// A server list changed (`add server`, `del server`, `set server addr`): start
    /// and stop the check tasks to match.
    ServersChanged,
}

/// What the socket can call back into.
pub type ReloadFn = Arc<dyn Fn(Control) -> Result<String, String> + Send + Sync>;

const HELP: &str = "The following commands are valid at this level:
  help                                    : this message
  prompt                                  : toggle interactive mode with prompt
  quit                                    : disconnect
  show info                               : report information about the running process
  show stat                               : report counters for each proxy and server (CSV)
  show servers state [<backend>]          : dump volatile server information
  show backend                            : list backends in the current running config
  show peers [<peers section>]            : dump some information about all the peers
  show table [<name>] [data.<type> <op> <v>]... [key <k>] : list tables, or dump one
  clear table <name> [data.<type> <op> <v>]... [key <k>] : remove entries
  set table <name> key <k> [data.<type> <v>]...          : update or create an entry
  add server <bk>/<srv> <addr> [args]*   : create a new server
  del server <bk>/<srv>                   : remove a dynamically added server
  set server <bk>/<srv> addr <ip> [port <p>] : change a server's address
  set server <bk>/<srv> fqdn <fqdn>       : change a server's FQDN
  enable|disable health <bk>/<srv>        : start or stop a server's health checks
  enable|disable agent <bk>/<srv>         : start or stop a server's agent checks
  disable server <bk>/<srv>               : disable a server for maintenance
  enable server <bk>/<srv>                : enable a disabled server
  set server <bk>/<srv> state <st>        : set a server's state: ready, drain or maint
  set server <bk>/<srv> weight <w>[%]     : change a server's weight
  set weight <bk>/<srv> <w>[%]            : change a server's weight
  get weight <bk>/<srv>                   : report a server's current weight
  get var <name>                          : retrieve contents of a process-wide variable
  experimental-mode [on|off]              : toggle experimental mode (set var)
  reload                                  : reload the configuration files
  show acl [@<ver>] [<acl>]               : report available acls or dump an acl's contents
  get acl <acl> <value>                   : report the patterns matching a sample for an ACL
  add acl [@<ver>] <acl> <pattern>        : add an acl entry
  del acl <acl> [<key>|#<ref>]            : delete acl entries matching <key>
  clear acl [@<ver>] <acl>                : clear the contents of this acl
  prepare acl <acl>                       : prepare a new version for atomic ACL replacement
  commit acl @<ver> <acl>                 : commit the ACL at this version
  show map [@<ver>] [<map>]               : report available maps or dump a map's contents
  get map <map> <value>                   : report the keys and values matching a sample for a map
  add map [@<ver>] <map> <key> <val>      : add a map entry (payload supported instead of key/val)
  set map <map> [<key>|#<ref>] <value>    : modify a map entry
  del map <map> [<key>|#<ref>]            : delete map entries matching <key>
  clear map [@<ver>] <map>                : clear the contents of this map
  prepare map <map>                       : prepare a new version for atomic map replacement
  commit map @<ver> <map>                 : commit the map at this version
  show ssl cert [<certfile>]              : display the SSL certificates used in memory, or the details of a file
  set ssl cert <certfile> <payload>       : replace a certificate file
  commit ssl cert <certfile>              : commit a certificate file
  abort ssl cert <certfile>               : abort a transaction for a certificate file
  new ssl cert <certfile>                 : create a new certificate file to be used in a crt-list or a directory
  del ssl cert <certfile>                 : delete an unused certificate file
  new ssl ca-file <cafile>                : create a new CA file to be used in a crt-list
  set ssl ca-file <cafile> <payload>      : replace a CA file
  commit ssl ca-file <cafile>             : commit a CA file
  abort ssl ca-file <cafile>              : abort a transaction for a CA file
  del ssl ca-file <cafile>                : delete an unused CA file
  show ssl ca-file [<cafile>[:<index>]]   : display the SSL CA files used in memory, or the details of a <cafile>, or a single certificate of index <index> of a CA file <cafile>
  new ssl crlfile <crlfile>               : create a new CRL file to be used in a crt-list
  set ssl crl-file <crlfile> <payload>    : replace a CRL file
  commit ssl crl-file <crlfile>           : commit a CRL file
  abort ssl crl-file <crlfile>            : abort a transaction for a CRL file
  del ssl crl-file <crlfile>              : delete an unused CRL file
  show ssl crl-file [<crlfile[:<index>>]] : display the SSL CRL files used in memory, or the details of a <crlfile>, or a single CRL of index <index> of CRL file <crlfile>
  add ssl crt-list <list> <cert> [opts]*  : add to crt-list file <list> a line <cert> or a payload
  del ssl crt-list <list> <cert[:line]>   : delete a line <cert> from crt-list file <list>
  show ssl crt-list [-n] [<list>]         : show the list of crt-lists or the content of <list>
";

/// One line of `show servers state`, HAProxy 2.6's 25 fields.
fn server_state_line(
    g: &crate::graph::Graph,
    b: &crate::backend::Backend,
    si: usize,
    s: &crate::backend::ServerRt,
) -> String {
    let st = &s.state;
    let c = crate::backend::status::cell(st);
    let admin = st.admin();
    // srv_op_state: SRV_ST_STOPPED 0, SRV_ST_RUNNING 2.
    let op = if st.is_up() && admin != Admin::Maint {
        2
    } else {
        0
    };
    // srv_admin_state: SRV_ADMF_FMAINT 0x01, SRV_ADMF_CMAINT 0x04 (`disabled` in the
    // config), SRV_ADMF_FDRAIN 0x08;
    // SRV_ADMF_IMAINT 0x02: maintenance inherited from the server tracked.
    let adm = match st.forced_admin() {
        Admin::Ready => 0,
        Admin::Maint if st.config_disabled.load(Relaxed) => 5,
        Admin::Maint => 1,
        Admin::Drain => 8,
    } | if st.resolution_maint() { 0x20 } else { 0 }
        | if st.inherited_maint() { 2 } else { 0 };
    // srv_fqdn and srvrecord of a server DNS resolves (SRV_ADMF_RMAINT 0x20 above).
    let (fqdn, srvrecord) = super::servers::dns_names(g, b, s);
    // srv_check_status (HCHK_STATUS_*; INI 1 before the first result), srv_check_result
    // (CHK_RES_UNKNOWN 0, FAILED 2, PASSED 3), srv_check_state (CHK_ST_CONFIGURED 0x2 |
    // CHK_ST_ENABLED 0x4, PAUSED 0x8 in maintenance).
    let (status, result, state) = if s.cfg.check {
        let (status, result) = match &c.last {
            Some(o) => (
                crate::backend::status::check_status_code(o.reason),
                if o.ok { 3 } else { 2 },
            ),
            None => (1, 0),
        };
        let paused = if admin == Admin::Maint { 8 } else { 0 };
        let enabled = if st.check_enabled() { 4 } else { 0 };
        (status, result, 2 | enabled | paused)
    } else {
        (1, 0, 0)
    };
    // srv_agent_state: CHK_ST_CONFIGURED | CHK_ST_ENABLED | CHK_ST_AGENT (0x10); the
    // agent runs in maintenance too.
    let agent = &s.cfg.agent;
    let agent_state = match (agent.enabled, st.agent_enabled()) {
        (false, _) => 0,
        (true, on) => 0x12 | if on { 4 } else { 0 },
    };
    // srv_use_ssl: 1 `ssl`, -1 `no-ssl`, 0 neither (or `set server ... ssl off`).
    let use_ssl = match (s.cfg.tls.ssl, s.cfg.tls.no_ssl) {
        (true, _) => 1,
        (false, true) => -1,
        (false, false) => 0,
    };
    format!(
        "{} {} {} {} {} {op} {adm} {} {} {} {status} {result} {} {state} {agent_state} 0 0 {fqdn} {} {srvrecord} {use_ssl} {} {} {} {}\n",
        g.uuid(b.proxy_id),
        b.name,
        si + 1,
        s.name,
        s.addr_text().0,
        st.weight(),
        st.config_weight.load(Relaxed),
        c.last_change.elapsed().as_secs(),
        // An unchecked server's health stays at `rise`, as in HAProxy.
        if s.cfg.check {
            c.health.value()
        } else {
            c.health.rise()
        },
        s.addr_text().1,
        s.cfg.check_port.unwrap_or(0),
        s.cfg.check_addr.map_or("-".to_string(), |a| a.to_string()),
        agent.addr.map_or("-".to_string(), |a| a.to_string()),
        agent.port.unwrap_or(0),
    )
}

/// Sets a server's administrative state and logs the change in HAProxy's words.
fn set_admin(g: &crate::graph::Graph, s: &crate::backend::ServerRt, to: Admin) -> String {
    let from = s.state.admin();
    s.state.set_admin(to);
    // A tracking server stays in the maintenance it inherits.
    let to = s.state.admin();
    if let Some(&bi) = g.be_index.get(&s.backend) {
        crate::backend::status::admin_change(&g.backends[bi], s, from, to);
    }
    String::new()
}

/// Executes one command line; returns the response text.
pub fn execute(
    line: &str,
    level: StatsLevel,
    handle: &GraphHandle,
    reload: Option<&ReloadFn>,
) -> String {
    execute_in(line, level, false, handle, reload)
}

/// [`execute`] in a session that may have turned `experimental-mode` on.
pub fn execute_in(
    line: &str,
    level: StatsLevel,
    experimental: bool,
    handle: &GraphHandle,
    reload: Option<&ReloadFn>,
) -> String {
    execute_with(line, None, level, experimental, handle, reload)
}

/// Executes one command line with the payload that followed it (`<<`).
pub fn execute_with(
    line: &str,
    payload: Option<&str>,
    level: StatsLevel,
    experimental: bool,
    handle: &GraphHandle,
    reload: Option<&ReloadFn>,
) -> String {
    let toks = super::cliwords::words(line);
    let words: Vec<&str> = toks.iter().map(String::as_str).collect();
    let admin = || -> Option<String> {
        (level < StatsLevel::Admin).then(|| "Permission denied\n".to_string())
    };
    let operator = || -> Option<String> {
        (level < StatsLevel::Operator).then(|| "Permission denied\n".to_string())
    };
    let g = handle.load_full();
    let find = |spec: &str| super::servers::find(&g, spec).map(|(_, s)| s);
    let set_weight = |spec: &str, w: &str| -> String {
        let sv = match find(spec) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let value = if let Some(p) = w.strip_suffix('%') {
            match p.parse::<u32>() {
                Ok(p) if p <= 100 => sv.state.config_weight.load(Relaxed) * p / 100,
                _ => return "Invalid weight percentage (0-100).\n".into(),
            }
        } else {
            match w.parse::<u32>() {
                Ok(v) if v <= 256 => v,
                _ => return "Absolute weight can only be between 0 and 256 inclusive.\n".into(),
            }
        };
        sv.state.set_weight(value);
        String::new()
    };
    match words.as_slice() {
        [] => String::new(),
        ["help"] => HELP.into(),
        ["show", "info"] => {
            let maxconn: usize = g
                .frontends
                .iter()
                .map(|f| f.shared.cur.load(Relaxed) as usize)
                .sum();
            format!(
                "Name: lbd\nVersion: {}\nProcess_num: 1\nPid: {}\nUptime_sec: {}\nCurrConns: {maxconn}\nCumConns: {}\nCumReq: {}\nFrontends: {}\nBackends: {}\n",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                super::uptime_s(),
                g.frontends.iter().map(|f| f.shared.total.load(Relaxed)).sum::<u64>(),
                g.frontends.iter().map(|f| f.shared.requests.load(Relaxed)).sum::<u64>(),
                g.frontends.len(),
                g.backends.len()
            )
        }
        ["show", "stat", ..] => super::csv(&super::snapshot(&g)),
        ["show", "backend"] => {
            let mut o = "# name\n".to_string();
            for b in &g.backends {
                o.push_str(&b.name);
                o.push('\n');
            }
            o
        }
        ["show", "servers", "state", rest @ ..] => {
            let only = rest.first().copied();
            if only.is_some_and(|b| !g.be_index.contains_key(b)) {
                return "Can't find backend.\n".into();
            }
            let mut o = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n".to_string();
            for b in &g.backends {
                if only.is_some_and(|n| n != b.name) {
                    continue;
                }
                for (si, s) in b.servers.iter().enumerate() {
                    o.push_str(&server_state_line(&g, b, si, s));
                }
            }
            o
        }
        ["show" | "set" | "commit" | "abort" | "new" | "del", "ssl", "cert", ..] => {
            super::certs::command(&g, level, &words, payload)
        }
        ["show" | "set" | "commit" | "abort" | "new" | "del", "ssl", "ca-file" | "crl-file", ..] => {
            super::cafile::command(&g, level, &words, payload)
        }
        ["show" | "add" | "del", "ssl", "crt-list", ..] => {
            super::crtlist::command(&g, level, &words, payload)
        }
        ["show" | "clear" | "set", "table", ..] => super::tables::command(&g, level, &words),
        ["show" | "get" | "add" | "del" | "clear" | "prepare" | "commit", "acl" | "map", ..]
        | ["set", "map", ..] => super::patterns::command(&g.config.pat_refs, &words, payload),
        ["show", "peers", rest @ ..] => {
            let name = rest.iter().copied().find(|w| !matches!(*w, "dict" | "-"));
            crate::stick::peers::show(name).unwrap_or_else(|e| e)
        }
        ["get", "var", rest @ ..] => {
            operator().unwrap_or_else(|| super::vars::get(&g, rest.first().copied()))
        }
        ["set", "var", rest @ ..] if experimental => {
            operator().unwrap_or_else(|| super::vars::set(&g, rest))
        }
        ["set", "var", ..] => "This command is restricted to experimental mode only.\n".into(),
        ["disable", "server", spec] => admin().unwrap_or_else(|| match find(spec) {
            Ok(s) => set_admin(&g, &s, Admin::Maint),
            Err(e) => e,
        }),
        ["enable", "server", spec] => admin().unwrap_or_else(|| match find(spec) {
            Ok(s) => set_admin(&g, &s, Admin::Ready),
            Err(e) => e,
        }),
        ["set", "server", spec, "state", st] => admin().unwrap_or_else(|| match find(spec) {
            Ok(s) => match *st {
                "ready" => set_admin(&g, &s, Admin::Ready),
                "drain" => set_admin(&g, &s, Admin::Drain),
                "maint" => set_admin(&g, &s, Admin::Maint),
                _ => "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into(),
            },
            Err(e) => e,
        }),
        ["set", "server", spec, "weight", w] | ["set", "weight", spec, w] => {
            admin().unwrap_or_else(|| set_weight(spec, w))
        }
        ["get", "weight", spec] => operator().unwrap_or_else(|| match find(spec) {
            Ok(s) => format!(
                "{} (initial {})\n",
                s.state.weight(),
                s.state.config_weight.load(Relaxed)
            ),
            Err(e) => e,
        }),
        ["add" | "del", "server", ..]
        | ["set", "server", _, "addr" | "fqdn" | "ssl", ..]
        | ["enable" | "disable", "health" | "agent", ..] => admin().unwrap_or_else(|| {
            let changed = || {
                if let Some(r) = reload {
                    let _ = r(Control::ServersChanged);
                }
            };
            super::servers::command(handle, &words, &changed)
        }),
        ["reload"] => admin().unwrap_or_else(|| match reload {
            Some(r) => match r(Control::Reload) {
                Ok(msg) => format!("Success=1\n--\n{msg}\n"),
                Err(msg) => format!("Success=0\n--\n{msg}\n"),
            },
            None => "Reload is not available here.\n".into(),
        }),
        _ => format!("Unknown command: '{line}'\n{HELP}"),
    }
}

/// The largest payload a command takes (a certificate with its chain is a few KiB).
const MAX_PAYLOAD: usize = 1 << 20;

/// A line ending with `<<` is followed by a payload, up to an empty line; it goes to
/// the line's last command. Strips the `<<` from `line` and reads the payload, or
/// gives the message to answer when it is too large.
pub(super) async fn read_payload<R>(
    line: &mut String,
    lines: &mut tokio::io::Lines<R>,
) -> Result<Option<String>, String>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let Some(cmd) = line.trim_end().strip_suffix("<<") else {
        return Ok(None);
    };
    *line = cmd.to_string();
    let mut p = String::new();
    let mut too_large = false;
    while let Ok(Some(l)) = lines.next_line().await {
        if l.is_empty() {
            break;
        }
        // Past the limit the payload is read to its end but not kept.
        too_large |= p.len() + l.len() >= MAX_PAYLOAD;
        if !too_large {
            p.push_str(&l);
            p.push('\n');
        }
    }
    if too_large {
        return Err(format!(
            "Payload too large: at most {MAX_PAYLOAD} bytes.\n\n"
        ));
    }
    Ok(Some(p))
}

async fn session<S>(stream: S, level: StatsLevel, handle: GraphHandle, reload: Option<ReloadFn>)
where
    S: tokio::io::AsyncRead + AsyncWrite + Unpin,
{
    let (r, mut w) = tokio::io::split(stream);
    let mut lines = BufReader::new(r).lines();
    let mut interactive = false;
    let mut experimental = false;
    while let Ok(Some(mut line)) = lines.next_line().await {
        let mut payload = match read_payload(&mut line, &mut lines).await {
            Ok(p) => p,
            Err(msg) => {
                let _ = w.write_all(msg.as_bytes()).await;
                break;
            }
        };
        let mut out = String::new();
        let mut quit = false;
        let cmds: Vec<&str> = super::cliwords::commands(&line)
            .into_iter()
            .map(str::trim)
            .collect();
        let last = cmds.len() - 1;
        for (i, cmd) in cmds.into_iter().enumerate() {
            match cmd {
                "prompt" => interactive = !interactive,
                "quit" => quit = true,
                c if c.split_whitespace().next() == Some("experimental-mode") => {
                    let arg = c.split_whitespace().nth(1);
                    if level < StatsLevel::Admin {
                        out.push_str("Permission denied\n");
                    } else if let Some(a) = arg {
                        experimental = a == "on";
                    } else {
                        let on = if experimental { "ON" } else { "OFF" };
                        out.push_str(&format!("experimental-mode is {on}\n"));
                    }
                    out.push('\n');
                }
                c => {
                    let h = handle.clone();
                    let r = reload.clone();
                    let c = c.to_string();
                    let p = if i == last { payload.take() } else { None };
                    // Reload parses files: keep it off the async workers.
                    let res = tokio::task::spawn_blocking(move || {
                        execute_with(&c, p.as_deref(), level, experimental, &h, r.as_ref())
                    })
                    .await
                    .unwrap_or_default();
                    out.push_str(&res);
                    out.push('\n');
                }
            }
        }
        if interactive && !quit {
            out.push_str("> ");
        }
        if w.write_all(out.as_bytes()).await.is_err() || quit || !interactive {
            break;
        }
    }
    let _ = w.shutdown().await;
}

/// Which protocol a socket speaks: the runtime API, or the master CLI (`-S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// `stats socket`: the runtime API.
    Worker,
    /// `-S`: the master CLI, which routes `@1 CMD` to the runtime API.
    Master,
}

/// Serves one connection with the protocol of `cli`.
fn serve_one<S>(cli: Cli, s: S, level: StatsLevel, handle: GraphHandle, reload: ReloadFn)
where
    S: tokio::io::AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match cli {
        Cli::Worker => tokio::spawn(session(s, level, handle, Some(reload))),
        Cli::Master => tokio::spawn(super::master::session(s, handle, reload)),
    };
}

/// Opens and serves a runtime socket until the task is aborted.
pub fn spawn(
    cfg: &StatsSocket,
    handle: GraphHandle,
    reload: ReloadFn,
) -> Result<tokio::task::JoinHandle<()>, String> {
    spawn_as(Cli::Worker, cfg, handle, reload)
}

/// Opens and serves a socket speaking `cli` until the task is aborted.
pub fn spawn_as(
    cli: Cli,
    cfg: &StatsSocket,
    handle: GraphHandle,
    reload: ReloadFn,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let level = cfg.level;
    let path = cfg.path.clone();
    if let Some(n) = path.strip_prefix("fd@") {
        return inherited(cli, n, level, handle, reload);
    }
    if let Some(name) = path.strip_prefix("abns@") {
        let err = |e: std::io::Error| {
            format!(
                "stats socket: cannot bind '{path}': {}",
                crate::config::io_text(&e)
            )
        };
        let addr = crate::config::value::abns_addr(name).map_err(err)?;
        let std = std::os::unix::net::UnixListener::bind_addr(&addr).map_err(err)?;
        std.set_nonblocking(true).map_err(err)?;
        let l = tokio::net::UnixListener::from_std(std).map_err(err)?;
        return Ok(serve_unix(cli, l, level, handle, reload));
    }
    let tcp = path
        .strip_prefix("ipv4@")
        .or_else(|| path.strip_prefix("ipv6@"))
        .map(str::to_string)
        .or_else(|| (!path.starts_with('/') && !path.starts_with("unix@")).then(|| path.clone()));
    if let Some(addr) = tcp {
        let addr: std::net::SocketAddr = addr
            .parse()
            .map_err(|_| format!("stats socket: invalid address '{addr}'"))?;
        let std = std::net::TcpListener::bind(addr).map_err(|e| {
            format!(
                "stats socket: cannot bind {addr}: {}",
                crate::config::io_text(&e)
            )
        })?;
        std.set_nonblocking(true).map_err(|e| e.to_string())?;
        let l = tokio::net::TcpListener::from_std(std).map_err(|e| e.to_string())?;
        return Ok(serve_tcp(cli, l, level, handle, reload));
    }
    let p = path.strip_prefix("unix@").unwrap_or(&path).to_string();
    let _ = std::fs::remove_file(&p);
    let std = std::os::unix::net::UnixListener::bind(&p).map_err(|e| {
        format!(
            "stats socket: cannot bind '{p}': {}",
            crate::config::io_text(&e)
        )
    })?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(cfg.mode));
    }
    std.set_nonblocking(true).map_err(|e| e.to_string())?;
    let l = tokio::net::UnixListener::from_std(std).map_err(|e| e.to_string())?;
    Ok(serve_unix(cli, l, level, handle, reload))
}

/// Serves runtime-API sessions on a TCP listener until the task is aborted.
fn serve_tcp(
    cli: Cli,
    l: tokio::net::TcpListener,
    level: StatsLevel,
    handle: GraphHandle,
    reload: ReloadFn,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            serve_one(cli, s, level, handle.clone(), reload.clone());
        }
    })
}

/// Serves runtime-API sessions on a unix listener until the task is aborted.
fn serve_unix(
    cli: Cli,
    l: tokio::net::UnixListener,
    level: StatsLevel,
    handle: GraphHandle,
    reload: ReloadFn,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            serve_one(cli, s, level, handle.clone(), reload.clone());
        }
    })
}

/// Serves a runtime socket on a listening socket inherited as `fd@N` (VTest's `cli`,
/// systemd socket activation): TCP or unix stream.
fn inherited(
    cli: Cli,
    n: &str,
    level: StatsLevel,
    handle: GraphHandle,
    reload: ReloadFn,
) -> Result<tokio::task::JoinHandle<()>, String> {
    use crate::config::value::{inherited_fd, Inherited};
    use std::os::fd::FromRawFd;
    let (fd, kind) =
        inherited_fd(n, &|v| std::env::var(v).ok()).map_err(|e| format!("stats socket: {e}"))?;
    // SAFETY: the descriptor was passed to lbd for this socket and checked to be a
    // stream socket; lbd owns it from here on.
    let sock = unsafe { socket2::Socket::from_raw_fd(fd) };
    let err = |e: std::io::Error| format!("stats socket fd@{fd}: {}", crate::config::io_text(&e));
    sock.set_cloexec(true)
        .and_then(|()| sock.set_nonblocking(true))
        .map_err(err)?;
    Ok(match kind {
        Inherited::Tcp(_) => serve_tcp(
            cli,
            tokio::net::TcpListener::from_std(sock.into()).map_err(err)?,
            level,
            handle,
            reload,
        ),
        Inherited::Unix(_) => serve_unix(
            cli,
            tokio::net::UnixListener::from_std(sock.into()).map_err(err)?,
            level,
            handle,
            reload,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> GraphHandle {
        let cfg = crate::config::parse_str(
            "t.cfg",
            "defaults\n mode http\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nfrontend f\n bind 127.0.0.1:1\n default_backend web\nbackend web\n server s1 127.0.0.1:2 weight 10\n",
        )
        .config
        .unwrap();
        Arc::new(arc_swap::ArcSwap::from_pointee(crate::graph::Graph::build(
            cfg, None,
        )))
    }

    #[test]
    fn servers_state_has_haproxys_25_fields_and_proxy_ids() {
        let h = handle();
        let out = execute("show servers state", StatsLevel::User, &h, None);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("1"));
        assert_eq!(lines.next().map(|l| l.split(' ').count()), Some(26));
        // frontend f is proxy 1, backend web proxy 2 (no stats socket in this config).
        let f: Vec<&str> = lines.next().unwrap().split(' ').collect();
        assert_eq!(f.len(), 25);
        assert_eq!(&f[..4], ["2", "web", "1", "s1"]);
        // Not checked: INI, no result, no check state; srv_use_ssl .. srv_agent_port.
        assert_eq!(&f[10..14], ["1", "0", "2", "0"]);
        assert_eq!(&f[20..], ["0", "0", "-", "-", "0"]);
    }

    #[test]
    fn admin_commands_change_state() {
        let h = handle();
        let s = h.load().backends[0].servers[0].clone();
        assert_eq!(
            execute("set server web/s1 state drain", StatsLevel::Admin, &h, None),
            ""
        );
        assert_eq!(s.state.admin(), Admin::Drain);
        assert_eq!(
            execute("disable server web/s1", StatsLevel::Admin, &h, None),
            ""
        );
        assert_eq!(s.state.admin(), Admin::Maint);
        assert_eq!(
            execute("enable server web/s1", StatsLevel::Admin, &h, None),
            ""
        );
        assert_eq!(s.state.admin(), Admin::Ready);
        assert_eq!(
            execute("set weight web/s1 50%", StatsLevel::Admin, &h, None),
            ""
        );
        assert_eq!(s.state.weight(), 5);
        assert_eq!(
            execute("set server web/s1 weight 7", StatsLevel::Admin, &h, None),
            ""
        );
        assert_eq!(
            execute("get weight web/s1", StatsLevel::Admin, &h, None),
            "7 (initial 10)\n"
        );
    }

    #[test]
    fn errors_and_levels() {
        let h = handle();
        assert_eq!(
            execute("disable server web/nope", StatsLevel::Admin, &h, None),
            "No such server.\n"
        );
        assert_eq!(
            execute("disable server nope/s1", StatsLevel::Admin, &h, None),
            "No such backend.\n"
        );
        assert_eq!(
            execute("disable server s1", StatsLevel::Admin, &h, None),
            "Require 'backend/server'.\n"
        );
        assert_eq!(
            execute("disable server web/s1", StatsLevel::Operator, &h, None),
            "Permission denied\n"
        );
        assert_eq!(
            execute("set weight web/s1 300", StatsLevel::Admin, &h, None),
            "Absolute weight can only be between 0 and 256 inclusive.\n"
        );
        assert!(execute("frobnicate", StatsLevel::Admin, &h, None)
            .starts_with("Unknown command: 'frobnicate'"));
        assert!(execute("show stat", StatsLevel::User, &h, None).starts_with("# pxname,svname,"));
        assert!(execute("show servers state", StatsLevel::User, &h, None)
            .contains("\n2 web 1 s1 127.0.0.1 2 0 10 10 "));
        assert_eq!(
            execute("show backend", StatsLevel::User, &h, None),
            "# name\nweb\n"
        );
    }
}
