//! Helpers for the health-check tests (`tests/health_*.rs`), next to the serving
//! harness in `common/mod.rs` (included with `#[path]`, so that file stays untouched).
//!
//! - [`HealthOrigin`]: a small HTTP/1.1 server whose `/health` answers `200 OK` until
//!   `POST /break` (then `503 Service Unavailable`, or `?code=N&body=B`) and again after
//!   `POST /recover`; other paths answer its name. It records every request line and
//!   header it receives, and can stop listening and come back on the same port.
//! - [`norm`] / [`lines`]: lbd's stderr with the pid and check durations replaced by
//!   placeholders, so tests compare whole lines.
//! - [`wait_line`]: waits (with a deadline) for an exact normalised line.

#![allow(dead_code)]

use crate::common::{within, Lbd, DEADLINE};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One request as the origin received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /health HTTP/1.1`, exactly as sent.
    pub line: String,
    /// Header lines, name and value as sent.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path of the request line, without the query.
    pub fn path(&self) -> &str {
        let target = self.line.split(' ').nth(1).unwrap_or("");
        target.split('?').next().unwrap_or("")
    }
}

#[derive(Debug)]
struct Shared {
    name: String,
    /// Status code and body of `/health`.
    health: Mutex<(u16, String)>,
    seen: Mutex<Vec<Seen>>,
    /// Requests for paths other than `/health`, `/break`, `/recover`.
    traffic: AtomicUsize,
}

/// The HTTP origin of the health tests.
pub struct HealthOrigin {
    /// Its name (the body of ordinary answers).
    pub name: String,
    /// Its address; the port stays the same across [`HealthOrigin::stop`] and
    /// [`HealthOrigin::restart`].
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
    /// While stopped: bound but not listening, so connections are refused and no
    /// other test takes the port.
    closed: Option<socket2::Socket>,
}

fn phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Other",
    }
}

fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let s = TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(128)
}

impl HealthOrigin {
    /// Starts an origin on 127.0.0.1 and a port chosen by the OS.
    pub async fn start(name: &str) -> HealthOrigin {
        HealthOrigin::start_on(name, Ipv4Addr::LOCALHOST).await
    }

    /// Starts an origin on `ip` (any 127.0.0.0/8 address works on Linux).
    pub async fn start_on(name: &str, ip: Ipv4Addr) -> HealthOrigin {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            health: Mutex::new((200, "OK".to_string())),
            seen: Mutex::new(Vec::new()),
            traffic: AtomicUsize::new(0),
        });
        let listener = listen(SocketAddr::from((ip, 0))).expect("bind health origin");
        let addr = listener.local_addr().expect("origin addr");
        let mut o = HealthOrigin {
            name: name.to_string(),
            addr,
            shared,
            task: None,
            closed: None,
        };
        o.serve(listener);
        o
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let shared = self.shared.clone();
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) closes every connection.
            let mut conns = JoinSet::new();
            loop {
                while conns.try_join_next().is_some() {}
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                conns.spawn(conn(stream, shared.clone()));
            }
        }));
    }

    /// `ip:port`, for a `server` line.
    pub fn hostport(&self) -> String {
        self.addr.to_string()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops listening and closes every connection; the port then refuses connections.
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        // Aborted connection tasks close their sockets a moment later: retry briefly.
        let addr = self.addr;
        let s = retry_bind("keep the stopped port bound", || {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            s.set_reuse_address(true)?;
            s.bind(&addr.into())?;
            Ok(s)
        })
        .await;
        self.closed = Some(s);
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        assert!(self.task.is_none(), "restart of a running origin");
        self.closed = None;
        let addr = self.addr;
        let listener = retry_bind("listen again on the same port", || listen(addr)).await;
        self.serve(listener);
    }

    /// What `/health` answers from now on.
    pub fn set_health(&self, code: u16, body: &str) {
        *self.shared.health.lock().unwrap() = (code, body.to_string());
    }

    /// Sends `POST path` straight to the origin (not through lbd) and returns the status.
    pub async fn post(&self, path: &str) -> u16 {
        let mut s = TcpStream::connect(self.addr).await.expect("connect origin");
        let req = format!("POST {path} HTTP/1.1\r\nhost: origin\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        within(DEADLINE, "origin control request", s.read_to_end(&mut out))
            .await
            .expect("read");
        let text = String::from_utf8_lossy(&out);
        text.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// `POST /break`: `/health` answers 503 from now on.
    pub async fn break_health(&self) {
        assert_eq!(self.post("/break").await, 200);
    }

    /// `POST /recover`: `/health` answers 200 from now on.
    pub async fn recover(&self) {
        assert_eq!(self.post("/recover").await, 200);
    }

    /// Every request received so far (control requests included).
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests received for `path` so far.
    pub fn seen_for(&self, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path() == path)
            .collect()
    }

    /// Ordinary (non-health, non-control) requests received so far.
    pub fn traffic(&self) -> usize {
        self.shared.traffic.load(SeqCst)
    }
}

/// Runs `bind` until it succeeds, for at most a second.
async fn retry_bind<T>(what: &str, mut bind: impl FnMut() -> std::io::Result<T>) -> T {
    let end = Instant::now() + Duration::from_secs(1);
    loop {
        match bind() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= end => panic!("{what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

impl Drop for HealthOrigin {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

fn query_param<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Serves HTTP/1.x requests on one connection until the client closes or asks to.
async fn conn(mut s: TcpStream, shared: Arc<Shared>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end - 4]).into_owned();
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_string(), v.trim().to_string()))
            .collect();
        let seen = Seen { line, headers };
        let len: usize = seen
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + len);
        let http10 = seen.line.ends_with("HTTP/1.0");
        let conn_hdr = seen.header("connection").unwrap_or("").to_ascii_lowercase();
        let close = conn_hdr.contains("close") || (http10 && !conn_hdr.contains("keep-alive"));
        let target = seen.line.split(' ').nth(1).unwrap_or("").to_string();
        let path = seen.path().to_string();
        shared.seen.lock().unwrap().push(seen);
        let (code, body) = match path.as_str() {
            "/health" => shared.health.lock().unwrap().clone(),
            "/break" => {
                let code = query_param(&target, "code")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(503);
                let body = query_param(&target, "body").unwrap_or("unhealthy");
                *shared.health.lock().unwrap() = (code, body.to_string());
                (200, "broken".to_string())
            }
            "/recover" => {
                *shared.health.lock().unwrap() = (200, "OK".to_string());
                (200, "recovered".to_string())
            }
            p => {
                shared.traffic.fetch_add(1, SeqCst);
                match p.strip_prefix("/code/").and_then(|c| c.parse().ok()) {
                    Some(c) => (c, shared.name.clone()),
                    None => (200, shared.name.clone()),
                }
            }
        };
        let resp = format!(
            "HTTP/1.1 {code} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nx-origin: {}\r\n{}\r\n{body}",
            phrase(code),
            body.len(),
            shared.name,
            if close { "connection: close\r\n" } else { "" }
        );
        if s.write_all(resp.as_bytes()).await.is_err() || close {
            let _ = s.shutdown().await;
            return;
        }
    }
}

/// `text` with `(PID)` for the pid after a `[LABEL]`, `lbd[PID]` for a syslog tag and
/// `check duration: Nms`.
pub fn norm(text: &str) -> String {
    static RE: std::sync::OnceLock<[(regex::Regex, &'static str); 3]> = std::sync::OnceLock::new();
    let res = RE.get_or_init(|| {
        [
            (
                regex::Regex::new(r"^(\[[A-Z]+\] +)\([0-9]+\)").unwrap(),
                "${1}(PID)",
            ),
            (regex::Regex::new(r"lbd\[[0-9]+\]").unwrap(), "lbd[PID]"),
            (
                regex::Regex::new(r"check duration: [0-9]+ms").unwrap(),
                "check duration: Nms",
            ),
        ]
    });
    text.lines()
        .map(|l| {
            let mut l = l.to_string();
            for (re, with) in res {
                l = re.replace_all(&l, *with).into_owned();
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// lbd's stderr so far, one normalised line each.
pub fn lines(lbd: &Lbd) -> Vec<String> {
    norm(&lbd.stderr()).lines().map(str::to_string).collect()
}

/// The normalised stderr lines that contain `needle`.
pub fn lines_with(lbd: &Lbd, needle: &str) -> Vec<String> {
    lines(lbd)
        .into_iter()
        .filter(|l| l.contains(needle))
        .collect()
}

/// Waits until lbd printed `line` (normalised, exact) and returns when it was seen.
pub async fn wait_line(lbd: &Lbd, line: &str, limit: Duration) -> Instant {
    let end = Instant::now() + limit;
    loop {
        if lines(lbd).iter().any(|l| l == line) {
            return Instant::now();
        }
        if Instant::now() >= end {
            panic!(
                "no line within {limit:?}:\n  {line}\nstderr (normalised):\n{}",
                lines(lbd).join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until lbd printed a line containing `needle`; returns that line.
pub async fn wait_line_with(lbd: &Lbd, needle: &str, limit: Duration) -> String {
    let end = Instant::now() + limit;
    loop {
        if let Some(l) = lines(lbd).into_iter().find(|l| l.contains(needle)) {
            return l;
        }
        if Instant::now() >= end {
            panic!(
                "no line containing {needle:?} within {limit:?}; stderr (normalised):\n{}",
                lines(lbd).join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `[WARNING]  (PID) : text` as lbd prints it (normalised).
pub fn warning(text: &str) -> String {
    format!("[WARNING]  (PID) : {text}")
}

/// `[ALERT]    (PID) : text` as lbd prints it (normalised).
pub fn alert(text: &str) -> String {
    format!("[ALERT]    (PID) : {text}")
}

/// A scratch directory removed on drop.
pub struct Scratch {
    /// Its path.
    pub path: std::path::PathBuf,
}

impl Scratch {
    /// A fresh directory named after `tag`.
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "lbd-health-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch dir");
        Scratch { path }
    }

    /// `dir/name` as a string.
    pub fn file(&self, name: &str) -> String {
        self.path.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
