//! Peer sessions: the handshake (`HAProxyS 2.1`, the remote and local peer names,
//! a status code), then the message loop: table definitions and entry updates both
//! ways, acks, full resyncs, heartbeats.

use super::wire::{self, Msg, TableDef};
use super::{lock, Section, HEARTBEAT_MS, RECONNECT_MS, TIMEOUT_MS};
use crate::stick::now_ms;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The protocol name and version lbd speaks.
const HELLO: &str = "HAProxyS 2.1";
/// The most updates pushed in one go before reading again.
const BATCH: usize = 200;

/// The date as HAProxy's `show peers` prints it (`[03/Dec/2026:18:56:13]`, UTC).
pub fn date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86400) as i64;
    let (h, m, s) = (secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!("{d:02}/{}/{y}:{h:02}:{m:02}:{s:02}", MON[(mo - 1) as usize])
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await
}

/// Connects to peer `i` whenever it has no session and its reconnect time passed.
pub async fn connect_loop(s: Arc<Section>, i: usize) {
    loop {
        let ended = s.peers[i].ended.notified();
        let (busy, wait) = {
            let st = lock(&s.peers[i].st);
            (st.session.is_some(), st.reconnect.saturating_sub(now_ms()))
        };
        if busy {
            ended.await;
            continue;
        }
        if wait > 0 {
            drop(ended);
            sleep_ms(wait).await;
            continue;
        }
        drop(ended);
        {
            let mut st = lock(&s.peers[i].st);
            st.new_conn += 1;
            st.status = 100;
            st.reconnect = now_ms() + RECONNECT_MS;
        }
        if let Some(stream) = connect(&s, i).await {
            let mut st = lock(&s.peers[i].st);
            if st.session.is_none() {
                start_session(&s, i, &mut st, stream, false);
            }
        }
    }
}

/// Connects and says hello; the stream once the peer answered 200.
async fn connect(s: &Arc<Section>, i: usize) -> Option<TcpStream> {
    let p = &s.peers[i];
    let t = Duration::from_millis(1000);
    let mut stream = tokio::time::timeout(t, TcpStream::connect(p.addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    lock(&p.st).status = 110;
    let hello = format!(
        "{HELLO}\n{}\n{} {} 1\n",
        p.name,
        s.spec.local,
        std::process::id()
    );
    stream.write_all(hello.as_bytes()).await.ok()?;
    // The status line, read byte by byte: what follows it is the peer's first messages.
    let mut line = Vec::new();
    let read = async {
        let mut b = [0u8; 1];
        while line.len() < 16 {
            if stream.read(&mut b).await.ok()? == 0 {
                return None;
            }
            if b[0] == b'\n' {
                return Some(());
            }
            line.push(b[0]);
        }
        None
    };
    tokio::time::timeout(Duration::from_millis(TIMEOUT_MS), read)
        .await
        .ok()??;
    let code: u16 = String::from_utf8_lossy(&line).trim().parse().unwrap_or(501);
    let mut st = lock(&p.st);
    st.status = code;
    st.last_hdshk = Some(now_ms());
    (code == 200).then_some(stream)
}

/// Accepts the connections of the other peers.
pub async fn accept_loop(s: Arc<Section>, l: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = l.accept().await else {
            sleep_ms(100).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(accepted(s.clone(), stream));
    }
}

/// Reads a peer's hello and answers with a status code (200: the session starts).
async fn accepted(s: Arc<Section>, stream: TcpStream) {
    let mut r = BufReader::new(stream);
    let hello = async {
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut l = String::new();
            if r.read_line(&mut l).await.ok()? == 0 || !l.ends_with('\n') {
                return None;
            }
            lines.push(l.trim_end_matches(['\r', '\n']).to_string());
        }
        Some(lines)
    };
    let Ok(Some(lines)) = tokio::time::timeout(Duration::from_millis(TIMEOUT_MS), hello).await
    else {
        return;
    };
    let (code, peer) = check_hello(&s, &lines);
    if r.buffer().is_empty() {
        let mut stream = r.into_inner();
        if code != 200 {
            let _ = stream.write_all(format!("{code}\n").as_bytes()).await;
            return;
        }
        let Some(i) = peer else { return };
        let mut st = lock(&s.peers[i].st);
        if let Some((_, old)) = st.session.take() {
            // A session exists: the new one replaces it; the replaced side retries
            // later, at a random delay, so that both ends do not keep crossing.
            old.abort();
            st.coll += 1;
            st.reconnect = now_ms() + 50 + fastrand_delay();
        }
        st.status = 200;
        st.last_hdshk = Some(now_ms());
        start_session(&s, i, &mut st, stream, true);
    }
}

fn fastrand_delay() -> u64 {
    // A cheap pseudo-random delay from the clock (the stick layer has no RNG).
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(n / 7 % 2000)
}

/// The status code for a hello, and the peer it comes from.
fn check_hello(s: &Section, lines: &[String]) -> (u16, Option<usize>) {
    let Some(ver) = lines[0].strip_prefix("HAProxyS ") else {
        return (501, None);
    };
    let ok_ver = ver
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .is_some_and(|(maj, min)| maj == 2 && min <= 1);
    if !ok_ver {
        return (502, None);
    }
    if lines[1] != s.spec.local {
        return (503, None);
    }
    let Some(name) = lines[2]
        .split(' ')
        .next()
        .filter(|_| lines[2].contains(' '))
    else {
        return (501, None);
    };
    match s.peers.iter().position(|p| p.name == name) {
        Some(i) => (200, Some(i)),
        None => (504, None),
    }
}

/// Runs a session with peer `i` in its own task (`st` is the peer's locked state).
fn start_session(
    s: &Arc<Section>,
    i: usize,
    st: &mut super::PeerState,
    stream: TcpStream,
    incoming: bool,
) {
    let id = s.next_session();
    let mut sess = Session::new(s.clone(), i, id, st.acked.clone());
    let task = tokio::spawn(async move {
        let r = sess.run(stream, incoming).await;
        if r == Err(Bad::Proto) {
            lock(&sess.s.peers[i].st).proto_err += 1;
        }
    });
    st.session = Some((id, task.abort_handle()));
    st.incoming = incoming;
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    /// The connection closed or failed.
    Io,
    /// A malformed message.
    Proto,
    /// Nothing received for `TIMEOUT_MS`.
    Timeout,
}

/// A remote table definition, and the local table it matches.
struct Remote {
    def: TableDef,
    local: Option<usize>,
}

/// One session's state.
struct Session {
    s: Arc<Section>,
    i: usize,
    id: u64,
    /// The remote tables by the peer's id.
    remote: HashMap<u64, Remote>,
    /// The remote table the next updates are for.
    current: Option<u64>,
    /// Per local table: the last update id received, and the last one acked.
    got: Vec<(u32, u32)>,
    /// Per local table: the last update number pushed.
    pushed: Vec<u64>,
    /// The local table the last updates went to (its definition was sent).
    sent_table: Option<usize>,
    dict: wire::Dict,
    /// Asked the peer for a full resync, not answered yet.
    learning: bool,
    /// Teaching the peer (ignoring its acks until it confirms).
    teaching: bool,
    /// Resync answers to confirm.
    confirm: u32,
    out: Vec<u8>,
}

/// Marks the end of a session in the peer's state, however it ends (aborted too).
struct EndGuard {
    s: Arc<Section>,
    i: usize,
    id: u64,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        let p = &self.s.peers[self.i];
        let mut st = lock(&p.st);
        if st.session.as_ref().is_some_and(|(id, _)| *id == self.id) {
            st.session = None;
        }
        drop(st);
        self.s.resync_lost(self.i);
        p.ended.notify_one();
    }
}

impl Session {
    /// A session starting from the updates the peer acknowledged (`acked`).
    fn new(s: Arc<Section>, i: usize, id: u64, pushed: Vec<u64>) -> Session {
        let n = s.spec.tables.len();
        Session {
            s,
            i,
            id,
            remote: HashMap::new(),
            current: None,
            got: vec![(0, 0); n],
            pushed,
            sent_table: None,
            dict: wire::Dict::new(),
            learning: false,
            teaching: false,
            confirm: 0,
            out: Vec::new(),
        }
    }

    async fn run(&mut self, stream: TcpStream, incoming: bool) -> Result<(), Bad> {
        let _guard = EndGuard {
            s: self.s.clone(),
            i: self.i,
            id: self.id,
        };
        if incoming {
            let mut stream = stream;
            stream.write_all(b"200\n").await.map_err(|_| Bad::Io)?;
            self.serve(stream).await
        } else {
            self.serve(stream).await
        }
    }

    async fn serve(&mut self, stream: TcpStream) -> Result<(), Bad> {
        let (mut rd, mut wr) = stream.into_split();
        let mut inbuf: Vec<u8> = Vec::with_capacity(16384);
        let mut last_rx = now_ms();
        let mut last_tx = now_ms();
        let tables: Vec<_> = self.s.spec.tables.iter().map(|(_, t)| t.clone()).collect();
        loop {
            // Register for the tables' update signals before looking for updates.
            let mut waits: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = Vec::new();
            for t in &tables {
                let mut n = Box::pin(t.share().notify.notified());
                n.as_mut().enable();
                waits.push(n);
            }
            self.produce();
            if !self.out.is_empty() {
                wr.write_all(&self.out).await.map_err(|_| Bad::Io)?;
                self.out.clear();
                last_tx = now_ms();
            }
            let more = self.has_more();
            let hb = (last_tx + HEARTBEAT_MS).saturating_sub(now_ms());
            let to = (last_rx + TIMEOUT_MS).saturating_sub(now_ms());
            let any_update = std::future::poll_fn(|cx| {
                if more || waits.iter_mut().any(|w| w.as_mut().poll(cx).is_ready()) {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            });
            tokio::select! {
                r = rd.read_buf(&mut inbuf) => {
                    match r {
                        Ok(0) | Err(_) => return Err(Bad::Io),
                        Ok(_) => last_rx = now_ms(),
                    }
                    self.consume(&mut inbuf)?;
                }
                _ = any_update => {}
                _ = sleep_ms(hb) => {
                    if now_ms() >= last_tx + HEARTBEAT_MS {
                        self.out.extend(wire::short(wire::CLASS_CONTROL, wire::CTRL_HEARTBEAT));
                        lock(&self.s.peers[self.i].st).tx_hbt += 1;
                    }
                }
                _ = sleep_ms(to.min(1000)) => {
                    if now_ms() >= last_rx + TIMEOUT_MS {
                        return Err(Bad::Timeout);
                    }
                }
            }
        }
    }

    /// Handles the complete messages at the start of `inbuf`.
    fn consume(&mut self, inbuf: &mut Vec<u8>) -> Result<(), Bad> {
        let mut at = 0;
        loop {
            match wire::read_msg(&inbuf[at..]) {
                Ok(Some((m, n))) => {
                    at += n;
                    if let Err(e) = self.handle(m) {
                        self.out
                            .extend(wire::short(wire::CLASS_ERROR, wire::ERR_PROTOCOL));
                        return Err(e);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let ty = match e {
                        wire::Bad::Proto => wire::ERR_PROTOCOL,
                        wire::Bad::Size => wire::ERR_SIZE,
                    };
                    self.out.extend(wire::short(wire::CLASS_ERROR, ty));
                    return Err(Bad::Proto);
                }
            }
        }
        inbuf.drain(..at);
        Ok(())
    }

    fn handle(&mut self, m: Msg) -> Result<(), Bad> {
        match m {
            Msg::Control(wire::CTRL_RESYNC_REQ) => self.teach(),
            Msg::Control(c @ (wire::CTRL_RESYNC_FINISHED | wire::CTRL_RESYNC_PARTIAL)) => {
                if self.learning {
                    self.learning = false;
                    self.s
                        .resync_answered(self.i, c == wire::CTRL_RESYNC_FINISHED);
                }
                self.confirm += 1;
            }
            Msg::Control(wire::CTRL_RESYNC_CONFIRM) => self.teaching = false,
            Msg::Control(wire::CTRL_HEARTBEAT) => lock(&self.s.peers[self.i].st).rx_hbt += 1,
            Msg::Control(_) | Msg::Other => {}
            Msg::Error(_) | Msg::Reserved => return Err(Bad::Proto),
            Msg::Define(def) => {
                let local = self
                    .s
                    .spec
                    .tables
                    .iter()
                    .position(|(name, _)| *name == def.name)
                    .filter(|&t| {
                        let (ty, len) = wire::key_wire(self.s.spec.tables[t].1.spec.key);
                        def.key_type == ty && def.key_len == len && def.readable()
                    });
                self.current = Some(def.id);
                self.remote.insert(def.id, Remote { def, local });
            }
            Msg::Switch(id) => self.current = Some(id),
            Msg::Ack { table, update } => {
                if !self.teaching {
                    if let Some(t) = (table as usize).checked_sub(1) {
                        self.acked(t, update);
                    }
                }
            }
            Msg::Update {
                with_id,
                timed,
                body,
            } => {
                let Some(r) = self.current.and_then(|c| self.remote.get(&c)) else {
                    return Ok(());
                };
                let Some(t) = r.local else { return Ok(()) };
                let table = &self.s.spec.tables[t].1;
                let u = wire::get_update(
                    &body,
                    with_id,
                    timed,
                    &r.def,
                    table.spec.key,
                    &mut self.dict,
                    now_ms(),
                )
                .ok_or(Bad::Proto)?;
                self.got[t].0 = u.id.unwrap_or(self.got[t].0.wrapping_add(1));
                table.apply_remote(u.key, u.vals, u.expire.map(u64::from));
                lock(&self.s.peers[self.i].st).last_get[t] = self.got[t].0;
            }
        }
        Ok(())
    }

    /// The peer acknowledged updates up to `update` (the low 32 bits of a number).
    fn acked(&mut self, t: usize, update: u32) {
        let Some((_, table)) = self.s.spec.tables.get(t) else {
            return;
        };
        let last = table.share().last();
        let back = u64::from((last as u32).wrapping_sub(update));
        let n = last.saturating_sub(back);
        lock(&self.s.peers[self.i].st).acked[t] = n;
    }

    /// Sends every entry of every table (a full resync the peer asked for), then
    /// "finished", or "partial" while lbd waits for its own resync.
    fn teach(&mut self) {
        self.teaching = true;
        let now = now_ms();
        for t in 0..self.s.spec.tables.len() {
            let table = self.s.spec.tables[t].1.clone();
            let origin = table.share().last();
            self.define(t);
            for e in table.entries() {
                let (vals, exp) = table.snapshot(&e);
                let exp = exp.or(table.spec.expire).unwrap_or(0);
                wire::put_update(
                    &mut self.out,
                    Some(origin as u32),
                    Some(exp.min(u64::from(u32::MAX)) as u32),
                    table.spec.key,
                    e.key(),
                    &vals,
                    now,
                );
            }
            self.pushed[t] = self.pushed[t].max(origin);
        }
        let done = if self.s.resyncing() {
            wire::CTRL_RESYNC_PARTIAL
        } else {
            wire::CTRL_RESYNC_FINISHED
        };
        self.out.extend(wire::short(wire::CLASS_CONTROL, done));
    }

    /// Sends table `t`'s definition unless the last updates were for it.
    fn define(&mut self, t: usize) {
        if self.sent_table == Some(t) {
            return;
        }
        let (name, table) = &self.s.spec.tables[t];
        let def = TableDef::new(
            t as u64 + 1,
            name,
            table.spec.key,
            &table.spec.store,
            table.spec.expire,
        );
        def.put(&mut self.out, &table.spec.store);
        self.sent_table = Some(t);
    }

    /// Whether local updates remain to push.
    fn has_more(&self) -> bool {
        !self.learning
            && self
                .s
                .spec
                .tables
                .iter()
                .enumerate()
                .any(|(t, (_, table))| table.share().last() > self.pushed[t])
    }

    /// Queues what is to send: a resync request, acks, confirmations, local updates.
    fn produce(&mut self) {
        if self.learning && !self.s.resyncing() {
            // The time for the resync ran out: push again.
            self.learning = false;
        }
        if !self.learning && self.s.ask_resync(self.i) {
            self.learning = true;
            self.out
                .extend(wire::short(wire::CLASS_CONTROL, wire::CTRL_RESYNC_REQ));
        }
        for t in 0..self.got.len() {
            let (get, acked) = self.got[t];
            if get != acked {
                // Acks name the table by the peer's id.
                let rid = self
                    .remote
                    .iter()
                    .find(|(_, r)| r.local == Some(t))
                    .map(|(id, _)| *id);
                if let Some(rid) = rid {
                    wire::put_ack(&mut self.out, rid, get);
                }
                self.got[t].1 = get;
            }
        }
        while self.confirm > 0 {
            self.out
                .extend(wire::short(wire::CLASS_CONTROL, wire::CTRL_RESYNC_CONFIRM));
            self.confirm -= 1;
        }
        if self.learning {
            return;
        }
        let now = now_ms();
        for t in 0..self.s.spec.tables.len() {
            let table = self.s.spec.tables[t].1.clone();
            let ups = table.share().after(self.pushed[t], BATCH);
            if ups.is_empty() {
                continue;
            }
            let mut prev: Option<u64> = None;
            for (n, key) in ups {
                let Some(e) = table.lookup(&key) else {
                    table.share().forget(&key);
                    self.pushed[t] = n;
                    continue;
                };
                self.define(t);
                let (vals, _) = table.snapshot(&e);
                // The id is left out when it follows the previous update's.
                let id = match prev {
                    Some(p) if p + 1 == n => None,
                    _ => Some(n as u32),
                };
                wire::put_update(&mut self.out, id, None, table.spec.key, &key, &vals, now);
                prev = Some(n);
                self.pushed[t] = n;
            }
            lock(&self.s.peers[self.i].st).pushed[t] = self.pushed[t];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_haproxy_format() {
        let d = date();
        assert_eq!(d.len(), "03/Dec/2026:18:56:13".len(), "{d}");
        assert_eq!(&d[2..3], "/");
        assert_eq!(&d[11..12], ":");
    }
}
