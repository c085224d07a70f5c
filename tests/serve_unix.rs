//! Unix stream listeners through the real `lbd` binary: `bind /path` and `unix@path`
//! (with the socket file's `mode`), `abns@NAME`, `sockpair@N` (connections passed
//! with SCM_RIGHTS), `fd@N` on an inherited unix listener, and reloads and stops that
//! keep, then remove, the socket file. Unix clients are logged as `unix:ID`.

mod common;

use bytes::Bytes;
use common::*;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory for socket files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let n = SEQ.fetch_add(1, SeqCst);
        let d = std::env::temp_dir().join(format!("lbd-ux-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `bytes` on `s`, shuts down the sending side and reads until the end.
async fn exchange(mut s: UnixStream, bytes: &[u8]) -> Vec<u8> {
    within(DEADLINE, "unix exchange", async move {
        s.write_all(bytes).await.expect("write");
        s.shutdown().await.expect("shutdown");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        out
    })
    .await
}

async fn connect_path(p: &Path) -> UnixStream {
    within(DEADLINE, "unix connect", UnixStream::connect(p))
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", p.display()))
}

/// The abstract address HAProxy (and lbd) use for `abns@NAME`: `sun_path` padded.
fn abns(name: &str) -> std::os::unix::net::SocketAddr {
    use std::os::linux::net::SocketAddrExt;
    let mut n = name.as_bytes().to_vec();
    n.resize(107, 0);
    std::os::unix::net::SocketAddr::from_abstract_name(n).unwrap()
}

async fn connect_abns(name: &str) -> UnixStream {
    let s = std::os::unix::net::UnixStream::connect_addr(&abns(name)).expect("connect abns");
    s.set_nonblocking(true).unwrap();
    UnixStream::from_std(s).unwrap()
}

/// The response without its `date` header (the one part that depends on the clock).
fn undated(r: &[u8]) -> String {
    String::from_utf8_lossy(r)
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

const REQUEST: &[u8] = b"GET /u HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-from: origin\r\n\r\nhello";

#[tokio::test]
async fn tcp_and_http_over_socket_files_with_their_mode_logged_as_unix_id() {
    let dir = Scratch::new("files");
    let echo = TcpOrigin::start(TcpMode::Echo).await;
    let web = TcpOrigin::start(TcpMode::RawResponse(Bytes::from_static(ANSWER))).await;
    let (tcp_sock, http_sock, log) = (
        dir.path("tcp.sock"),
        dir.path("http.sock"),
        dir.path("access.log"),
    );
    // A stale file where the socket goes is replaced.
    std::fs::write(&http_sock, b"stale").unwrap();
    let cfg = format!(
        "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend raw\n    mode tcp\n    option tcplog\n    log {log} local0\n    \
         bind unix@{tcp} mode 640\n    default_backend echo\n\
         frontend web\n    mode http\n    option httplog\n    log {log} local0\n    \
         bind 127.0.0.1:@FE@\n    bind {http} mode 600\n    default_backend web\n\
         backend echo\n    mode tcp\n    server e {echo}\n\
         backend web\n    mode http\n    server w {web}\n",
        log = log.display(),
        tcp = tcp_sock.display(),
        http = http_sock.display(),
        echo = echo.hostport(),
        web = web.hostport(),
    );
    let mut lb = Lbd::start(&cfg).await;
    for (p, mode) in [(&tcp_sock, 0o640), (&http_sock, 0o600)] {
        let m = std::fs::metadata(p).unwrap();
        assert!(m.file_type().is_socket(), "{} is not a socket", p.display());
        assert_eq!(m.permissions().mode() & 0o7777, mode, "{}", p.display());
    }
    // No temporary file is left beside them.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");

    // mode tcp: every byte both ways, then the end of the stream.
    let mut payload = vec![0u8; 256 * 1024];
    Prng::new(11).fill(&mut payload);
    let got = exchange(connect_path(&tcp_sock).await, &payload).await;
    assert!(got == payload, "{} bytes back, not the same", got.len());

    // mode http: the same answer as over TCP, byte for byte.
    let over_unix = exchange(connect_path(&http_sock).await, REQUEST).await;
    let over_tcp = raw(lb.port, REQUEST).await;
    assert_eq!(undated(&over_unix), undated(over_tcp.as_bytes()));
    assert!(
        undated(&over_unix)
            .starts_with("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-from: origin\r\n"),
        "{}",
        String::from_utf8_lossy(&over_unix)
    );
    assert!(over_unix.ends_with(b"\r\n\r\nhello"));

    // HAProxy's `%ci:%cp` for a unix client: `unix:` and the listener id (the http
    // socket is the second bind of its frontend).
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until(DEADLINE, "two unix log lines", || {
        read_log().contains("unix:1 [") && read_log().contains("unix:2 [")
    })
    .await;
    let text = read_log();
    let tcp_line = text.lines().find(|l| l.contains("unix:1 [")).unwrap();
    assert!(tcp_line.contains(" raw echo/e "), "{tcp_line}");
    let http_line = text.lines().find(|l| l.contains("unix:2 [")).unwrap();
    assert!(
        http_line.contains(" web web/w ") && http_line.contains("\"GET /u HTTP/1.1\""),
        "{http_line}"
    );
    assert!(
        text.contains("127.0.0.1:"),
        "the TCP client keeps its address:\n{text}"
    );

    // The socket files go when lbd stops.
    lb.signal(libc::SIGUSR1);
    lb.wait_exit(DEADLINE).await;
    assert!(!tcp_sock.exists() && !http_sock.exists());
}

#[tokio::test]
async fn abns_bind_serves_http() {
    let web = TcpOrigin::start(TcpMode::RawResponse(Bytes::from_static(ANSWER))).await;
    let name = format!(
        "lbd-test-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, SeqCst)
    );
    let cfg = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind abns@{name}\n    default_backend be\n\
         backend be\n    server w {}\n",
        web.hostport()
    );
    let _lb = Lbd::start(&cfg).await;
    let got = exchange(connect_abns(&name).await, REQUEST).await;
    let text = undated(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello"), "{text}");
}

/// lbd started with descriptors of the test at given numbers (as VTest and HAProxy's
/// master pass them).
struct Inheriting {
    child: Child,
    dir: Scratch,
}

impl Inheriting {
    async fn start(config: &str, fds: &[(RawFd, RawFd)]) -> Inheriting {
        let dir = Scratch::new("inherit");
        let cfg = dir.path("lbd.cfg");
        std::fs::write(&cfg, config).unwrap();
        let err = std::fs::File::create(dir.path("stderr")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lbd"));
        cmd.arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        let fds = fds.to_vec();
        // SAFETY: dup2 is async-signal-safe; the copies are inherited across exec
        // (dup2 clears close-on-exec).
        unsafe {
            cmd.pre_exec(move || {
                for &(from, to) in &fds {
                    // dup2 onto itself keeps FD_CLOEXEC (std opens every fd with it):
                    // clear the flag instead, or the child would not inherit it.
                    let r = if from == to {
                        libc::fcntl(from, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(from, to)
                    };
                    if r < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut me = Inheriting {
            child: cmd.spawn().expect("spawn lbd"),
            dir,
        };
        let stderr = me.dir.path("stderr");
        let read = || std::fs::read_to_string(&stderr).unwrap_or_default();
        let end = std::time::Instant::now() + DEADLINE;
        while !read().contains(" started: ") {
            if let Ok(Some(st)) = me.child.try_wait() {
                panic!("lbd exited ({st}):\n{}", read());
            }
            assert!(
                std::time::Instant::now() < end,
                "lbd did not start:\n{}",
                read()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        me
    }
}

impl Drop for Inheriting {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn fd_bind_takes_over_an_inherited_unix_listener() {
    let dir = Scratch::new("fd");
    let echo = TcpOrigin::start(TcpMode::Echo).await;
    let path = dir.path("inherited.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let cfg = format!(
        "{TCP_DEFAULTS}frontend fe\n    bind fd@3\n    default_backend be\n\
         backend be\n    server e {}\n",
        echo.hostport()
    );
    let _lb = Inheriting::start(&cfg, &[(listener.as_raw_fd(), 3)]).await;
    // Our copy no longer accepts: only lbd does.
    drop(listener);
    let got = exchange(connect_path(&path).await, b"through fd@3").await;
    assert_eq!(got, b"through fd@3");
}

/// Sends `fd` over the unix socket `over` with SCM_RIGHTS (one byte of data), as
/// HAProxy's master does to hand a connection to `sockpair@`.
fn send_fd(over: RawFd, fd: RawFd) {
    let byte = [b'x'];
    let mut iov = libc::iovec {
        iov_base: byte.as_ptr() as *mut _,
        iov_len: 1,
    };
    let mut control = [0u64; 4];
    // SAFETY: the msghdr points at live buffers; the one control message holds one
    // descriptor and fits in `control`.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as _;
        libc::CMSG_DATA(c).cast::<RawFd>().write_unaligned(fd);
        assert_eq!(
            libc::sendmsg(over, &msg, 0),
            1,
            "{}",
            std::io::Error::last_os_error()
        );
    }
}

#[tokio::test]
async fn sockpair_bind_serves_connections_passed_over_it() {
    let web = TcpOrigin::start(TcpMode::RawResponse(Bytes::from_static(ANSWER))).await;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let cfg = format!(
        "{HTTP_DEFAULTS}frontend fe\n    bind sockpair@3\n    default_backend be\n\
         backend be\n    server w {}\n",
        web.hostport()
    );
    let _lb = Inheriting::start(&cfg, &[(theirs.as_raw_fd(), 3)]).await;
    drop(theirs);
    // Two clients, each one end of a fresh socketpair whose other end goes to lbd.
    for _ in 0..2 {
        let (client, server_end) = std::os::unix::net::UnixStream::pair().unwrap();
        send_fd(ours.as_raw_fd(), server_end.as_raw_fd());
        drop(server_end);
        client.set_nonblocking(true).unwrap();
        let got = exchange(UnixStream::from_std(client).unwrap(), REQUEST).await;
        let text = undated(&got);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nhello"), "{text}");
    }
}

#[tokio::test]
async fn reload_keeps_the_unix_listener_and_removing_the_bind_removes_the_file() {
    let dir = Scratch::new("reload");
    let echo = TcpOrigin::start(TcpMode::Echo).await;
    let sock = dir.path("fe.sock");
    let cfg = |extra: &str, unix: bool| {
        format!(
            "{TCP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n{}{extra}    default_backend be\n\
             backend be\n    server e {}\n",
            if unix {
                format!("    bind {} mode 660\n", sock.display())
            } else {
                String::new()
            },
            echo.hostport()
        )
    };
    let lb = Lbd::start(&cfg("", true)).await;
    let inode = std::fs::metadata(&sock).unwrap().ino();
    // A connection open across the reload, and new ones after it.
    let mut before = connect_path(&sock).await;
    before.write_all(b"one").await.unwrap();
    let line = lb.reload(&cfg("    maxconn 100\n", true)).await;
    assert!(line.contains("Reload complete"), "{line}");
    assert_eq!(
        std::fs::metadata(&sock).unwrap().ino(),
        inode,
        "the socket file was made again"
    );
    before.write_all(b"two").await.unwrap();
    before.shutdown().await.unwrap();
    let mut got = Vec::new();
    within(DEADLINE, "read", before.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"onetwo");
    assert_eq!(
        exchange(connect_path(&sock).await, b"after").await,
        b"after"
    );

    // Without the bind, the socket closes and its file goes.
    let line = lb.reload(&cfg("", false)).await;
    assert!(line.contains("Reload complete"), "{line}");
    assert!(!sock.exists(), "the socket file is still there");
}

#[test]
fn bad_unix_binds_are_refused_with_the_line() {
    let dir = Scratch::new("check");
    let long = format!("/{}", "x".repeat(120));
    for (bind, want) in [
        (long.as_str(), "too long (max 107)"),
        (
            "/tmp/x.sock mode 9z",
            "missing or invalid mode '9z' (octal integer expected)",
        ),
        (
            "/tmp/x.sock user no-such-user-lbd",
            "unknown user name 'no-such-user-lbd'",
        ),
        (
            "/tmp/x.sock group no-such-group-lbd",
            "unknown group name 'no-such-group-lbd'",
        ),
        ("sockpair@99", "cannot use 'sockpair@99'"),
        (
            "127.0.0.1:80,/tmp/x.sock",
            "must be the only address of its 'bind' line",
        ),
        (
            "127.0.0.1:80-81 id 4",
            "'id' can only be used with a single socket",
        ),
    ] {
        let cfg = dir.path("c.cfg");
        std::fs::write(
            &cfg,
            format!("{TCP_DEFAULTS}frontend fe\n    bind {bind}\n    default_backend be\nbackend be\n    server s 127.0.0.1:9\n"),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_lbd"))
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bind}: accepted");
        assert!(
            err.contains("c.cfg:7] : 'bind ") && err.contains(want),
            "{bind}: {err}"
        );
    }
}

#[tokio::test]
async fn stats_socket_on_an_abstract_name() {
    let name = format!(
        "lbd-cli-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, SeqCst)
    );
    let cfg = format!(
        "global\n    stats socket abns@{name} level admin\n{HTTP_DEFAULTS}frontend fe\n    \
         bind 127.0.0.1:@FE@\n    default_backend be\nbackend be\n    server s 127.0.0.1:9\n"
    );
    let _lb = Lbd::start(&cfg).await;
    let got = exchange(connect_abns(&name).await, b"show backend\n").await;
    assert_eq!(String::from_utf8_lossy(&got), "# name\nbe\n\n");
}

#[tokio::test]
async fn a_socket_file_another_process_took_over_is_left_at_stop() {
    let dir = Scratch::new("takeover");
    let sock = dir.path("fe.sock");
    let cfg = format!(
        "{TCP_DEFAULTS}frontend fe\n    bind {}\n    default_backend be\n\
         backend be\n    server s 127.0.0.1:9\n",
        sock.display()
    );
    let mut lb = Lbd::start(&cfg).await;
    // A newer server renames its own socket over the path, as lbd and HAProxy do.
    let tmp = dir.path("fe.sock.new");
    let _newer = std::os::unix::net::UnixListener::bind(&tmp).unwrap();
    std::fs::rename(&tmp, &sock).unwrap();
    let ino = std::fs::metadata(&sock).unwrap().ino();
    lb.signal(libc::SIGUSR1);
    lb.wait_exit(DEADLINE).await;
    assert_eq!(
        std::fs::metadata(&sock).map(|m| m.ino()).ok(),
        Some(ino),
        "lbd removed a socket file that was no longer its own"
    );
}
