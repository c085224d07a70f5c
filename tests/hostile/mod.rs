//! Shared pieces of the hostile-input tests (`hostile_framing`, `hostile_slow`,
//! `hostile_limits`): a raw TCP origin that records every byte it receives and frames
//! requests itself (so that what lbd forwards is checked byte for byte), a raw client,
//! and readers of `/proc/<pid>` for descriptors and CPU time.
//!
//! Every wait has a deadline: a broken proxy fails a test, it never hangs it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A fixed, valid origin answer: `200`, body `ok`.
pub const OK_REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// What the origin does once it has a request.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// After each complete request, write these bytes and keep the connection.
    Reply(Vec<u8>),
    /// After each complete request, write these bytes and close.
    ReplyClose(Vec<u8>),
    /// After each complete request, write these bytes and reset the connection (RST).
    ReplyReset(Vec<u8>),
    /// Read forever, never answer.
    Silent,
}

/// What an origin saw.
#[derive(Debug, Default)]
pub struct Rec {
    /// Every byte received, all connections, in arrival order.
    pub bytes: Mutex<Vec<u8>>,
    /// Each complete request (head and body as received).
    pub requests: Mutex<Vec<Vec<u8>>>,
    /// Connections accepted.
    pub accepted: AtomicUsize,
    /// Connections that ended (EOF, error or closed by the origin).
    pub ended: AtomicUsize,
    /// Requests the origin could not frame (a sign that lbd forwarded garbage).
    pub malformed: AtomicUsize,
}

impl Rec {
    /// All bytes received so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
    /// Complete requests received so far.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().clone()
    }
    /// Forgets what was received (counters stay).
    pub fn clear(&self) {
        self.bytes.lock().unwrap().clear();
        self.requests.lock().unwrap().clear();
    }
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(SeqCst)
    }
    /// Connections ended so far.
    pub fn ended(&self) -> usize {
        self.ended.load(SeqCst)
    }
}

/// A raw TCP origin on 127.0.0.1 that records what it receives.
pub struct RawOrigin {
    /// Its address.
    pub addr: SocketAddr,
    /// What it saw.
    pub rec: Arc<Rec>,
    /// What it does (may be changed between requests).
    pub behavior: Arc<Mutex<Behavior>>,
    task: JoinHandle<()>,
}

impl RawOrigin {
    /// Starts an origin with `behavior`.
    pub async fn start(behavior: Behavior) -> RawOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
        let addr = listener.local_addr().expect("origin addr");
        let rec = Arc::new(Rec::default());
        let behavior = Arc::new(Mutex::new(behavior));
        let (r, b) = (rec.clone(), behavior.clone());
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut conns = JoinSet::new();
            loop {
                while conns.try_join_next().is_some() {}
                let Ok((s, _)) = listener.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                r.accepted.fetch_add(1, SeqCst);
                conns.spawn(origin_conn(s, r.clone(), b.clone()));
            }
        });
        RawOrigin {
            addr,
            rec,
            behavior,
            task,
        }
    }

    /// Changes what the origin does from the next request on.
    pub fn set(&self, b: Behavior) {
        *self.behavior.lock().unwrap() = b;
    }

    /// `127.0.0.1:port`, for a `server` line.
    pub fn hostport(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for RawOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn origin_conn(mut s: TcpStream, rec: Arc<Rec>, behavior: Arc<Mutex<Behavior>>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Frame every complete request already buffered.
        loop {
            match frame_request(&buf) {
                Framed::Complete(n) => {
                    let req: Vec<u8> = buf.drain(..n).collect();
                    rec.requests.lock().unwrap().push(req);
                    let b = behavior.lock().unwrap().clone();
                    match b {
                        Behavior::Reply(bytes) => {
                            if s.write_all(&bytes).await.is_err() {
                                rec.ended.fetch_add(1, SeqCst);
                                return;
                            }
                        }
                        Behavior::ReplyClose(bytes) => {
                            let _ = s.write_all(&bytes).await;
                            let _ = s.shutdown().await;
                            rec.ended.fetch_add(1, SeqCst);
                            return;
                        }
                        Behavior::ReplyReset(bytes) => {
                            let _ = s.write_all(&bytes).await;
                            let _ = s.flush().await;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            // Linger 0: closing sends RST instead of FIN.
                            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                            rec.ended.fetch_add(1, SeqCst);
                            return;
                        }
                        Behavior::Silent => {}
                    }
                }
                Framed::Malformed => {
                    rec.malformed.fetch_add(1, SeqCst);
                    buf.clear();
                    break;
                }
                Framed::Head | Framed::Partial => break,
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                rec.ended.fetch_add(1, SeqCst);
                return;
            }
            Ok(n) => {
                rec.bytes.lock().unwrap().extend_from_slice(&chunk[..n]);
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// How much of a request a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed {
    /// Not even a whole head.
    Partial,
    /// A whole head, not the whole body.
    Head,
    /// A whole request of this many bytes.
    Complete(usize),
    /// Not a request this parser can frame.
    Malformed,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Frames the first request of `buf` the strict way (CRLF line ends, chunked or
/// Content-Length).
pub fn frame_request(buf: &[u8]) -> Framed {
    if buf.is_empty() {
        return Framed::Partial;
    }
    let Some(h) = find(buf, b"\r\n\r\n", 0) else {
        return Framed::Partial;
    };
    let head_end = h + 4;
    let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
    let field = |name: &str| -> Vec<String> {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    let te = field("transfer-encoding");
    let cl = field("content-length");
    if !te.is_empty() {
        if te != ["chunked"] || !cl.is_empty() {
            return Framed::Malformed;
        }
        let mut at = head_end;
        loop {
            let Some(eol) = find(buf, b"\r\n", at) else {
                return Framed::Head;
            };
            let line = String::from_utf8_lossy(&buf[at..eol]).into_owned();
            let size = line.split(';').next().unwrap_or("");
            let Ok(size) = usize::from_str_radix(size, 16) else {
                return Framed::Malformed;
            };
            at = eol + 2;
            if size == 0 {
                // Trailer section: lines up to an empty one.
                loop {
                    let Some(eol) = find(buf, b"\r\n", at) else {
                        return Framed::Head;
                    };
                    let empty = eol == at;
                    at = eol + 2;
                    if empty {
                        return Framed::Complete(at);
                    }
                }
            }
            if buf.len() < at + size + 2 {
                return Framed::Head;
            }
            if &buf[at + size..at + size + 2] != b"\r\n" {
                return Framed::Malformed;
            }
            at += size + 2;
        }
    }
    match cl.as_slice() {
        [] => Framed::Complete(head_end),
        [n] => match n.parse::<usize>() {
            Ok(n) if buf.len() >= head_end + n => Framed::Complete(head_end + n),
            Ok(_) => Framed::Head,
            Err(_) => Framed::Malformed,
        },
        _ => Framed::Malformed,
    }
}

/// A request split into its head (text, CRLF line ends) and its body as received.
pub struct Parsed {
    /// The head without the final empty line.
    pub head: String,
    /// The request line.
    pub line: String,
    /// Field lines, names lowercased, values trimmed.
    pub fields: Vec<(String, String)>,
    /// The body as received (still chunked if it was).
    pub raw_body: Vec<u8>,
}

impl Parsed {
    /// Splits one complete request.
    pub fn new(req: &[u8]) -> Parsed {
        let h = find(req, b"\r\n\r\n", 0).expect("a complete head");
        let head = String::from_utf8_lossy(&req[..h]).into_owned();
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or("").to_string();
        let fields = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Parsed {
            head,
            line,
            fields,
            raw_body: req[h + 4..].to_vec(),
        }
    }

    /// Values of a field.
    pub fn field(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body decoded from chunked, and the trailer section (text).
    pub fn dechunk(&self) -> (Vec<u8>, String) {
        let b = &self.raw_body;
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let eol = find(b, b"\r\n", at).expect("chunk size line");
            let size = String::from_utf8_lossy(&b[at..eol]);
            let size = usize::from_str_radix(size.split(';').next().unwrap(), 16).unwrap();
            at = eol + 2;
            if size == 0 {
                return (out, String::from_utf8_lossy(&b[at..]).into_owned());
            }
            out.extend_from_slice(&b[at..at + size]);
            at += size + 2;
        }
    }
}

/// What a raw client saw.
#[derive(Debug)]
pub struct Answer {
    /// Bytes read.
    pub bytes: Vec<u8>,
    /// Whether the server closed (EOF or reset) before the deadline.
    pub closed: bool,
    /// Time from the end of the write to the close (or the deadline).
    pub elapsed: Duration,
}

impl Answer {
    /// The status code of the first response (0 when none).
    pub fn status(&self) -> u16 {
        let t = String::from_utf8_lossy(&self.bytes);
        t.strip_prefix("HTTP/1.1 ")
            .or_else(|| t.strip_prefix("HTTP/1.0 "))
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
    /// The bytes as lossy text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    /// The body of the first response (after the head).
    pub fn body(&self) -> Vec<u8> {
        match find(&self.bytes, b"\r\n\r\n", 0) {
            Some(h) => self.bytes[h + 4..].to_vec(),
            None => Vec::new(),
        }
    }
}

/// Connects to 127.0.0.1:`port`.
pub async fn connect(port: u16) -> TcpStream {
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(to)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => panic!("connect to {to}: {e}"),
        Err(_) => panic!("connect to {to} timed out"),
    }
}

/// Reads until the peer closes or `limit` passes.
pub async fn read_until_close(s: &mut TcpStream, limit: Duration) -> Answer {
    let start = Instant::now();
    let end = tokio::time::Instant::now() + limit;
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    Answer {
        bytes,
        closed,
        elapsed: start.elapsed(),
    }
}

/// Writes `bytes` on a new connection, then reads until the server closes (at most
/// `limit`).
pub async fn exchange(port: u16, bytes: &[u8], limit: Duration) -> Answer {
    let mut s = connect(port).await;
    // The server may answer and close before reading everything.
    let _ = s.write_all(bytes).await;
    read_until_close(&mut s, limit).await
}

/// Open descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// CPU time (user + system) of process `pid` so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Waits (polling every 20 ms) until `cond` holds; false after `limit`.
pub async fn settle(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
