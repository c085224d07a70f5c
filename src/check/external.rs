//! External checks (`option external-check`): each check runs `external-check command`
//! as HAProxy 2.6 does, with the arguments `<proxy_address> <proxy_port>
//! <server_address> <server_port>` and the `HAPROXY_*` variables, its `PATH` from
//! `external-check path`. Exit status 0 passes; any other status, or death by a
//! signal (code -1), fails. A program still running after `inter` (or `timeout
//! connect` when both it and `timeout check` are set and it is shorter) gets a SIGTERM
//! and the check fails on a timeout.

use super::tcpcheck::Timing;
use crate::backend::status::Outcome;
use crate::backend::{Backend, ServerRt};
use crate::config::model::{BindAddr, ExternalCheck, Mode, Proxy};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// HAProxy's `DEF_CHECK_PATH`: the `PATH` without `external-check path`.
const DEF_PATH: &str = "/bin:/usr/bin";

/// One server's external check.
#[derive(Debug)]
pub struct External {
    /// `external-check command`.
    command: String,
    /// `external-check preserve-env`: the program also gets lbd's environment.
    preserve_env: bool,
    /// `<proxy_address>` and `<proxy_port>`: the proxy's first address.
    proxy: (String, String),
    /// The variables that do not change between checks.
    fixed: Vec<(&'static str, String)>,
    /// The checked server.
    server: Arc<ServerRt>,
    /// The last exit code: a timeout reports the code of the check before it, as
    /// HAProxy does.
    last_code: AtomicI32,
}

/// HAProxy passes `NOT_USED` as an argument but an empty variable.
fn env_value(v: &str) -> String {
    if v == "NOT_USED" {
        String::new()
    } else {
        v.to_string()
    }
}

impl External {
    /// The check of server `s` of backend `be` (proxy `p`, id `uuid`); None without a
    /// command (the configuration check refuses that).
    pub fn new(
        p: &Proxy,
        uuid: usize,
        be: &Backend,
        s: &Arc<ServerRt>,
        srv_id: i64,
        mode: ExternalCheck,
    ) -> Option<External> {
        let command = p.check.ext_command.clone()?;
        // The first inet or unix listener.
        let proxy = p
            .binds
            .iter()
            .find_map(|b| match &b.addr {
                BindAddr::Inet(a) => Some((a.ip().to_string(), a.port().to_string())),
                BindAddr::Unix(path) => Some((path.clone(), "NOT_USED".to_string())),
                BindAddr::Abns(_) => Some((String::new(), "NOT_USED".to_string())),
                BindAddr::SockPair(_) => None,
            })
            .unwrap_or_else(|| ("NOT_USED".to_string(), "NOT_USED".to_string()));
        let path = p.check.ext_path.as_deref().unwrap_or(DEF_PATH);
        let proto = match be.mode {
            Mode::Tcp => "tcp",
            Mode::Http => "h1",
        };
        let fixed = vec![
            ("PATH", path.to_string()),
            ("HAPROXY_PROXY_NAME", be.name.clone()),
            ("HAPROXY_PROXY_ID", uuid.to_string()),
            ("HAPROXY_PROXY_ADDR", env_value(&proxy.0)),
            ("HAPROXY_PROXY_PORT", env_value(&proxy.1)),
            ("HAPROXY_SERVER_NAME", s.name.clone()),
            ("HAPROXY_SERVER_ID", srv_id.to_string()),
            ("HAPROXY_SERVER_MAXCONN", s.cfg.maxconn.to_string()),
            ("HAPROXY_SERVER_SSL", u8::from(s.cfg.tls.ssl).to_string()),
            ("HAPROXY_SERVER_PROTO", proto.to_string()),
        ];
        Some(External {
            command,
            preserve_env: mode == ExternalCheck::PreserveEnv,
            proxy,
            fixed,
            server: s.clone(),
            last_code: AtomicI32::new(0),
        })
    }

    /// How long the program may run.
    fn limit(timing: Timing) -> Duration {
        match (timing.check, timing.connect) {
            (Some(_), Some(c)) => timing.inter.min(c),
            _ => timing.inter,
        }
    }

    /// Runs the program once.
    pub async fn run(&self, timing: Timing) -> Outcome {
        let start = Instant::now();
        let s = &self.server;
        // A unix socket server: its path (empty when abstract) and `NOT_USED`, as
        // HAProxy passes them.
        let (addr, port) = match &s.unix {
            Some(p) if p.starts_with("abns@") => (String::new(), "NOT_USED".into()),
            Some(p) => (p.clone(), "NOT_USED".into()),
            None => (s.addr.ip().to_string(), s.addr.port().to_string()),
        };
        let cur = s.state.cur.load(Ordering::Relaxed);
        let mut cmd = tokio::process::Command::new(&self.command);
        cmd.args([&self.proxy.0, &self.proxy.1, &addr, &port]);
        if !self.preserve_env {
            cmd.env_clear();
        }
        cmd.envs(self.fixed.iter().map(|(k, v)| (*k, v.as_str())))
            .env("HAPROXY_SERVER_ADDR", &addr)
            .env("HAPROXY_SERVER_PORT", &port)
            .env("HAPROXY_SERVER_CURCONN", cur.to_string())
            .stdin(std::process::Stdio::null());
        let out = |ok, reason, code: i32| Outcome {
            ok,
            reason,
            code: Some(code),
            info: None,
            duration: start.elapsed(),
        };
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                // HAProxy's forked child reports the failed exec and exits with -1.
                crate::log::alert(&format!(
                    "Failed to exec process for external health check: {}. Aborting.",
                    crate::config::io_text(&e)
                ));
                self.last_code.store(255, Ordering::Relaxed);
                return out(false, "External check error", 255);
            }
        };
        match tokio::time::timeout(Self::limit(timing), child.wait()).await {
            Ok(Ok(status)) => {
                let code = status.code().unwrap_or(-1);
                self.last_code.store(code, Ordering::Relaxed);
                if code == 0 {
                    out(true, "External check passed", 0)
                } else {
                    out(false, "External check error", code)
                }
            }
            Ok(Err(_)) => {
                self.last_code.store(-1, Ordering::Relaxed);
                out(false, "External check error", -1)
            }
            Err(_) => {
                if let Some(pid) = child.id() {
                    crate::log::warning(&format!("kill {pid}"));
                    // SAFETY: plain syscall on the pid of our own unreaped child.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
                // Reaped in the background; a program that ignores SIGTERM runs on, as
                // under HAProxy.
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                let code = self.last_code.load(Ordering::Relaxed);
                out(false, "External check timeout", code)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(check: Option<u64>, connect: Option<u64>) -> Timing {
        Timing {
            inter: Duration::from_millis(2000),
            connect: connect.map(Duration::from_millis),
            check: check.map(Duration::from_millis),
        }
    }

    #[test]
    fn the_program_gets_inter_or_timeout_connect_when_timeout_check_is_set() {
        let ms = |t| External::limit(t).as_millis();
        assert_eq!(ms(timing(None, None)), 2000);
        assert_eq!(ms(timing(None, Some(500))), 2000);
        assert_eq!(ms(timing(Some(100), None)), 2000);
        assert_eq!(ms(timing(Some(100), Some(500))), 500);
        assert_eq!(ms(timing(Some(100), Some(5000))), 2000);
    }

    #[test]
    fn not_used_arguments_are_empty_variables() {
        assert_eq!(env_value("NOT_USED"), "");
        assert_eq!(env_value("127.0.0.1"), "127.0.0.1");
    }
}
