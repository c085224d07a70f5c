//! The protocol check options as HAProxy builds them: fixed rulesets of `tcp-check`
//! rules (`option redis-check`, `ssl-hello-chk`, `smtpchk`, `pgsql-check`,
//! `mysql-check`, `ldap-check`, `spop-check`).

use super::checks::{expect, hex, rule};
use crate::config::model::check::*;
use crate::sample::{Fmt, Owned, Value};
use std::borrow::Cow;

type PR<T> = Result<T, String>;

/// `option redis-check`.
pub(super) fn redis() -> CheckRules {
    let e = expect_of(
        &[
            "expect",
            "string",
            "+PONG\r\n",
            "error-status",
            "L7STS",
            "on-error",
            "%[res.payload(0,0),cut_crlf]",
            "on-success",
            "Redis server is ok",
        ],
        1,
    );
    let s = rule(
        0,
        None,
        CheckAct::Send(Send::Bytes(b"*1\r\n$4\r\nPING\r\n".to_vec())),
    );
    CheckRules::finish(CheckProto::Redis, vec![s, e], vec![])
}

/// `option ssl-hello-chk`: an SSLv3 CLIENT HELLO, a handshake or alert record back.
pub(super) fn ssl_hello() -> CheckRules {
    const HELLO: &str = concat!(
        "16",
        "0300",
        "0079",
        "01",
        "000075",
        "0300",
        "%[date(),htonl,hex]",
        "%[str(HAPROXYSSLCHK\nHAPROXYSSLCHK\n),hex]",
        "00",
        "004E",
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "000A",
        "000B",
        "000C",
        "000D",
        "000E",
        "000F",
        "0010",
        "0011",
        "0012",
        "0013",
        "0014",
        "0015",
        "0016",
        "0017",
        "0018",
        "0019",
        "001A",
        "001B",
        "002F",
        "0030",
        "0031",
        "0032",
        "0033",
        "0034",
        "0035",
        "0036",
        "0037",
        "0038",
        "0039",
        "003A",
        "01",
        "00"
    );
    let s = rule(0, None, CheckAct::Send(Send::BinLf(builtin_lf(HELLO))));
    let e = expect_of(
        &[
            "expect",
            "rbinary",
            "^1[56]",
            "min-recv",
            "5",
            "ok-status",
            "L6OK",
            "error-status",
            "L6RSP",
            "tout-status",
            "L6TOUT",
        ],
        1,
    );
    CheckRules::finish(CheckProto::SslHello, vec![s, e], vec![])
}

/// `option smtpchk [HELO|EHLO domain]`.
pub(super) fn smtp(w: &[String]) -> CheckRules {
    let cmd = match (w.get(1).map(String::as_str), w.get(2)) {
        (Some(c @ ("EHLO" | "HELO")), Some(d)) if !d.is_empty() => format!("{c} {d}"),
        _ => "HELO localhost".to_string(),
    };
    let rules = vec![
        connect_default(0),
        expect_of(
            &[
                "expect",
                "rstring",
                "^[0-9]{3}[ \r]",
                "min-recv",
                "4",
                "error-status",
                "L7RSP",
                "on-error",
                "%[res.payload(0,0),cut_crlf]",
            ],
            1,
        ),
        expect_of(
            &[
                "expect",
                "rstring",
                "^2[0-9]{2}[ \r]",
                "min-recv",
                "4",
                "error-status",
                "L7STS",
                "on-error",
                "%[res.payload(4,0),ltrim(' '),cut_crlf]",
                "status-code",
                "res.payload(0,3)",
            ],
            2,
        ),
        rule(
            3,
            None,
            CheckAct::Send(Send::StrLf(builtin_lf("%[var(check.smtp_cmd)]\r\n"))),
        ),
        expect_of(
            &[
                "expect",
                "rstring",
                "^2[0-9]{2}[- \r]",
                "min-recv",
                "4",
                "error-status",
                "L7STS",
                "on-error",
                "%[res.payload(4,0),ltrim(' '),cut_crlf]",
                "on-success",
                "%[res.payload(4,0),ltrim(' '),cut_crlf]",
                "status-code",
                "res.payload(0,3)",
            ],
            4,
        ),
    ];
    CheckRules::finish(
        CheckProto::Smtp,
        rules,
        vec![("smtp_cmd".into(), Value::string(cmd))],
    )
}

/// `option pgsql-check user U`.
pub(super) fn pgsql(w: &[String]) -> PR<CheckRules> {
    let (Some(k), Some(user)) = (w.get(1), w.get(2).filter(|u| !u.is_empty())) else {
        return Err("'option pgsql-check' expects 'user <username>' as argument.".into());
    };
    if k != "user" {
        return Err("'option pgsql-check' only supports optional values: 'user'.".into());
    }
    let req = "%[var(check.plen),htonl,hex]000300007573657200%[var(check.username),hex]0000";
    let rules = vec![
        connect_default(0),
        rule(1, None, CheckAct::Send(Send::BinLf(builtin_lf(req)))),
        expect_of(
            &[
                "expect",
                "!rstring",
                "^E",
                "min-recv",
                "5",
                "error-status",
                "L7RSP",
                "on-error",
                "%[res.payload(6,0)]",
            ],
            2,
        ),
        expect_of(
            &[
                "expect",
                "rbinary",
                "^52000000(08|0A|0C)000000(00|02|03|04|05|06)",
                "min-recv",
                "9",
                "error-status",
                "L7STS",
                "on-success",
                "PostgreSQL server is ok",
                "on-error",
                "PostgreSQL unknown error",
            ],
            3,
        ),
    ];
    let vars = vec![
        ("username".into(), Value::string(user.clone())),
        ("plen".into(), Value::Int(15 + user.len() as i64)),
    ];
    Ok(CheckRules::finish(CheckProto::Pgsql, rules, vars))
}

/// `option mysql-check [user U [post-41|pre-41]]`.
pub(super) fn mysql(w: &[String]) -> PR<CheckRules> {
    let mut rules = vec![connect_default(0)];
    let mut vars: Vec<(String, Owned)> = vec![];
    if let Some(k) = w.get(1) {
        if k != "user" {
            return Err(format!(
                "'option mysql-check' only supports optional values: 'user' (got '{k}')."
            ));
        }
        let user = w
            .get(2)
            .filter(|u| !u.is_empty())
            .ok_or("'option mysql-check user' expects <username> as argument.")?;
        let (req, len) = match w.get(3).map(String::as_str) {
            None | Some("post-41") => ("%[var(check.header),hex]0082000000800001210000000000000000000000000000000000000000000000%[var(check.username),hex]00000100000001", user.len() + 7 + 27),
            Some("pre-41") => ("%[var(check.header),hex]0080000001%[var(check.username),hex]00000100000001", user.len() + 7),
            Some(x) => return Err(format!("keyword 'user' only supports 'post-41' and 'pre-41' (got '{x}').")),
        };
        let hdr = vec![
            (len & 0xff) as u8,
            ((len >> 8) & 0xff) as u8,
            ((len >> 16) & 0xff) as u8,
            1,
        ];
        vars.push(("header".into(), Value::Str(Cow::Owned(hdr))));
        vars.push(("username".into(), Value::string(user.clone())));
        rules.push(rule(1, None, CheckAct::Send(Send::BinLf(builtin_lf(req)))));
    }
    let n = rules.len();
    rules.push(custom(Custom::MysqlInit, n));
    if n > 1 {
        rules.push(custom(Custom::MysqlOk, n + 1));
    }
    Ok(CheckRules::finish(CheckProto::Mysql, rules, vars))
}

/// `option ldap-check`: an anonymous LDAPv3 bind.
pub(super) fn ldap() -> CheckRules {
    let rules = vec![
        rule(
            0,
            None,
            CheckAct::Send(Send::Bytes(
                hex("300C020101600702010304008000").unwrap_or_default(),
            )),
        ),
        expect_of(
            &[
                "expect",
                "rbinary",
                "^30",
                "min-recv",
                "14",
                "on-error",
                "Not LDAPv3 protocol",
            ],
            1,
        ),
        custom(Custom::LdapBind, 2),
    ];
    CheckRules::finish(CheckProto::Ldap, rules, vec![])
}

/// `option spop-check`: an SPOP HAPROXY-HELLO frame with `healthcheck` set.
pub(super) fn spop() -> CheckRules {
    let mut e = custom(Custom::SpopHello, 1);
    if let CheckAct::Expect(x) = &mut e.act {
        x.min_recv = 4;
    }
    let rules = vec![rule(0, None, CheckAct::Send(Send::Bytes(spop_hello()))), e];
    CheckRules::finish(CheckProto::Spop, rules, vec![])
}

/// The HAPROXY-HELLO frame of an SPOP health check: supported-versions "2.0",
/// max-frame-size 16380, capabilities "" and healthcheck true.
fn spop_hello() -> Vec<u8> {
    fn kv_str(out: &mut Vec<u8>, k: &str, v: &str) {
        out.push(k.len() as u8);
        out.extend_from_slice(k.as_bytes());
        out.push(0x08); // string
        out.push(v.len() as u8);
        out.extend_from_slice(v.as_bytes());
    }
    let mut body = vec![1u8, 0, 0, 0, 1, 0, 0]; // type HELLO, flags FIN, stream 0, frame 0
    kv_str(&mut body, "supported-versions", "2.0");
    body.push(14);
    body.extend_from_slice(b"max-frame-size");
    body.extend_from_slice(&[0x03, 0xFC, 0xF0, 0x06]); // uint32, varint 16380
    kv_str(&mut body, "capabilities", "");
    body.push(11);
    body.extend_from_slice(b"healthcheck");
    body.push(0x11); // boolean true
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&body);
    f
}

fn connect_default(index: usize) -> CheckRule {
    rule(
        index,
        None,
        CheckAct::Connect(Connect {
            default: true,
            linger: true,
            ..Connect::default()
        }),
    )
}

fn custom(c: Custom, index: usize) -> CheckRule {
    rule(
        index,
        None,
        CheckAct::Expect(Box::new(Expect::new(ExpectKind::Custom(c)))),
    )
}

/// A built-in log-format string (always valid).
fn builtin_lf(s: &str) -> Fmt {
    Fmt::parse(s).unwrap_or_else(|_| Fmt::literal_text(s))
}

/// A built-in expect rule (always valid).
fn expect_of(words: &[&str], index: usize) -> CheckRule {
    let w: Vec<String> = words.iter().map(|s| s.to_string()).collect();
    expect(&w, index, false).unwrap_or_else(|_| custom(Custom::Agent, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn builtin_rulesets_parse() {
        for r in [
            redis(),
            ssl_hello(),
            smtp(&words(&["smtpchk"])),
            ldap(),
            spop(),
        ] {
            assert!(
                r.rules.iter().all(|r| !matches!(
                    &r.act,
                    CheckAct::Expect(e) if matches!(e.kind, ExpectKind::Custom(Custom::Agent))
                )),
                "{r:?}"
            );
        }
        let p = pgsql(&words(&["pgsql-check", "user", "postgres"])).unwrap();
        assert_eq!(p.rules.len(), 4);
        let m = mysql(&words(&["mysql-check", "user", "u", "pre-41"])).unwrap();
        assert_eq!(m.rules.len(), 4);
        assert_eq!(mysql(&words(&["mysql-check"])).unwrap().rules.len(), 2);
        assert!(pgsql(&words(&["pgsql-check"])).is_err());
    }

    #[test]
    fn spop_hello_is_82_bytes() {
        let f = spop_hello();
        assert_eq!(f.len(), 82);
        assert_eq!(&f[..4], &[0, 0, 0, 0x4E]);
    }
}
