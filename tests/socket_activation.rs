//! Inherited listening sockets: `bind fd@N` and systemd socket activation
//! (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES` make `fd@NAME` resolvable). The test
//! plays systemd: it binds the socket, passes it as descriptor 3 and starts lbd with
//! the variables set for lbd's own pid.

mod common;

use common::*;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// lbd started the way systemd starts a socket-activated service: `listener` as
/// descriptor 3, named `name`.
struct Activated {
    child: Child,
    dir: std::path::PathBuf,
}

impl Activated {
    fn start(listener: &std::net::TcpListener, name: &str, config: &str) -> Activated {
        let dir =
            std::env::temp_dir().join(format!("lbd-activation-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("lbd.cfg");
        std::fs::write(&cfg, config).unwrap();
        let fd = listener.as_raw_fd();
        let mut cmd = Command::new("sh");
        // `exec` keeps the shell's pid, so `$$` is lbd's pid, as systemd sets it.
        cmd.arg("-c")
            .arg("LISTEN_PID=$$ exec \"$0\" -f \"$1\" 2>\"$2\"")
            .arg(env!("CARGO_BIN_EXE_lbd"))
            .arg(&cfg)
            .arg(dir.join("stderr"))
            .env("LISTEN_FDS", "1")
            .env("LISTEN_FDNAMES", name)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: dup2 is async-signal-safe; the copy on descriptor 3 is inherited
        // across exec (dup2 clears close-on-exec).
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto itself keeps close-on-exec: clear it instead.
                let r = if fd == 3 {
                    libc::fcntl(fd, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Activated {
            child: cmd.spawn().expect("spawn lbd"),
            dir,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    async fn wait_started(&mut self) {
        let end = Instant::now() + Duration::from_secs(10);
        while !self.stderr().contains(" started: ") {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("lbd exited ({st}):\n{}", self.stderr());
            }
            assert!(
                Instant::now() < end,
                "lbd did not start:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Activated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- lbd stderr ----\n{}", self.stderr());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(bind: &str, origin: &HttpOrigin) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind {bind}\n    default_backend be\n\
         backend be\n    server s1 {}\n",
        origin.hostport()
    )
}

#[tokio::test]
async fn a_socket_passed_by_systemd_is_served_under_its_name_and_its_number() {
    let origin = HttpOrigin::start("s1").await;
    for (name, bind) in [("web", "fd@web"), ("other", "fd@3")] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut lbd = Activated::start(&listener, name, &config(bind, &origin));
        // Only lbd holds the socket now: the connections below are lbd's.
        drop(listener);
        lbd.wait_started().await;
        let before = origin.stats.requests();
        let r = get(port, "/").await;
        assert_eq!(r.status, 200, "{bind}: {r:?}\n{}", lbd.stderr());
        assert_eq!(origin.stats.requests(), before + 1, "{bind}");
    }
}

#[test]
fn an_fd_name_systemd_did_not_pass_is_a_config_error_with_its_line() {
    let dir = std::env::temp_dir().join(format!("lbd-activation-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("lb.cfg");
    std::fs::write(
        &cfg,
        "frontend fe\n    mode tcp\n    bind fd@web\n    default_backend be\nbackend be\n    server s1 127.0.0.1:1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(["-c", "-f"])
        .arg(&cfg)
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("parsing [")
            && err.contains("lb.cfg:3] : 'bind fd@web' : 'fd@web': no socket named 'web' was passed by systemd (LISTEN_FDNAMES)"),
        "{err}"
    );
}
