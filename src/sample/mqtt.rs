//! The MQTT converters: `mqtt_is_valid` and `mqtt_field_value(TYPE,FIELD)`, as HAProxy
//! 2.6 has them (`src/mqtt.c`), usually on `req.payload(0,0)` / `res.payload(0,0)` in
//! `tcp-request content` / `tcp-response content` rules. Only the first packet of each
//! side is understood: CONNECT (MQTT 3.1, 3.1.1 and 5.0) and CONNACK; any other packet
//! type is invalid. A packet still arriving makes the rule wait for more (HAProxy's
//! `SMP_F_MAY_CHANGE`); a complete one decides.

use super::conv::{ca, checked, ConvDef};
use super::expr::{Arg, ArgT};
use super::value::{Type, Value};
use std::borrow::Cow;

/// Packet type names, by type id (HAProxy's `mqtt_typeid`).
const TYPES: [&str; 16] = [
    "",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];
/// The flags the fixed header must carry, by type (PUBLISH: any).
const TYPE_FLAGS: [u8; 16] = [0, 0, 0, 0xff, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;

/// A field of `mqtt_field_value`: a named one or an MQTT 5.0 property id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Flags,
    ReasonCode,
    ProtocolName,
    ProtocolVersion,
    ClientIdentifier,
    WillTopic,
    WillPayload,
    Username,
    Password,
    Keepalive,
    Prop(u8),
}

const NAMED: &[(&str, Field)] = &[
    ("flags", Field::Flags),
    ("reason_code", Field::ReasonCode),
    ("protocol_name", Field::ProtocolName),
    ("protocol_version", Field::ProtocolVersion),
    ("client_identifier", Field::ClientIdentifier),
    ("will_topic", Field::WillTopic),
    ("will_payload", Field::WillPayload),
    ("username", Field::Username),
    ("password", Field::Password),
    ("keepalive", Field::Keepalive),
];

/// How a property's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One byte, 0 or 1.
    Flag,
    Two,
    /// Two bytes, not 0.
    TwoNonZero,
    Four,
    /// Four bytes, not 0.
    FourNonZero,
    Var,
    Str,
    /// A string that must not be empty.
    StrNonEmpty,
    Pair,
}

/// MQTT 5.0 property ids and their encoding.
fn kind(id: u8) -> Option<Kind> {
    Some(match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => Kind::Flag,
        0x13 | 0x22 | 0x23 => Kind::Two,
        0x21 => Kind::TwoNonZero,
        0x02 | 0x11 | 0x18 => Kind::Four,
        0x27 => Kind::FourNonZero,
        0x0b => Kind::Var,
        0x03 | 0x08 | 0x09 | 0x15 | 0x16 | 0x1a | 0x1c | 0x1f => Kind::Str,
        0x12 => Kind::StrNonEmpty,
        0x26 => Kind::Pair,
        _ => return None,
    })
}

/// The properties of a CONNECT's variable header, of its will, of a CONNACK.
const CONNECT_PROPS: &[u8] = &[0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16];
const WILL_PROPS: &[u8] = &[0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26];
const CONNACK_PROPS: &[u8] = &[
    0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1f, 0x28, 0x29, 0x2a, 0x13, 0x1a, 0x1c, 0x26, 0x15,
    0x16,
];

/// The fields `mqtt_field_value` accepts for a packet type (HAProxy's
/// `mqtt_fields_per_packet`).
fn allowed(ptype: u8, f: Field) -> bool {
    use Field::*;
    let props: &[u8] = match ptype {
        CONNECT => {
            if matches!(
                f,
                ProtocolName
                    | ProtocolVersion
                    | Flags
                    | Keepalive
                    | ClientIdentifier
                    | WillTopic
                    | WillPayload
                    | Username
                    | Password
            ) {
                return true;
            }
            &[
                0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16, 0x18, 0x01, 0x02, 0x03, 0x08,
                0x09,
            ]
        }
        CONNACK => {
            if matches!(f, Flags | ProtocolVersion | ReasonCode) {
                return true;
            }
            CONNACK_PROPS
        }
        3 => &[0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x23, 0x26],
        4..=7 | 14 => {
            if f == ReasonCode {
                return true;
            }
            if ptype == 14 {
                &[0x11, 0x1c, 0x1f, 0x26]
            } else {
                &[0x1f, 0x26]
            }
        }
        8 => &[0x0b, 0x26],
        9 | 11 => &[0x1f, 0x26],
        10 => &[0x26],
        15 => &[0x15, 0x16, 0x1f, 0x26],
        _ => &[],
    };
    matches!(f, Prop(id) if props.contains(&id))
}

/// Property values read from one property block, by property id.
#[derive(Debug)]
struct Props<'a> {
    ints: [u32; 43],
    strs: [&'a [u8]; 43],
}

impl Default for Props<'_> {
    fn default() -> Self {
        Props {
            ints: [0; 43],
            strs: [&[]; 43],
        }
    }
}

/// The parts of a CONNECT or CONNACK packet the converter gives.
#[derive(Debug, Default)]
struct Pkt<'a> {
    ptype: u8,
    version: u8,
    flags: u8,
    reason: u8,
    keepalive: u16,
    name: &'a [u8],
    props: Props<'a>,
    will: Props<'a>,
    client_id: &'a [u8],
    will_topic: &'a [u8],
    will_payload: &'a [u8],
    username: &'a [u8],
    password: &'a [u8],
}

/// What a message is so far.
#[derive(Debug)]
enum Check<'a> {
    Valid(Box<Pkt<'a>>),
    Invalid,
    NeedMore,
}

/// A cursor over the packet's bytes.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn two(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn four(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A length-prefixed string.
    fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.two()?;
        self.take(usize::from(n))
    }
    /// A variable byte integer: at most 4 bytes (running out of bytes ends it too,
    /// as in HAProxy, whose remaining-length check then asks for more).
    fn varint(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let Some(b) = self.byte() else {
                return Some(v);
            };
            v += u32::from(b & 0x7f) << (7 * i);
            if b <= 0x7f {
                return Some(v);
            }
        }
        None
    }
}

/// A property block (`varint length, properties`): each allowed id at most once
/// (user properties repeat), values within their range.
fn props<'a>(r: &mut Rd<'a>, allowed: &[u8]) -> Option<Props<'a>> {
    let len = r.varint()? as usize;
    let mut p = Rd(r.take(len)?);
    let mut out = Props::default();
    let mut seen = [false; 43];
    while let Some(id) = p.byte() {
        if !allowed.contains(&id) {
            return None;
        }
        let i = usize::from(id);
        let k = kind(id)?;
        if k != Kind::Pair && std::mem::replace(&mut seen[i], true) {
            return None;
        }
        match k {
            Kind::Flag => {
                out.ints[i] = u32::from(p.byte().filter(|&b| b <= 1)?);
            }
            Kind::Two => out.ints[i] = u32::from(p.two()?),
            Kind::TwoNonZero => out.ints[i] = u32::from(p.two().filter(|&v| v != 0)?),
            Kind::Four => out.ints[i] = p.four()?,
            Kind::FourNonZero => out.ints[i] = p.four().filter(|&v| v != 0)?,
            Kind::Var => out.ints[i] = p.varint()?,
            Kind::Str => out.strs[i] = p.string()?,
            Kind::StrNonEmpty => out.strs[i] = p.string().filter(|s| !s.is_empty())?,
            Kind::Pair => {
                p.string()?;
                p.string()?;
            }
        }
    }
    Some(out)
}

/// `mqtt_parse_connect`, over everything after the fixed header.
fn connect<'a>(body: &'a [u8], remaining: usize, pkt: &mut Pkt<'a>) -> Option<()> {
    let mut r = Rd(body);
    pkt.name = r.string()?;
    pkt.version = r.byte()?;
    let v311_or_5 = pkt.name.eq_ignore_ascii_case(b"MQTT") && matches!(pkt.version, 4 | 5);
    let v31 = pkt.name.eq_ignore_ascii_case(b"MQIsdp") && pkt.version == 3;
    if !v311_or_5 && !v31 {
        return None;
    }
    pkt.flags = r.byte().filter(|f| f & 0x01 == 0)?;
    // WILL_QOS without WILL (and without WILL_RETAIN), as HAProxy checks it.
    if pkt.flags & (0x04 | 0x18 | 0x20) == 0x18 {
        return None;
    }
    pkt.keepalive = r.two()?;
    if pkt.version == 5 {
        pkt.props = props(&mut r, CONNECT_PROPS)?;
    }
    // Authentication data needs a method.
    if pkt.props.strs[0x15].is_empty() && !pkt.props.strs[0x16].is_empty() {
        return None;
    }
    pkt.client_id = r.string()?;
    let will = pkt.flags & 0x04 != 0;
    if pkt.version == 5 && will {
        pkt.will = props(&mut r, WILL_PROPS)?;
    }
    if will {
        pkt.will_topic = r.string()?;
        pkt.will_payload = r.string()?;
    }
    if pkt.flags & 0x80 != 0 {
        pkt.username = r.string()?;
    }
    if pkt.flags & 0x40 != 0 {
        pkt.password = r.string()?;
    }
    (body.len() - r.0.len() == remaining).then_some(())
}

/// `mqtt_parse_connack`: 2 bytes after the fixed header make a 3.1.1 CONNACK, more a
/// 5.0 one with properties.
fn connack<'a>(body: &'a [u8], remaining: usize, pkt: &mut Pkt<'a>) -> Option<()> {
    if body.len() < 2 {
        return None;
    }
    pkt.version = if body.len() == 2 { 4 } else { 5 };
    let mut r = Rd(body);
    pkt.flags = r.byte().filter(|f| f & 0xfe == 0)?;
    pkt.reason = r.byte()?;
    if pkt.version == 5 {
        pkt.props = props(&mut r, CONNACK_PROPS)?;
    }
    (body.len() - r.0.len() == remaining).then_some(())
}

/// `mqtt_validate_message`.
fn validate(msg: &[u8]) -> Check<'_> {
    if msg.len() < 2 {
        return Check::NeedMore;
    }
    let (ptype, flags) = (msg[0] >> 4, msg[0] & 0x0f);
    if ptype == 0
        || (TYPE_FLAGS[usize::from(ptype)] != 0xff && flags != TYPE_FLAGS[usize::from(ptype)])
    {
        return Check::Invalid;
    }
    let mut r = Rd(&msg[1..]);
    let Some(remaining) = r.varint() else {
        return Check::Invalid;
    };
    let remaining = remaining as usize;
    if r.0.len() < remaining {
        return Check::NeedMore;
    }
    let mut pkt = Box::new(Pkt {
        ptype,
        ..Default::default()
    });
    let ok = match ptype {
        CONNECT => connect(r.0, remaining, &mut pkt),
        CONNACK => connack(r.0, remaining, &mut pkt),
        _ => None,
    };
    match ok {
        Some(()) => Check::Valid(pkt),
        None => Check::Invalid,
    }
}

/// A field's value in a valid packet of the asked type (`mqtt_field_value`): numbers
/// in decimal (an absent numeric property reads 0, as in HAProxy), strings only when
/// not empty; MQTT 5.0 properties only in a 5.0 packet, will properties only with the
/// will flag.
fn value(pkt: &Pkt<'_>, f: Field) -> Option<Vec<u8>> {
    let num = |n: u32| Some(n.to_string().into_bytes());
    let text = |s: &[u8]| (!s.is_empty()).then(|| s.to_vec());
    match f {
        Field::Flags => num(u32::from(pkt.flags)),
        Field::ProtocolVersion => num(u32::from(pkt.version)),
        Field::ReasonCode if pkt.ptype == CONNACK => num(u32::from(pkt.reason)),
        Field::ProtocolName if pkt.ptype == CONNECT => text(pkt.name),
        Field::ClientIdentifier if pkt.ptype == CONNECT => text(pkt.client_id),
        Field::WillTopic if pkt.ptype == CONNECT => text(pkt.will_topic),
        Field::WillPayload if pkt.ptype == CONNECT => text(pkt.will_payload),
        Field::Username if pkt.ptype == CONNECT => text(pkt.username),
        Field::Password if pkt.ptype == CONNECT => text(pkt.password),
        Field::Keepalive if pkt.ptype == CONNECT => num(u32::from(pkt.keepalive)),
        Field::Prop(id) if pkt.version == 5 && id != 0x26 => {
            let set = if pkt.ptype == CONNECT && WILL_PROPS.contains(&id) {
                if pkt.flags & 0x04 == 0 {
                    return None;
                }
                &pkt.will
            } else {
                &pkt.props
            };
            match kind(id)? {
                Kind::Str | Kind::StrNonEmpty => text(set.strs[usize::from(id)]),
                _ => num(set.ints[usize::from(id)]),
            }
        }
        _ => None,
    }
}

/// `mqtt_field_value(TYPE,FIELD)`: a type name (`connect`, `connack`, ...) or number,
/// a field name or MQTT 5.0 property id the type has, checked at load.
fn field_args(_: &str, args: &mut [Arg]) -> Result<(), String> {
    let t = args[0].text().to_string();
    let ptype = TYPES
        .iter()
        .position(|n| !n.is_empty() && n.eq_ignore_ascii_case(&t))
        .or_else(|| t.parse::<usize>().ok().filter(|n| (1..16).contains(n)))
        .ok_or_else(|| format!("Unknown MQTT type '{t}'"))? as u8;
    let name = args[1].text().to_string();
    let field = NAMED
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        .map(|(_, f)| *f)
        .or_else(|| {
            name.parse::<u8>()
                .ok()
                .filter(|&id| kind(id).is_some())
                .map(Field::Prop)
        })
        .filter(|&f| allowed(ptype, f))
        .ok_or_else(|| format!("Unknown MQTT field name '{name}' for packet type '{t}'"))?;
    let code = match field {
        Field::Prop(id) => i64::from(id),
        named => 256 + NAMED.iter().position(|(_, f)| *f == named).unwrap_or(0) as i64,
    };
    args[0] = Arg::Int(i64::from(ptype));
    args[1] = Arg::Int(code);
    Ok(())
}

/// The field an argument compiled by [`field_args`] names.
fn field_of(code: i64) -> Option<Field> {
    match code {
        0..=255 => Some(Field::Prop(code as u8)),
        _ => NAMED
            .get(usize::try_from(code - 256).ok()?)
            .map(|(_, f)| *f),
    }
}

/// The MQTT converters.
pub static CONVS: &[ConvDef] = &[
    ca(
        "mqtt_is_valid",
        &[],
        0,
        Type::Bin,
        Type::Bool,
        |_, v, env| {
            let msg = v.to_bytes();
            let r = validate(&msg).into_result();
            super::fix::settle(env, r.is_none());
            r.map(|p| Value::Bool(p.is_some()))
        },
    ),
    checked(
        ca(
            "mqtt_field_value",
            &[ArgT::Str, ArgT::Str],
            2,
            Type::Bin,
            Type::Str,
            |a, v, env| {
                let (ptype, field) = (a[0].int()? as u8, field_of(a[1].int()?)?);
                let msg = v.to_bytes();
                let r = validate(&msg).into_result();
                super::fix::settle(env, r.is_none());
                let pkt = r??;
                if pkt.ptype != ptype {
                    return None;
                }
                Some(Value::Str(Cow::Owned(value(&pkt, field)?)))
            },
        ),
        field_args,
    ),
];

impl<'a> Check<'a> {
    /// None: more bytes are needed; Some(None): invalid; Some(Some(p)): valid.
    fn into_result(self) -> Option<Option<Box<Pkt<'a>>>> {
        match self {
            Check::NeedMore => None,
            Check::Invalid => Some(None),
            Check::Valid(p) => Some(Some(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// MQTT 5.0 CONNECT with will, properties, user and password (HAProxy's test).
    const CONNECT5: &str = "107e00044d51545405ee003c182700000014170126000161000162260001630001642100140008746573745f7375622a03000a746578742f706c61696e08000c77696c6c727370746f7069632600016500016626000167000168000977696c6c746f706963000b77696c6c7061796c6f61640004746573740006706173737764";
    const CONNACK5: &str =
        "20250000221100000078217fff24012501270000ffff22000a2600016100016226000163000164";

    fn field(msg: &[u8], t: &str, f: &str) -> Option<String> {
        let mut a = [Arg::Str(t.into()), Arg::Str(f.into())];
        field_args("mqtt_field_value", &mut a).unwrap();
        let Check::Valid(p) = validate(msg) else {
            return None;
        };
        if p.ptype != a[0].int()? as u8 {
            return None;
        }
        value(&p, field_of(a[1].int()?)?).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn validation_as_haproxy() {
        for ok in [
            CONNECT5,
            CONNACK5,
            "101a00044d51545404c2003c00000004746573740006706173737764",
            "102400064d514973647003c200000008746573745f7375620004746573740006706173737764",
            "20020000",
            "200600000322000a",
        ] {
            assert!(matches!(validate(&hex(ok)), Check::Valid(_)), "{ok}");
        }
        for bad in [
            "d000",
            "111400044d5154540402003c0008746573745f737562",
            "10ffffffff1400044d5154540402003c0008746573745f737562",
            "21020000",
            // A 3.1 name with the 3.1.1 version.
            "102400064d514973647004c200000008746573745f7375620004746573740006706173737764",
            // The remaining length does not match the fields.
            "101500044d5154540402003c0008746573745f73756200",
        ] {
            assert!(matches!(validate(&hex(bad)), Check::Invalid), "{bad}");
        }
        let c = hex(CONNECT5);
        assert!(matches!(validate(&c[..1]), Check::NeedMore));
        assert!(matches!(validate(&c[..40]), Check::NeedMore));
    }

    #[test]
    fn field_values_as_haproxy() {
        let c = hex(CONNECT5);
        for (f, want) in [
            ("flags", "238"),
            ("protocol_name", "MQTT"),
            ("protocol_version", "5"),
            ("client_identifier", "test_sub"),
            ("will_topic", "willtopic"),
            ("will_payload", "willpayload"),
            ("username", "test"),
            ("password", "passwd"),
            ("keepalive", "60"),
            ("39", "20"),
            ("23", "1"),
            ("3", "text/plain"),
            ("8", "willrsptopic"),
            ("17", "0"),
        ] {
            assert_eq!(field(&c, "connect", f).as_deref(), Some(want), "{f}");
        }
        assert_eq!(field(&c, "connect", "21"), None, "no authentication method");
        assert_eq!(field(&c, "connack", "flags"), None, "not a CONNACK");
        let a = hex(CONNACK5);
        for (f, want) in [
            ("flags", "0"),
            ("protocol_version", "5"),
            ("reason_code", "0"),
            ("17", "120"),
            ("33", "32767"),
            ("36", "1"),
            ("37", "1"),
            ("39", "65535"),
            ("34", "10"),
        ] {
            assert_eq!(field(&a, "CONNACK", f).as_deref(), Some(want), "{f}");
        }
        assert_eq!(
            field(&hex("20020000"), "2", "protocol_version").as_deref(),
            Some("4")
        );
    }

    #[test]
    fn arguments_are_checked_at_load() {
        let mut a = [Arg::Str("nope".into()), Arg::Str("flags".into())];
        assert_eq!(
            field_args("mqtt_field_value", &mut a),
            Err("Unknown MQTT type 'nope'".into())
        );
        let mut a = [Arg::Str("connack".into()), Arg::Str("username".into())];
        assert_eq!(
            field_args("mqtt_field_value", &mut a),
            Err("Unknown MQTT field name 'username' for packet type 'connack'".into())
        );
        let mut a = [Arg::Str("publish".into()), Arg::Str("11".into())];
        assert!(field_args("mqtt_field_value", &mut a).is_ok());
    }
}
