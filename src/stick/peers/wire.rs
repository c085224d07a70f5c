//! HAProxy's peers protocol v2.1 on the wire (HAProxy's doc/peers-v2.0.txt and
//! src/peers.c): the varint encoding, message framing, table definitions, and the
//! keys and data values of entry updates.
//!
//! A message is `class type`; a type with bit 7 set (the stick-table messages) is
//! followed by a varint length and that many bytes. Pure functions, no sockets.

use crate::stick::data::{Data, Val, ALL};
use crate::stick::freq::Freq;
use crate::stick::table::{Key, KeyType};

/// Message classes.
pub const CLASS_CONTROL: u8 = 0;
/// Errors (then the connection closes).
pub const CLASS_ERROR: u8 = 1;
/// Stick-table messages.
pub const CLASS_STKT: u8 = 10;
/// Reserved (a protocol error).
pub const CLASS_RESERVED: u8 = 255;

/// Control message types.
pub const CTRL_RESYNC_REQ: u8 = 0;
/// The sender pushed everything it knows and is up to date.
pub const CTRL_RESYNC_FINISHED: u8 = 1;
/// The sender pushed everything it knows but is not up to date itself.
pub const CTRL_RESYNC_PARTIAL: u8 = 2;
/// Acknowledges a finished or partial message.
pub const CTRL_RESYNC_CONFIRM: u8 = 3;
/// Keeps an idle session alive.
pub const CTRL_HEARTBEAT: u8 = 4;

/// Error message types.
pub const ERR_PROTOCOL: u8 = 0;
/// A message too big for the receiver.
pub const ERR_SIZE: u8 = 1;

const STKT_UPDATE: u8 = 0x80;
const STKT_INCUPDATE: u8 = 0x81;
const STKT_DEFINE: u8 = 0x82;
const STKT_SWITCH: u8 = 0x83;
const STKT_ACK: u8 = 0x84;
const STKT_UPDATE_TIMED: u8 = 0x85;
const STKT_INCUPDATE_TIMED: u8 = 0x86;

/// The largest message body lbd accepts (HAProxy's buffer size).
pub const MAX_BODY: u64 = 16384;

/// HAProxy's data types past lbd's: arrays (`gpt`, `gpc`, `gpc_rate`), skipped when
/// a peer sends them.
const GPT_ARRAY: u8 = 22;
const GPC_ARRAY: u8 = 23;
const GPC_RATE_ARRAY: u8 = 24;

/// Appends `v` in HAProxy's variable-length encoding: below 240 one byte; else the
/// low 4 bits with 0xf0, then 7 bits per byte, bit 7 set on all but the last.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    if v < 0xf0 {
        out.push(v as u8);
        return;
    }
    out.push((v as u8) | 0xf0);
    v = (v - 0xf0) >> 4;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v = (v - 0x80) >> 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*pos` (None when the buffer ends first or it overflows).
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut p = *pos;
    let mut v = u64::from(*buf.get(p)?);
    p += 1;
    if v >= 0xf0 {
        let mut shift = 4u32;
        loop {
            let b = *buf.get(p)?;
            p += 1;
            if shift > 63 {
                return None;
            }
            v = v.wrapping_add(u64::from(b) << shift);
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
    }
    *pos = p;
    Some(v)
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let b = buf.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(b)
}

fn get_u32(buf: &[u8], pos: &mut usize) -> Option<u32> {
    get_bytes(buf, pos, 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// A control message (`CTRL_*`).
    Control(u8),
    /// An error message (`ERR_*`).
    Error(u8),
    /// A table definition.
    Define(TableDef),
    /// The table the next updates are for (the sender's id).
    Switch(u64),
    /// The receiver committed updates up to `update` of its table `table`.
    Ack {
        /// The table's id on the side that receives the ack.
        table: u64,
        /// The last update applied.
        update: u32,
    },
    /// An entry update, decoded against the current table's definition.
    Update {
        /// The update carries its id (else: the previous one plus one).
        with_id: bool,
        /// The update carries the entry's remaining lifetime.
        timed: bool,
        /// The body.
        body: Vec<u8>,
    },
    /// A message of a class or type lbd does not know (ignored, as HAProxy does).
    Other,
    /// The reserved class (a protocol error).
    Reserved,
}

/// Why a stream of messages cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Malformed (answered with a protocol error).
    Proto,
    /// Too big (answered with a size error).
    Size,
}

/// Reads one message from the start of `buf`: the message and the bytes it took, or
/// None when more bytes are needed.
pub fn read_msg(buf: &[u8]) -> Result<Option<(Msg, usize)>, Bad> {
    let (Some(&class), Some(&ty)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if class == CLASS_RESERVED {
        return Ok(Some((Msg::Reserved, 2)));
    }
    if ty & 0x80 == 0 {
        let m = match class {
            CLASS_CONTROL => Msg::Control(ty),
            CLASS_ERROR => Msg::Error(ty),
            _ => Msg::Other,
        };
        return Ok(Some((m, 2)));
    }
    let mut pos = 2;
    let Some(len) = get_varint(buf, &mut pos) else {
        // A length takes at most 5 bytes here.
        return if buf.len() >= 2 + 10 {
            Err(Bad::Proto)
        } else {
            Ok(None)
        };
    };
    if len > MAX_BODY {
        return Err(Bad::Size);
    }
    let Some(body) = get_bytes(buf, &mut pos, len as usize) else {
        return Ok(None);
    };
    let m = if class != CLASS_STKT {
        Msg::Other
    } else {
        match ty {
            STKT_DEFINE => Msg::Define(TableDef::decode(body).ok_or(Bad::Proto)?),
            STKT_SWITCH => {
                let mut p = 0;
                Msg::Switch(get_varint(body, &mut p).ok_or(Bad::Proto)?)
            }
            STKT_ACK => {
                let mut p = 0;
                let table = get_varint(body, &mut p).ok_or(Bad::Proto)?;
                let update = get_u32(body, &mut p).ok_or(Bad::Proto)?;
                Msg::Ack { table, update }
            }
            STKT_UPDATE | STKT_INCUPDATE | STKT_UPDATE_TIMED | STKT_INCUPDATE_TIMED => {
                Msg::Update {
                    with_id: matches!(ty, STKT_UPDATE | STKT_UPDATE_TIMED),
                    timed: matches!(ty, STKT_UPDATE_TIMED | STKT_INCUPDATE_TIMED),
                    body: body.to_vec(),
                }
            }
            _ => Msg::Other,
        }
    };
    Ok(Some((m, pos)))
}

/// A two-byte message (control or error).
pub fn short(class: u8, ty: u8) -> [u8; 2] {
    [class, ty]
}

fn frame(out: &mut Vec<u8>, ty: u8, body: &[u8]) {
    out.push(CLASS_STKT);
    out.push(ty);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// Appends a table switch message.
pub fn put_switch(out: &mut Vec<u8>, id: u64) {
    let mut b = Vec::new();
    put_varint(&mut b, id);
    frame(out, STKT_SWITCH, &b);
}

/// Appends an ack of updates up to `update` of the peer's table `remote_id`.
pub fn put_ack(out: &mut Vec<u8>, remote_id: u64, update: u32) {
    let mut b = Vec::new();
    put_varint(&mut b, remote_id);
    b.extend_from_slice(&update.to_be_bytes());
    frame(out, STKT_ACK, &b);
}

/// HAProxy's network key types.
const KT_SINT: u64 = 2;
const KT_IPV4: u64 = 4;
const KT_IPV6: u64 = 5;
const KT_STR: u64 = 6;
const KT_BIN: u64 = 7;

/// The key type and key size a table announces (a string's size counts its
/// terminating NUL, as HAProxy's does).
pub fn key_wire(k: KeyType) -> (u64, u64) {
    match k {
        KeyType::Integer => (KT_SINT, 4),
        KeyType::Ip => (KT_IPV4, 4),
        KeyType::Ipv6 => (KT_IPV6, 16),
        KeyType::String(len) => (KT_STR, len as u64 + 1),
        KeyType::Binary(len) => (KT_BIN, len as u64),
    }
}

/// A table definition message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableDef {
    /// The sender's id of the table.
    pub id: u64,
    /// The table's shared name.
    pub name: String,
    /// Network key type.
    pub key_type: u64,
    /// Key size.
    pub key_len: u64,
    /// Bit N set: data type N is in each update, in type order.
    pub data: u64,
    /// Entries' lifetime (ms).
    pub expire: u64,
    /// Elements of the array data types present (by type).
    pub nbelem: Vec<(u8, u64)>,
}

impl TableDef {
    /// The definition of a table lbd shares.
    pub fn new(
        id: u64,
        name: &str,
        key: KeyType,
        store: &[(Data, u64)],
        expire: Option<u64>,
    ) -> TableDef {
        let (key_type, key_len) = key_wire(key);
        let mut data = 0u64;
        for (d, _) in store {
            data |= 1 << d.index();
        }
        TableDef {
            id,
            name: name.to_string(),
            key_type,
            key_len,
            data,
            expire: expire.unwrap_or(0),
            nbelem: Vec::new(),
        }
    }

    /// Appends the message; `store` gives the periods of the rates.
    pub fn put(&self, out: &mut Vec<u8>, store: &[(Data, u64)]) {
        let mut b = Vec::new();
        put_varint(&mut b, self.id);
        put_varint(&mut b, self.name.len() as u64);
        b.extend_from_slice(self.name.as_bytes());
        put_varint(&mut b, self.key_type);
        put_varint(&mut b, self.key_len);
        put_varint(&mut b, self.data);
        put_varint(&mut b, self.expire);
        // Each rate's period, prefixed by its type.
        for (d, period) in store.iter().filter(|(d, _)| d.is_rate()) {
            put_varint(&mut b, d.index() as u64);
            put_varint(&mut b, *period);
        }
        frame(out, STKT_DEFINE, &b);
    }

    fn decode(body: &[u8]) -> Option<TableDef> {
        let mut p = 0;
        let id = get_varint(body, &mut p)?;
        let nlen = get_varint(body, &mut p)? as usize;
        let name = String::from_utf8_lossy(get_bytes(body, &mut p, nlen)?).into_owned();
        let key_type = get_varint(body, &mut p)?;
        let key_len = get_varint(body, &mut p)?;
        let data = get_varint(body, &mut p)?;
        let mut def = TableDef {
            id,
            name,
            key_type,
            key_len,
            data,
            ..TableDef::default()
        };
        // Older peers stop here; newer ones add the lifetime and the parameters.
        let Some(expire) = get_varint(body, &mut p) else {
            return Some(def);
        };
        def.expire = expire;
        for t in 0..64u8 {
            if data & (1 << t) == 0 {
                continue;
            }
            let array = matches!(t, GPT_ARRAY | GPC_ARRAY | GPC_RATE_ARRAY);
            let rate = t == GPC_RATE_ARRAY || ALL.get(t as usize).is_some_and(|d| d.is_rate());
            if !array && !rate {
                continue;
            }
            if get_varint(body, &mut p)? != u64::from(t) {
                return None;
            }
            if array {
                def.nbelem.push((t, get_varint(body, &mut p)?));
            }
            if rate {
                get_varint(body, &mut p)?;
            }
        }
        Some(def)
    }

    /// Whether lbd can read the updates of this definition (no data type past the
    /// ones HAProxy 2.6 knows).
    pub fn readable(&self) -> bool {
        self.data >> (GPC_RATE_ARRAY + 1) == 0
    }
}

/// The per-session cache of `server_key` names a peer sends (by id).
pub type Dict = std::collections::HashMap<u64, String>;

/// Appends an update of an entry: with its id unless it follows the previous one
/// (`id` None), with its remaining lifetime when `expire` is given; `vals` in the
/// table's store order. Rates are sent relative to `now`.
pub fn put_update(
    out: &mut Vec<u8>,
    id: Option<u32>,
    expire: Option<u32>,
    key_type: KeyType,
    key: &Key,
    vals: &[(Data, Val)],
    now: u64,
) {
    let mut b = Vec::new();
    if let Some(id) = id {
        b.extend_from_slice(&id.to_be_bytes());
    }
    if let Some(e) = expire {
        b.extend_from_slice(&e.to_be_bytes());
    }
    match (key_type, key) {
        (KeyType::String(_), Key::Bytes(k)) => {
            put_varint(&mut b, k.len() as u64);
            b.extend_from_slice(k);
        }
        (_, Key::Int(i)) => b.extend_from_slice(&i.to_be_bytes()),
        (_, Key::V4(a)) => b.extend_from_slice(a),
        (_, Key::V6(a)) => b.extend_from_slice(a),
        (_, Key::Bytes(k)) => b.extend_from_slice(k),
    }
    for (d, v) in vals {
        match v {
            Val::Num(n) if *d == Data::ServerId => put_varint(&mut b, *n as u32 as i32 as u64),
            Val::Num(n) => put_varint(&mut b, *n),
            Val::Rate(f) => {
                let (tick, curr, prev) = f.parts();
                put_varint(&mut b, now.saturating_sub(tick).min(u64::from(u32::MAX)));
                put_varint(&mut b, u64::from(curr));
                put_varint(&mut b, u64::from(prev));
            }
            Val::Text(t) if t.is_empty() => put_varint(&mut b, 0),
            Val::Text(t) => {
                // A dictionary entry with its value, always under id 1.
                let mut e = Vec::new();
                put_varint(&mut e, 1);
                put_varint(&mut e, t.len() as u64);
                e.extend_from_slice(t.as_bytes());
                put_varint(&mut b, e.len() as u64);
                b.extend_from_slice(&e);
            }
        }
    }
    let ty = match (id.is_none(), expire.is_some()) {
        (false, false) => STKT_UPDATE,
        (true, false) => STKT_INCUPDATE,
        (false, true) => STKT_UPDATE_TIMED,
        (true, true) => STKT_INCUPDATE_TIMED,
    };
    frame(out, ty, &b);
}

/// An update received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Its id, when it carries one.
    pub id: Option<u32>,
    /// The entry's remaining lifetime (ms), when given.
    pub expire: Option<u32>,
    /// The key.
    pub key: Key,
    /// The values of the data types lbd knows, in type order.
    pub vals: Vec<(Data, Val)>,
}

/// Decodes an update body against the sender's definition `def`, for a table of
/// keys `key_type`; `dict` keeps the session's `server_key` names.
pub fn get_update(
    body: &[u8],
    with_id: bool,
    timed: bool,
    def: &TableDef,
    key_type: KeyType,
    dict: &mut Dict,
    now: u64,
) -> Option<Update> {
    let mut p = 0;
    let id = if with_id {
        Some(get_u32(body, &mut p)?)
    } else {
        None
    };
    let expire = if timed {
        Some(get_u32(body, &mut p)?)
    } else {
        None
    };
    let key = match key_type {
        KeyType::String(len) => {
            let n = get_varint(body, &mut p)? as usize;
            let k = get_bytes(body, &mut p, n)?;
            Key::Bytes(k[..n.min(len)].to_vec())
        }
        KeyType::Integer => Key::Int(get_u32(body, &mut p)?),
        KeyType::Ip => {
            let b = get_bytes(body, &mut p, 4)?;
            Key::V4([b[0], b[1], b[2], b[3]])
        }
        KeyType::Ipv6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(get_bytes(body, &mut p, 16)?);
            Key::V6(a)
        }
        KeyType::Binary(len) => Key::Bytes(get_bytes(body, &mut p, len)?.to_vec()),
    };
    let mut vals = Vec::new();
    for t in 0..=GPC_RATE_ARRAY {
        if def.data & (1 << t) == 0 {
            continue;
        }
        if t >= GPT_ARRAY {
            let n = def.nbelem.iter().find(|(x, _)| *x == t)?.1;
            let per = if t == GPC_RATE_ARRAY { 3 } else { 1 };
            for _ in 0..n * per {
                get_varint(body, &mut p)?;
            }
            continue;
        }
        let d = ALL[t as usize];
        let first = get_varint(body, &mut p)?;
        let v = if d.is_rate() {
            let curr = get_varint(body, &mut p)?;
            let prev = get_varint(body, &mut p)?;
            let tick = now.saturating_sub(first & 0xffff_ffff);
            Val::Rate(Freq::from_parts(tick, curr as u32, prev as u32))
        } else if d == Data::ServerKey {
            if first == 0 {
                continue;
            }
            let end = p.checked_add(first as usize)?;
            let entry = body.get(p..end)?;
            p = end;
            let mut q = 0;
            let id = get_varint(entry, &mut q)?;
            if q == entry.len() {
                Val::Text(dict.get(&id)?.clone())
            } else {
                let n = get_varint(entry, &mut q)? as usize;
                let name = String::from_utf8_lossy(get_bytes(entry, &mut q, n)?).into_owned();
                dict.insert(id, name.clone());
                Val::Text(name)
            }
        } else if d == Data::ServerId || d == Data::Gpt0 {
            Val::Num(u64::from(first as u32))
        } else {
            Val::Num(first)
        };
        vals.push((d, v));
    }
    Some(Update {
        id,
        expire,
        key,
        vals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: u64) -> Vec<u8> {
        let mut o = Vec::new();
        put_varint(&mut o, v);
        o
    }

    #[test]
    fn varints_at_each_length_boundary() {
        // The boundaries of doc/peers-v2.0.txt.
        for (v, len) in [
            (0, 1),
            (239, 1),
            (240, 2),
            (2287, 2),
            (2288, 3),
            (264_431, 3),
            (264_432, 4),
            (33_818_863, 4),
            (33_818_864, 5),
            (4_328_786_159, 5),
            (4_328_786_160, 6),
            (u64::MAX, 10),
        ] {
            let e = enc(v);
            assert_eq!(e.len(), len, "length of {v}");
            let mut p = 0;
            assert_eq!(get_varint(&e, &mut p), Some(v));
            assert_eq!(p, len);
        }
        assert_eq!(enc(240), [0xf0, 0x00]);
        assert_eq!(enc(300), [0xfc, 0x03]);
        let mut p = 0;
        assert_eq!(get_varint(&[0xf0, 0x80], &mut p), None, "truncated");
    }

    #[test]
    fn framing_control_and_table_messages() {
        assert_eq!(read_msg(&[0]), Ok(None));
        assert_eq!(
            read_msg(&[0, 4, 9]),
            Ok(Some((Msg::Control(CTRL_HEARTBEAT), 2)))
        );
        let mut o = Vec::new();
        put_ack(&mut o, 3, 0x01020304);
        assert_eq!(o, [10, 0x84, 5, 3, 1, 2, 3, 4]);
        assert_eq!(read_msg(&o[..6]), Ok(None), "incomplete");
        assert_eq!(
            read_msg(&o),
            Ok(Some((
                Msg::Ack {
                    table: 3,
                    update: 0x01020304
                },
                8
            )))
        );
        let mut big = vec![10, 0x80];
        put_varint(&mut big, MAX_BODY + 1);
        assert_eq!(read_msg(&big), Err(Bad::Size));
    }

    #[test]
    fn a_table_definition_round_trips() {
        let store = [
            (Data::ServerId, 0),
            (Data::Gpc0, 0),
            (Data::ConnRate, 50_000),
            (Data::ConnCur, 0),
        ];
        let def = TableDef::new(1, "stkt", KeyType::String(32), &store, Some(30_000));
        let mut o = Vec::new();
        def.put(&mut o, &store);
        // id, name, type string (6), size 33, bits 0|2|5|6, expire, then conn_rate's period.
        let mut body = vec![1, 4, b's', b't', b'k', b't', 6, 33];
        body.extend(enc(0b110_0101));
        body.extend(enc(30_000));
        body.extend([5]);
        body.extend(enc(50_000));
        let mut want = vec![10, 0x82, body.len() as u8];
        want.extend(&body);
        assert_eq!(o, want);
        let Ok(Some((Msg::Define(back), n))) = read_msg(&o) else {
            panic!("a definition")
        };
        assert_eq!(n, o.len());
        assert_eq!(back, def);
        assert!(back.readable());
    }

    #[test]
    fn updates_round_trip_with_keys_and_values() {
        let store = [
            (Data::ServerId, 0),
            (Data::Gpc0, 0),
            (Data::HttpReqRate, 10_000),
            (Data::BytesInCnt, 0),
            (Data::ServerKey, 0),
        ];
        let def = TableDef::new(7, "t", KeyType::String(8), &store, None);
        let mut f = Freq::default();
        f.add(5_000, 10_000, 3);
        let vals = vec![
            (Data::ServerId, Val::Num(2)),
            (Data::Gpc0, Val::Num(1000)),
            (Data::HttpReqRate, Val::Rate(f)),
            (Data::BytesInCnt, Val::Num(1 << 40)),
            (Data::ServerKey, Val::Text("s2".into())),
        ];
        let key = Key::Bytes(b"/c1_client".to_vec());
        let mut o = Vec::new();
        put_update(
            &mut o,
            Some(42),
            Some(9000),
            KeyType::String(32),
            &key,
            &vals,
            6_000,
        );
        let Ok(Some((
            Msg::Update {
                with_id,
                timed,
                body,
            },
            _,
        ))) = read_msg(&o)
        else {
            panic!("an update")
        };
        assert!(with_id && timed);
        let mut dict = Dict::new();
        // Decoded into a table of shorter keys: truncated as HAProxy does.
        let u = get_update(
            &body,
            with_id,
            timed,
            &def,
            KeyType::String(8),
            &mut dict,
            16_000,
        )
        .unwrap();
        assert_eq!(u.id, Some(42));
        assert_eq!(u.expire, Some(9000));
        assert_eq!(u.key, Key::Bytes(b"/c1_clie".to_vec()));
        let Val::Rate(r) = &u.vals[2].1 else {
            panic!("a rate")
        };
        // Sent 6 s into the counter's period, received on a clock 10 s ahead: the
        // period started 6 s before the receiver's now.
        assert_eq!(r.parts(), (10_000, 3, 0));
        assert_eq!(u.vals[3], (Data::BytesInCnt, Val::Num(1 << 40)));
        assert_eq!(u.vals[4], (Data::ServerKey, Val::Text("s2".into())));
        assert_eq!(dict.get(&1).map(String::as_str), Some("s2"));
        // An incremental update of an ip key without lifetime.
        let mut o = Vec::new();
        let ip = Key::V4([10, 0, 0, 1]);
        put_update(&mut o, None, None, KeyType::Ip, &ip, &[], 0);
        assert_eq!(o, [10, 0x81, 4, 10, 0, 0, 1]);
    }

    #[test]
    fn array_types_of_newer_tables_are_skipped() {
        // gpc0 then gpc(2): the array's two values are read past.
        let def = TableDef {
            data: (1 << 2) | (1 << GPC_ARRAY),
            nbelem: vec![(GPC_ARRAY, 2)],
            ..TableDef::default()
        };
        let body = [0, 0, 0, 1, 7, 5, 6];
        let u = get_update(
            &body[..],
            false,
            false,
            &def,
            KeyType::Integer,
            &mut Dict::new(),
            0,
        )
        .unwrap();
        assert_eq!(u.key, Key::Int(1));
        assert_eq!(u.vals, vec![(Data::Gpc0, Val::Num(7))]);
    }
}
