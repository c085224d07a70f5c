//! The FIX (Financial Information eXchange) converters: `fix_is_valid` and
//! `fix_tag_value(TAG)`, as HAProxy 2.6 has them (`src/fix.c`), usually on
//! `req.payload(0,0)` in `tcp-request content` rules. A message still arriving makes
//! the rule wait for more (HAProxy's `SMP_F_MAY_CHANGE`); a complete one decides.

use super::conv::{ca, checked, ConvDef};
use super::expr::{Arg, ArgT, Env};
use super::value::{Type, Value};
use std::borrow::Cow;

const DELIM: u8 = 0x01;
/// HAProxy's `FIX_MSG_MINSIZE`.
const MIN_SIZE: usize = 26;
const VERSIONS: &[&[u8]] = &[
    b"FIX.4.0",
    b"FIX.4.1",
    b"FIX.4.2",
    b"FIX.4.3",
    b"FIX.4.4",
    b"FIXT.1.1",
];
const TAGS: &[(&str, u32)] = &[
    ("BeginString", 8),
    ("BodyLength", 9),
    ("CheckSum", 10),
    ("MsgType", 35),
    ("SenderCompID", 49),
    ("TargetCompID", 56),
];

/// What a message is so far.
#[derive(Debug, PartialEq, Eq)]
enum Check {
    Valid,
    Invalid,
    NeedMore,
}

/// HAProxy's `read_uint` over the whole field: digits only, else None.
fn number(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// A tag id (`fix_check_id`): a positive number, in the version's range if known.
fn check_id(tag: &[u8], version: Option<&[u8]>) -> Option<u32> {
    let id = number(tag).filter(|&n| n > 0)?;
    let Some(v) = version else { return Some(id) };
    if (10000..=19999).contains(&id) {
        return Some(id);
    }
    let max = match v {
        b"FIX.4.0" => 140,
        b"FIX.4.1" => 211,
        b"FIX.4.2" => 446,
        b"FIX.4.3" => 659,
        b"FIX.4.4" => 956,
        _ => 1621, // FIXT.1.1: every 5.0 version
    };
    (id <= max).then_some(id)
}

/// A `tag=value` pair.
type Field<'a> = (&'a [u8], &'a [u8]);

/// The next `tag=value<SOH>` of `rest`: Ok(None) when its end has not arrived, Err
/// when the tag or the value is empty.
fn field(rest: &[u8]) -> Result<Option<Field<'_>>, ()> {
    let Some(end) = rest.iter().position(|&b| b == DELIM) else {
        return Ok(None);
    };
    let Some(eq) = rest[..end].iter().position(|&b| b == b'=') else {
        // No `=` before the delimiter: HAProxy sees an empty value.
        return Err(());
    };
    let (tag, value) = (&rest[..eq], &rest[eq + 1..end]);
    if tag.is_empty() || value.is_empty() {
        return Err(());
    }
    Ok(Some((tag, value)))
}

/// `fix_validate_message`.
fn validate(msg: &[u8]) -> Check {
    if msg.len() < MIN_SIZE {
        return Check::NeedMore;
    }
    let (mut at, mut n, mut sum, mut bodylen) = (0usize, 0u32, 0u8, 0usize);
    let mut version: Option<&[u8]> = None;
    let mut body: Option<usize> = None;
    while at < msg.len() {
        let (tag, value) = match field(&msg[at..]) {
            Ok(Some(f)) => f,
            Ok(None) => return Check::NeedMore,
            Err(()) => return Check::Invalid,
        };
        let Some(id) = check_id(tag, version) else {
            return Check::Invalid;
        };
        n += 1;
        match n {
            1 => {
                if id != 8 {
                    return Check::Invalid;
                }
                let Some(v) = VERSIONS.iter().find(|v| **v == value) else {
                    return Check::Invalid;
                };
                version = Some(v);
            }
            2 => {
                match number(value) {
                    Some(l) if id == 9 && l > 0 => bodylen = l as usize,
                    _ => return Check::Invalid,
                }
                body = Some(at + tag.len() + value.len() + 2);
            }
            3 if id != 35 => return Check::Invalid,
            _ if n > 3 && id == 10 => {
                let ok = body.is_some_and(|b| at - b == bodylen)
                    && value.len() == 3
                    && number(value) == Some(u32::from(sum));
                return if ok { Check::Valid } else { Check::Invalid };
            }
            _ => {}
        }
        for &b in tag.iter().chain(b"=").chain(value).chain(&[DELIM]) {
            sum = sum.wrapping_add(b);
        }
        at += tag.len() + value.len() + 2;
    }
    if body.is_some() {
        Check::NeedMore
    } else {
        Check::Invalid
    }
}

/// `fix_tag_value`: Ok(Some(value)), Ok(None) when more data could hold it, Err when
/// it is not there or the message is invalid.
fn tag_value(msg: &[u8], id: u32) -> Result<Option<&[u8]>, ()> {
    let mut at = 0;
    while at < msg.len() {
        let Some((tag, value)) = field(&msg[at..])? else {
            return Ok(None);
        };
        let t = check_id(tag, None).ok_or(())?;
        if t == id {
            return Ok(Some(value));
        }
        if t == 10 {
            return Err(());
        }
        at += tag.len() + value.len() + 2;
    }
    Ok(None)
}

/// Marks the rule's data as final or not, as the converter decided.
pub(super) fn settle(env: &Env<'_>, more: bool) {
    if let Some(p) = env.payload {
        p.missing
            .store(more && !p.last, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `fix_tag_value(TAG)`: a tag name (`BeginString`, `BodyLength`, `CheckSum`,
/// `MsgType`, `SenderCompID`, `TargetCompID`) or number, checked at load.
fn tag_arg(_: &str, args: &mut [Arg]) -> Result<(), String> {
    let t = args[0].text();
    let id = TAGS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(t))
        .map(|(_, id)| *id)
        .or_else(|| check_id(t.as_bytes(), None))
        .ok_or_else(|| format!("Unknown FIX tag name '{t}'"))?;
    args[0] = Arg::Int(i64::from(id));
    Ok(())
}

/// The FIX converters.
pub static CONVS: &[ConvDef] = &[
    ca(
        "fix_is_valid",
        &[],
        0,
        Type::Bin,
        Type::Bool,
        |_, v, env| {
            let r = validate(&v.to_bytes());
            settle(env, r == Check::NeedMore);
            (r != Check::NeedMore).then_some(Value::Bool(r == Check::Valid))
        },
    ),
    checked(
        ca(
            "fix_tag_value",
            &[ArgT::Str],
            1,
            Type::Bin,
            Type::Str,
            |a, v, env| {
                let id = a[0].int()? as u32;
                let msg = v.to_bytes();
                let found = tag_value(&msg, id);
                settle(env, found == Ok(None));
                let value = found.ok()??.to_vec();
                Some(Value::Str(Cow::Owned(value)))
            },
        ),
        tag_arg,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> Vec<u8> {
        s.replace('|', "\x01").into_bytes()
    }

    const LOGON: &str = "8=FIX.4.4|9=102|35=A|49=CLIENT1|56=EXECUTOR|34=1|52=20201029-13:02:44.528|98=0|108=30|141=Y|553=Username|554=Password|10=252|";

    #[test]
    fn validation_as_haproxy() {
        assert_eq!(validate(&msg(LOGON)), Check::Valid);
        let m = msg(LOGON);
        assert_eq!(validate(&m[..60]), Check::NeedMore);
        assert_eq!(validate(&m[..10]), Check::NeedMore);
        for bad in [
            LOGON.replace("|98=0|", "|=0|"),
            LOGON.replace("|98=0|", "|98=|"),
            LOGON.replace("|98=0|", "|98|"),
            LOGON.replace("8=FIX.4.4|9=102|", "9=102|8=FIX.4.4|"),
            LOGON.replace("9=102|35=A|", "35=A|9=102|"),
            LOGON.replace("9=102", "9=100"),
            LOGON.replace("10=252", "10=25"),
            LOGON.replace("10=252", "10=253"),
            LOGON.replace("8=FIX.4.4", "8=FIX.9.9"),
            LOGON.replace("553=", "9999="),
        ] {
            assert_eq!(validate(&msg(&bad)), Check::Invalid, "{bad}");
        }
    }

    #[test]
    fn tag_values() {
        let m = msg(LOGON);
        assert_eq!(tag_value(&m, 49), Ok(Some(&b"CLIENT1"[..])));
        assert_eq!(tag_value(&m, 10), Ok(Some(&b"252"[..])));
        assert_eq!(tag_value(&m, 77), Err(()));
        assert_eq!(tag_value(&m[..20], 49), Ok(None));
        let mut a = [Arg::Str("sendercompid".into())];
        tag_arg("fix_tag_value", &mut a).unwrap();
        assert_eq!(a[0].int(), Some(49));
        assert!(tag_arg("fix_tag_value", &mut [Arg::Str("Nope".into())]).is_err());
    }
}
