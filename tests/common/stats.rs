//! Helpers for the stats tests (`tests/stats_*.rs`), next to the serving harness in
//! `common/mod.rs` (included with `#[path]`, so that file stays untouched).
//!
//! - [`SockDir`]: a scratch directory for `stats socket` paths (removed on drop).
//! - [`cli`]: one runtime-socket command over a unix path, answer read to EOF.
//! - [`Csv`]: `show stat` / `;csv` parsed by column name.
//! - [`get_auth`], [`basic`]: requests with HTTP Basic credentials.
//! - [`Sse`]: a Server-Sent Events stream read frame by frame.
//! - [`reload_by_signal`]: SIGUSR2 and wait for the `Reload complete` line.

#![allow(dead_code)]

use crate::common::{send, within, Lbd, Resp, DEADLINE};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

#[path = "sock.rs"]
mod sock;
#[allow(unused_imports)]
pub use sock::{cli, cli_until, SockDir};

/// HAProxy's CSV (`show stat`, `;csv`), looked up by proxy, service and column name.
#[derive(Debug)]
pub struct Csv {
    /// Column names (without the leading `# `).
    pub header: Vec<String>,
    /// Rows, split on commas.
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Parses the text; panics unless it starts with the `# pxname,svname,` header and
    /// every row has as many fields as the header.
    pub fn parse(text: &str) -> Csv {
        let mut lines = text.lines();
        let head = lines.next().expect("CSV header line");
        let head = head
            .strip_prefix("# ")
            .unwrap_or_else(|| panic!("CSV header starts with '# ': {head}"));
        let header: Vec<String> = head.split(',').map(str::to_string).collect();
        assert_eq!(&header[..2], ["pxname", "svname"], "{head}");
        let rows: Vec<Vec<String>> = lines
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        for r in &rows {
            assert_eq!(
                r.len(),
                header.len(),
                "row has the header's field count: {r:?}"
            );
        }
        Csv { header, rows }
    }

    /// The field `col` of row `px`/`sv`; panics when either is missing.
    pub fn get(&self, px: &str, sv: &str, col: &str) -> &str {
        let i = self
            .header
            .iter()
            .position(|c| c == col)
            .unwrap_or_else(|| panic!("no column {col}"));
        let row = self
            .rows
            .iter()
            .find(|r| r[0] == px && r[1] == sv)
            .unwrap_or_else(|| panic!("no row {px}/{sv} in {:?}", self.rows));
        &row[i]
    }

    /// The field as a number.
    pub fn num(&self, px: &str, sv: &str, col: &str) -> u64 {
        let v = self.get(px, sv, col);
        v.parse()
            .unwrap_or_else(|_| panic!("{px}/{sv} {col} is a number, got {v:?}"))
    }
}

/// Base64 of `user:pass`, for `Authorization: Basic ...`.
pub fn basic(user: &str, pass: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = format!("{user}:{pass}").into_bytes();
    let mut o = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                o.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// A GET with extra headers.
pub fn get_req_with(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::builder().uri(path).header("host", "lbd.test");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::new())).expect("request")
}

/// `GET path` with Basic credentials (none when `auth` is `None`).
pub async fn get_auth(port: u16, path: &str, auth: Option<(&str, &str)>) -> Resp {
    let value = auth.map(|(u, p)| format!("Basic {}", basic(u, p)));
    let headers: Vec<(&str, &str)> = value
        .as_deref()
        .map(|v| vec![("authorization", v)])
        .unwrap_or_default();
    send(port, get_req_with(path, &headers)).await
}

/// A Server-Sent Events response being read frame by frame.
pub struct Sse {
    /// Response status.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: String,
    body: hyper::body::Incoming,
    buf: String,
    conn: tokio::task::JoinHandle<()>,
}

impl Sse {
    /// Sends `req` on a new connection and reads the response head.
    pub async fn open(port: u16, req: Request<Full<Bytes>>) -> Sse {
        let stream = crate::common::connect(port, None).await;
        within(DEADLINE, "SSE response head", async move {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("client handshake");
            let conn = tokio::spawn(async move {
                let _ = conn.await;
            });
            let resp = sender.send_request(req).await.expect("SSE request");
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            Sse {
                status,
                content_type,
                body: resp.into_body(),
                buf: String::new(),
                conn,
            }
        })
        .await
    }

    /// The next complete frame (the text before its blank line); `None` at the end
    /// of the stream. Panics after [`DEADLINE`].
    pub async fn next_frame(&mut self) -> Option<String> {
        within(DEADLINE, "next SSE frame", async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let f = self.buf[..end].to_string();
                    self.buf.drain(..end + 2);
                    return Some(f);
                }
                let frame = self.body.frame().await?.expect("SSE body frame");
                if let Some(d) = frame.data_ref() {
                    self.buf.push_str(&String::from_utf8_lossy(d));
                }
            }
        })
        .await
    }
}

impl Drop for Sse {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// Sends SIGUSR2 to lbd and waits for the next `Reload complete`/`Reload failed` line,
/// which it returns.
pub async fn reload_by_signal(lbd: &Lbd) -> String {
    let count = |l: &Lbd| {
        let e = l.stderr();
        e.matches("Reload complete: ").count() + e.matches("Reload failed").count()
    };
    let before = count(lbd);
    // SAFETY: kill(2) on the pid of the test's own child process.
    let rc = unsafe { libc::kill(lbd.pid() as libc::pid_t, libc::SIGUSR2) };
    assert_eq!(rc, 0, "kill(SIGUSR2)");
    crate::common::wait_until(DEADLINE, "lbd logs the end of the reload", || {
        count(lbd) > before
    })
    .await;
    lbd.stderr()
        .lines()
        .rev()
        .find(|l| l.contains("Reload complete: ") || l.contains("Reload failed"))
        .unwrap_or_default()
        .to_string()
}

/// The bodies of `n` sequential `GET path` requests, each on a new connection.
pub async fn bodies(port: u16, path: &str, n: usize) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..n {
        let r = crate::common::get(port, path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        v.push(r.body);
    }
    v
}

/// The origins (by `x-origin`) that `n` requests to `port` reached, sorted, each once.
pub async fn origins(port: u16, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let r = crate::common::get(port, "/").await;
        assert_eq!(r.status, 200);
        seen.push(r.header("x-origin").to_string());
    }
    seen.sort();
    seen.dedup();
    seen
}
