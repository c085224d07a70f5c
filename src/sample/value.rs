//! Typed sample values and HAProxy's casts between types.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

/// The type of a sample, as HAProxy names them (`meth` is kept as `str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Any type (a fetch or converter whose output depends on its input).
    Any,
    /// `bool`.
    Bool,
    /// `sint`: a signed 64-bit integer.
    Int,
    /// `ipv4` or `ipv6`.
    Ip,
    /// `str`.
    Str,
    /// `bin`.
    Bin,
}

impl Type {
    /// HAProxy's name of the type, for diagnostics.
    pub fn name(self) -> &'static str {
        match self {
            Type::Any => "any",
            Type::Bool => "boolean",
            Type::Int => "integer",
            Type::Ip => "ip",
            Type::Str => "string",
            Type::Bin => "binary",
        }
    }
}

/// A sample: borrowed from the request where it can be, owned where a converter made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An address.
    Ip(IpAddr),
    /// A string (bytes: HTTP allows non-UTF-8 header values).
    Str(Cow<'a, [u8]>),
    /// Binary data.
    Bin(Cow<'a, [u8]>),
}

/// A value that outlives the request it came from (variables).
pub type Owned = Value<'static>;

impl<'a> Value<'a> {
    /// A borrowed string.
    pub fn str(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s.as_bytes()))
    }

    /// A literal of the configuration (`str(...)`), with the bytes its `\xHH` escapes
    /// wrote (see [`raw_byte_char`]).
    pub fn literal(s: &'a str) -> Self {
        Value::Str(raw_bytes(s.as_bytes()))
    }

    /// An owned string.
    pub fn string(s: String) -> Self {
        Value::Str(Cow::Owned(s.into_bytes()))
    }

    /// The value's type.
    pub fn ty(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Ip(_) => Type::Ip,
            Value::Str(_) => Type::Str,
            Value::Bin(_) => Type::Bin,
        }
    }

    /// Detaches the value from the request.
    pub fn into_owned(self) -> Owned {
        match self {
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Ip(ip) => Value::Ip(ip),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Bin(s) => Value::Bin(Cow::Owned(s.into_owned())),
        }
    }

    /// A borrowed copy of the value.
    pub fn borrowed(&self) -> Value<'_> {
        match self {
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Ip(ip) => Value::Ip(*ip),
            Value::Str(s) => Value::Str(Cow::Borrowed(s)),
            Value::Bin(s) => Value::Bin(Cow::Borrowed(s)),
        }
    }

    /// Cast to an integer (`c_str2int` reads a leading signed decimal number).
    pub fn to_int(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(*b as i64),
            Value::Int(i) => Some(*i),
            Value::Ip(IpAddr::V4(a)) => Some(u32::from(*a) as i64),
            Value::Ip(IpAddr::V6(_)) => None,
            Value::Str(s) => Some(leading_int(s)),
            Value::Bin(_) => None,
        }
    }

    /// Cast to a boolean.
    pub fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            Value::Str(s) => Some(leading_int(s) != 0),
            Value::Ip(_) | Value::Bin(_) => None,
        }
    }

    /// Cast to an address (an integer is an IPv4 address in host order).
    pub fn to_ip(&self) -> Option<IpAddr> {
        match self {
            Value::Ip(ip) => Some(*ip),
            Value::Int(i) => Some(IpAddr::V4(Ipv4Addr::from(*i as u32))),
            Value::Str(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            Value::Bin(b) if b.len() == 4 => {
                Some(IpAddr::V4(<[u8; 4]>::try_from(&b[..]).ok()?.into()))
            }
            Value::Bin(b) if b.len() == 16 => {
                Some(IpAddr::V6(<[u8; 16]>::try_from(&b[..]).ok()?.into()))
            }
            _ => None,
        }
    }

    /// Cast to a string: integers in decimal, addresses in text, booleans as 0/1,
    /// binary data as it is.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Value::Bool(b) => Cow::Borrowed(if *b { b"1" } else { b"0" }),
            Value::Int(i) => Cow::Owned(i.to_string().into_bytes()),
            Value::Ip(_) => {
                let mut v = Vec::with_capacity(16);
                self.write_bytes(&mut v);
                Cow::Owned(v)
            }
            Value::Str(s) | Value::Bin(s) => Cow::Borrowed(s),
        }
    }

    /// Appends the string form to `out` (what `to_bytes` gives, without an
    /// intermediate allocation for numbers and addresses).
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        match self {
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            // IPv4 by hand: `Display` for addresses costs ten times more.
            Value::Ip(std::net::IpAddr::V4(a)) => {
                for (i, &o) in a.octets().iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    if o >= 100 {
                        out.push(b'0' + o / 100);
                    }
                    if o >= 10 {
                        out.push(b'0' + o / 10 % 10);
                    }
                    out.push(b'0' + o % 10);
                }
            }
            Value::Ip(ip) => {
                let _ = write!(out, "{ip}");
            }
            v => out.extend_from_slice(&v.to_bytes()),
        }
    }

    /// Cast to a string, keeping borrowed data borrowed.
    pub fn into_bytes(self) -> Cow<'a, [u8]> {
        match self {
            Value::Str(s) | Value::Bin(s) => s,
            v => Cow::Owned(v.to_bytes().into_owned()),
        }
    }

    /// Cast to binary: integers as 8 bytes big-endian, addresses as their bytes.
    pub fn into_bin(self) -> Cow<'a, [u8]> {
        match self {
            Value::Int(i) => Cow::Owned(i.to_be_bytes().to_vec()),
            Value::Ip(IpAddr::V4(a)) => Cow::Owned(a.octets().to_vec()),
            Value::Ip(IpAddr::V6(a)) => Cow::Owned(a.octets().to_vec()),
            v => v.into_bytes(),
        }
    }

    /// Casts to `ty` (`Any` keeps the value); None when HAProxy has no such cast.
    pub fn cast(self, ty: Type) -> Option<Value<'a>> {
        Some(match ty {
            Type::Any => self,
            Type::Bool => Value::Bool(self.to_bool()?),
            Type::Int => Value::Int(self.to_int()?),
            Type::Ip => Value::Ip(self.to_ip()?),
            // HAProxy's binary-to-string cast stops at the first NUL byte.
            Type::Str => match self {
                Value::Bin(b) => {
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    Value::Str(match b {
                        Cow::Borrowed(x) => Cow::Borrowed(&x[..end]),
                        Cow::Owned(mut x) => {
                            x.truncate(end);
                            Cow::Owned(x)
                        }
                    })
                }
                v => Value::Str(v.into_bytes()),
            },
            Type::Bin => Value::Bin(self.into_bin()),
        })
    }
}

/// HAProxy's `read_int64`: an optional sign and the digits that follow; 0 if none.
pub fn leading_int(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Where the configuration's `\xHH` escapes of bytes 0x80..=0xFF live in its text
/// (Rust strings hold UTF-8): private-use characters U+10FE80..=U+10FEFF, turned back
/// into those bytes wherever a literal becomes bytes (`str()`, `%[...]` format text,
/// `return string`), so that `str(\xE0)` is the byte 0xE0, as in HAProxy.
pub fn raw_byte_char(b: u8) -> char {
    char::from_u32(0x10FE00 + u32::from(b)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The bytes of `s` with each [`raw_byte_char`] turned back into its byte (borrowed
/// when there is none: their UTF-8 form starts F4 8F BA/BB).
pub fn raw_bytes(s: &[u8]) -> Cow<'_, [u8]> {
    let at = |i: usize| {
        s[i] == 0xF4 && s.get(i + 1) == Some(&0x8F) && matches!(s.get(i + 2), Some(0xBA | 0xBB))
    };
    if !(0..s.len()).any(at) {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if at(i) && i + 3 < s.len() {
            out.push(0x80 + (((s[i + 2] & 1) << 6) | (s[i + 3] & 0x3F)));
            i += 4;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_text() {
        for a in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "192.168.1.10",
            "::1",
            "2001:db8::7",
        ] {
            let v = Value::Ip(a.parse().unwrap());
            assert_eq!(v.to_bytes().as_ref(), a.as_bytes());
        }
    }

    #[test]
    fn raw_bytes_of_escapes() {
        let s: String = [
            'a',
            raw_byte_char(0x80),
            raw_byte_char(0xE0),
            raw_byte_char(0xFF),
            'é',
        ]
        .iter()
        .collect();
        let mut want = vec![b'a', 0x80, 0xE0, 0xFF];
        want.extend_from_slice("é".as_bytes());
        assert_eq!(raw_bytes(s.as_bytes()), &want[..]);
        assert!(matches!(raw_bytes("plain é".as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn casts() {
        assert_eq!(Value::str("42abc").to_int(), Some(42));
        assert_eq!(Value::str("-7").to_int(), Some(-7));
        assert_eq!(Value::str("x").to_int(), Some(0));
        assert_eq!(Value::Int(3).to_bytes().as_ref(), b"3");
        assert_eq!(
            Value::str("10.0.0.1").to_ip(),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            Value::Int(0x0a000001).to_ip(),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(Value::Int(1).into_bin().as_ref(), &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(Value::Bool(true).cast(Type::Str), Some(Value::str("1")));
        assert_eq!(Value::Bin(Cow::Borrowed(b"ab")).to_int(), None);
        assert_eq!(
            Value::Bin(Cow::Borrowed(b"a\0b")).cast(Type::Str),
            Some(Value::str("a"))
        );
    }
}
