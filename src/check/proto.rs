//! The protocol parsers of HAProxy's protocol checks (`expect custom` rules): MySQL
//! handshake and OK packets, the LDAP bind response and the SPOP agent HELLO frame (the
//! reply of an `agent-check` is `backend::agent`'s).

use crate::config::model::check::Status;

/// What a parser decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// More data is needed.
    Wait,
    /// Not the last rule: go on.
    Continue,
    /// Passed (the rule's `ok-status`, or L7OK), with this info.
    Ok(String),
    /// Over with this status and info as they are.
    Done(Status, String),
    /// Failed with a status, a code and a description (HAProxy's error message path).
    Fail(Status, i64, String),
}

/// A MySQL packet at `off`: an error packet fails with its code and message; the last
/// rule reports the server version of the handshake.
pub fn mysql(b: &[u8], off: usize, last_read: bool, last_rule: bool) -> Verdict {
    let truncated = || {
        if last_read {
            Verdict::Fail(Status::L7Rsp, 0, String::new())
        } else {
            Verdict::Wait
        }
    };
    if b.len() < off + 4 {
        return truncated();
    }
    let plen = b[off] as usize | (b[off + 1] as usize) << 8 | (b[off + 2] as usize) << 16;
    if b.len() < off + plen + 4 {
        return truncated();
    }
    if b.get(off + 4) == Some(&0xff) {
        let code =
            b.get(off + 5).map_or(0, |&x| x as i64) | b.get(off + 6).map_or(0, |&x| x as i64) << 8;
        let desc = b
            .get(off + 7..)
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default();
        return Verdict::Fail(Status::L7Sts, code, desc);
    }
    if !last_rule {
        return Verdict::Continue;
    }
    // The server version: a C string from offset 5 of the handshake.
    let v = b.get(5..).unwrap_or(&[]);
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    Verdict::Ok(String::from_utf8_lossy(&v[..end]).into_owned())
}

/// The LDAPv3 bind response (RFC 4511 4.2.2): resultCode 0 passes.
pub fn ldap(b: &[u8], last_read: bool) -> Verdict {
    let not_ldap = || Verdict::Fail(Status::L7Rsp, 0, "Not LDAPv3 protocol".into());
    let too_short = || {
        if last_read {
            Verdict::Fail(Status::L7Rsp, 0, String::new())
        } else {
            Verdict::Wait
        }
    };
    let Some(&l) = b.get(1) else {
        return too_short();
    };
    let (nbytes, msglen) = if l & 0x80 != 0 {
        let n = (l & 0x7f) as usize;
        if b.len() < 1 + n {
            return too_short();
        }
        let len = match (n, b.get(2..2 + n)) {
            (4, Some(x)) => u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize,
            (2, Some(x)) => u16::from_be_bytes([x[0], x[1]]) as usize,
            (2 | 4, None) => return too_short(),
            _ => return not_ldap(),
        };
        (n, len)
    } else {
        (0, l as usize)
    };
    if b.len() < 2 + nbytes + msglen {
        return too_short();
    }
    let mut p = 2 + nbytes;
    // messageID 1 (INTEGER), protocolOp bindResponse
    if b.get(p..p + 4) != Some(b"\x02\x01\x01\x61") {
        return not_ldap();
    }
    p += 4;
    let skip = b.get(p).map_or(0, |&x| {
        if x & 0x80 != 0 {
            (x & 0x7f) as usize
        } else {
            0
        }
    });
    p += 1 + skip;
    // ldapResult: ENUMERATED
    if b.get(p..p + 2) != Some(b"\x0a\x01") {
        return not_ldap();
    }
    p += 2;
    match b.get(p) {
        Some(0) => Verdict::Ok("Success".into()),
        Some(&c) => Verdict::Fail(
            Status::L7Sts,
            c as i64,
            "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9".into(),
        ),
        None => not_ldap(),
    }
}

/// SPOP's error reasons (`spoe_frm_err_reasons`).
const SPOE_ERRORS: [&str; 15] = [
    "normal",
    "I/O error",
    "a timeout occurred",
    "frame is too big",
    "invalid frame received",
    "version value not found",
    "max-frame-size value not found",
    "capabilities value not found",
    "unsupported version",
    "max-frame-size too big or too small",
    "fragmentation not supported",
    "invalid interlaced frames",
    "frame-id not found",
    "resource allocation error",
    "an unknown error occurred",
];
const E_INVALID: usize = 4;
const E_NO_VSN: usize = 5;
const E_NO_FRAME_SIZE: usize = 6;
const E_NO_CAP: usize = 7;
const E_BAD_VSN: usize = 8;
const E_BAD_FRAME_SIZE: usize = 9;
const E_FRAG: usize = 10;
const E_UNKNOWN: usize = 14;

/// SPOP's varint.
fn varint(b: &[u8], p: &mut usize) -> Option<u64> {
    let first = *b.get(*p)?;
    *p += 1;
    if first < 240 {
        return Some(first as u64);
    }
    let mut v = first as u64;
    let mut r = 4;
    loop {
        let c = *b.get(*p)?;
        *p += 1;
        v += (c as u64) << r;
        r += 7;
        if c < 128 {
            return Some(v);
        }
    }
}

fn spop_str<'a>(b: &'a [u8], p: &mut usize) -> Option<&'a [u8]> {
    let n = varint(b, p)? as usize;
    let s = b.get(*p..*p + n)?;
    *p += n;
    Some(s)
}

fn spop_skip(b: &[u8], p: &mut usize) -> Option<()> {
    let t = *b.get(*p)? & 0x0f;
    *p += 1;
    match t {
        0 | 1 => {}
        2..=5 => {
            varint(b, p)?;
        }
        6 => *p += 4,
        7 => *p += 16,
        8 | 9 => {
            spop_str(b, p)?;
        }
        _ => return None,
    }
    (*p <= b.len()).then_some(())
}

/// The agent's HELLO frame after the 4-byte length: `Err(reason index)` when it is not
/// one HAProxy accepts.
fn spop_hello(f: &[u8]) -> Result<(), usize> {
    const AGENT_HELLO: u8 = 101;
    const AGENT_DISCON: u8 = 102;
    let ty = f.first().copied().unwrap_or(0);
    if ty == AGENT_DISCON {
        return Err(spop_discon(f));
    }
    if ty != AGENT_HELLO || f.len() < 7 {
        return Err(E_INVALID);
    }
    let flags = u32::from_be_bytes([f[1], f[2], f[3], f[4]]);
    if flags & 1 == 0 {
        return Err(E_FRAG);
    }
    if f[5] != 0 || f[6] != 0 {
        return Err(E_INVALID);
    }
    let (mut vsn, mut max, mut caps) = (false, false, false);
    let mut p = 7;
    while p < f.len() {
        let key = spop_str(f, &mut p)
            .filter(|k| !k.is_empty())
            .ok_or(E_INVALID)?;
        if key.starts_with(b"version") {
            let t = *f.get(p).ok_or(E_INVALID)? & 0x0f;
            p += 1;
            if t != 8 {
                return Err(E_INVALID);
            }
            let v = spop_str(f, &mut p).ok_or(E_INVALID)?;
            // Versions are "major.minor"; HAProxy speaks 2.0 only.
            let text = std::str::from_utf8(v).map_err(|_| E_BAD_VSN)?;
            let ok = text.split(',').map(str::trim).any(|x| {
                let (a, b) = x.split_once('.').unwrap_or((x, ""));
                a.parse::<u32>() == Ok(2) && b.parse::<u32>() == Ok(0)
            });
            if !ok {
                return Err(E_BAD_VSN);
            }
            vsn = true;
        } else if key.starts_with(b"max-frame-size") {
            let t = *f.get(p).ok_or(E_INVALID)? & 0x0f;
            p += 1;
            if !(2..=5).contains(&t) {
                return Err(E_INVALID);
            }
            let n = varint(f, &mut p).ok_or(E_INVALID)?;
            if !(256..=16384).contains(&n) {
                return Err(E_BAD_FRAME_SIZE);
            }
            max = true;
        } else if key.starts_with(b"capabilities") {
            let t = *f.get(p).ok_or(E_INVALID)? & 0x0f;
            p += 1;
            if t != 8 {
                return Err(E_INVALID);
            }
            spop_str(f, &mut p).ok_or(E_INVALID)?;
            caps = true;
        } else {
            spop_skip(f, &mut p).ok_or(E_INVALID)?;
        }
    }
    if !vsn {
        return Err(E_NO_VSN);
    }
    if !max {
        return Err(E_NO_FRAME_SIZE);
    }
    if !caps {
        return Err(E_NO_CAP);
    }
    Ok(())
}

/// An AGENT-DISCONNECT frame: the reason of its `status-code`.
fn spop_discon(f: &[u8]) -> usize {
    let mut p = 7;
    while p < f.len() {
        let Some(key) = spop_str(f, &mut p) else {
            return E_INVALID;
        };
        if key == b"status-code" {
            p += 1;
            return varint(f, &mut p).map_or(E_INVALID, |c| (c as usize).min(E_UNKNOWN));
        }
        if spop_skip(f, &mut p).is_none() {
            return E_INVALID;
        }
    }
    E_INVALID
}

/// The SPOP agent's HELLO frame.
pub fn spop(b: &[u8], last_read: bool) -> Verdict {
    let Some(len) = b.get(..4) else {
        return if last_read {
            Verdict::Fail(Status::L7Rsp, 0, SPOE_ERRORS[E_INVALID].into())
        } else {
            Verdict::Wait
        };
    };
    let size = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if !last_read && b.len() < 4 + size {
        return Verdict::Wait;
    }
    let frame = &b[4..b.len().min(4 + size)];
    match spop_hello(frame) {
        Ok(()) => Verdict::Ok("SPOA server is ok".into()),
        Err(e) => Verdict::Fail(Status::L7Rsp, 0, SPOE_ERRORS[e].into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        crate::sample::conv::unhex(s.replace(' ', "").as_bytes()).unwrap()
    }

    #[test]
    fn mysql_packets() {
        let hs = unhex("4A0000000A382E302E3139000A0000006F3C025E6249410D00FFFFFF0200FFC715000000000000000000007C182159106E2761144322200063616368696E675F736861325F70617373776F726400");
        assert_eq!(mysql(&hs, 0, false, true), Verdict::Ok("8.0.19".into()));
        assert_eq!(mysql(&hs[..10], 0, false, true), Verdict::Wait);
        let mut both = hs.clone();
        both.extend(unhex("0700000200000002000000"));
        assert_eq!(
            mysql(&both, 0x4A + 4, false, true),
            Verdict::Ok("8.0.19".into())
        );
        let mut err = hs.clone();
        err.extend(unhex("09000002FFE304436C69656E74"));
        assert_eq!(
            mysql(&err, 0x4A + 4, false, true),
            Verdict::Fail(Status::L7Sts, 1251, "Client".into())
        );
    }

    #[test]
    fn ldap_replies() {
        assert_eq!(
            ldap(&unhex("300C020101 61 070A01 00 04000400"), false),
            Verdict::Ok("Success".into())
        );
        assert!(
            matches!(ldap(&unhex("300C020101 60 070A01 00 04000400"), false), Verdict::Fail(Status::L7Rsp, 0, d) if d == "Not LDAPv3 protocol")
        );
        assert!(matches!(
            ldap(&unhex("300C020101 61 070A01 01 04000400"), false),
            Verdict::Fail(Status::L7Sts, 1, _)
        ));
        let long = unhex("308400000010020101 61 84000000070A01");
        assert_eq!(ldap(&long, false), Verdict::Wait);
        let mut full = long;
        full.extend(unhex("00 04000400"));
        assert_eq!(ldap(&full, false), Verdict::Ok("Success".into()));
    }

    #[test]
    fn spop_frames() {
        let ok = unhex("00000036 65 00000001 0000 0776657273696F6E 0803322E30 0E6D61782D6672616D652D73697A65 03FCF006 0C6361706162696C6974696573 0800");
        assert_eq!(spop(&ok, false), Verdict::Ok("SPOA server is ok".into()));
        let reason = |b: &str| match spop(&unhex(b), true) {
            Verdict::Fail(_, _, d) => d,
            v => panic!("{v:?}"),
        };
        assert_eq!(reason("00000000"), "invalid frame received");
        assert_eq!(
            reason("00000007 65 00000000 0000"),
            "fragmentation not supported"
        );
        assert_eq!(
            reason("00000014 65 00000001 0000 0776657273696F6E 0803312E30"),
            "unsupported version"
        );
    }
}
