//! `userlist` sections and the fetches that read a request's credentials:
//! `http_auth(L)` (the Basic credentials are valid in userlist L), `http_auth_group(L)`
//! (the groups of that user, matched against an acl's patterns), `http_auth_type`,
//! `http_auth_user`, `http_auth_pass`. They read `Env::userlists`.
//!
//! Passwords are clear (`insecure-password`) or crypt(3) hashes: `$1$` MD5-crypt,
//! `$5$`/`$6$` SHA-crypt, `$2a$`/`$2b$`/`$2y$` bcrypt. A hash is checked at most once
//! per distinct user and password while the userlist lives (a bcrypt check costs
//! milliseconds; HAProxy checks on every request): the verdicts are kept in a small
//! cache keyed by the user and a SHA-256 of the password.

use super::expr::{Arg, ArgT, Emit, Env};
use super::fetch::{l7, FetchDef};
use super::value::{Type, Value};
use base64::Engine;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most verdicts a userlist keeps; the cache starts again when full.
const CACHE_MAX: usize = 4096;

/// A user's password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// No password: the user never authenticates.
    None,
    /// `insecure-password`: compared as is.
    Clear(String),
    /// `password`: a crypt(3) hash.
    Hash(String),
}

/// One `user` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its name.
    pub name: String,
    /// Its password.
    pub password: Password,
    /// The groups it belongs to (from its `groups` and the groups' `users`).
    pub groups: Vec<String>,
}

/// A `userlist` section.
#[derive(Debug, Default)]
pub struct Userlist {
    /// Its name.
    pub name: String,
    /// Its users.
    pub users: Vec<User>,
    /// Its groups.
    pub groups: Vec<String>,
    /// Verdicts of hash checks: (user, SHA-256 of the password) → valid.
    cache: Mutex<HashMap<(String, [u8; 32]), bool>>,
}

/// The userlists of a configuration, by name.
pub type Userlists = HashMap<String, Arc<Userlist>>;

/// Whether lbd can check a hash of this form.
pub fn hash_supported(h: &str) -> bool {
    ["$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| h.starts_with(p))
}

/// Checks `pass` against a crypt(3) hash.
pub fn crypt_check(pass: &[u8], hash: &str) -> bool {
    if hash.starts_with("$2") {
        return bcrypt::verify(pass, hash).unwrap_or(false);
    }
    if hash.starts_with("$1$") {
        return md5_crypt(pass, hash).is_some_and(|h| h == hash);
    }
    let Ok(pass) = std::str::from_utf8(pass) else {
        return false;
    };
    if hash.starts_with("$6$") {
        sha_crypt::sha512_check(pass, hash).is_ok()
    } else if hash.starts_with("$5$") {
        sha_crypt::sha256_check(pass, hash).is_ok()
    } else {
        false
    }
}

const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// MD5-crypt (`$1$SALT$HASH`, Poul-Henning Kamp's FreeBSD algorithm, as glibc's
/// crypt(3) computes it): the hash of `pass` with the salt of `setting`.
pub fn md5_crypt(pass: &[u8], setting: &str) -> Option<String> {
    let rest = setting.strip_prefix("$1$")?;
    let salt = rest.split('$').next()?;
    let salt = &salt.as_bytes()[..salt.len().min(8)];
    let md5 = |parts: &[&[u8]]| {
        let mut h = md5::Md5::new();
        for p in parts {
            h.update(p);
        }
        <[u8; 16]>::from(h.finalize())
    };
    let alt = md5(&[pass, salt, pass]);
    let mut ctx = md5::Md5::new();
    ctx.update(pass);
    ctx.update(b"$1$");
    ctx.update(salt);
    let mut left = pass.len();
    while left > 0 {
        ctx.update(&alt[..left.min(16)]);
        left = left.saturating_sub(16);
    }
    let mut i = pass.len();
    while i > 0 {
        ctx.update(if i & 1 == 1 { &[0u8][..] } else { &pass[..1] });
        i >>= 1;
    }
    let mut fin = <[u8; 16]>::from(ctx.finalize());
    for i in 0..1000 {
        let mut c = md5::Md5::new();
        c.update(if i & 1 == 1 { pass } else { &fin[..] });
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pass);
        }
        c.update(if i & 1 == 1 { &fin[..] } else { pass });
        fin = c.finalize().into();
    }
    let mut out = format!("$1${}$", String::from_utf8_lossy(salt));
    let mut to64 = |mut v: u32, n: usize| {
        for _ in 0..n {
            out.push(ITOA64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    let b = |i: usize| u32::from(fin[i]);
    for (x, y, z) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64((b(x) << 16) | (b(y) << 8) | b(z), 4);
    }
    to64(b(11), 2);
    Some(out)
}

impl Userlist {
    /// A userlist with these users and groups.
    pub fn new(name: String, users: Vec<User>, groups: Vec<String>) -> Self {
        Userlist {
            name,
            users,
            groups,
            cache: Mutex::default(),
        }
    }

    /// The user, when `user`/`pass` are valid credentials here.
    pub fn check(&self, user: &str, pass: &[u8]) -> Option<&User> {
        let u = self.users.iter().find(|u| u.name == user)?;
        let ok = match &u.password {
            Password::None => false,
            Password::Clear(p) => p.as_bytes() == pass,
            Password::Hash(h) => {
                let key = (user.to_string(), sha2::Sha256::digest(pass).into());
                let known = self.cache.lock().ok().and_then(|c| c.get(&key).copied());
                match known {
                    Some(v) => v,
                    None => {
                        let v = crypt_check(pass, h);
                        if let Ok(mut c) = self.cache.lock() {
                            if c.len() >= CACHE_MAX {
                                c.clear();
                            }
                            c.insert(key, v);
                        }
                        v
                    }
                }
            }
        };
        ok.then_some(u)
    }
}

/// The scheme of the `Authorization` header (`Basic`, `Digest`, `Bearer`) and its
/// credentials.
fn authorization<'a>(env: &Env<'a>) -> Option<(&'a str, &'a str)> {
    let v = env.req?.headers.get(hyper::header::AUTHORIZATION)?;
    let v = v.to_str().ok()?.trim();
    Some(v.split_once(' ').unwrap_or((v, "")))
}

/// The user and password of Basic credentials.
fn basic(env: &Env<'_>) -> Option<(String, Vec<u8>)> {
    let (scheme, cred) = authorization(env)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .ok()?;
    let colon = raw.iter().position(|&c| c == b':')?;
    let user = String::from_utf8(raw[..colon].to_vec()).ok()?;
    Some((user, raw[colon + 1..].to_vec()))
}

/// The userlist an `http_auth*(L)` fetch names.
fn userlist<'a>(a: &[Arg], env: &Env<'a>) -> Option<&'a Userlist> {
    env.userlists?.get(a.first()?.text()).map(|l| &**l)
}

fn http_auth<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    let ok = match (userlist(a, env), basic(env)) {
        (Some(l), Some((u, p))) => l.check(&u, &p).is_some(),
        _ => false,
    };
    e(Value::Bool(ok));
}

fn http_auth_group<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    let (Some(l), Some((u, p))) = (userlist(a, env), basic(env)) else {
        return;
    };
    if let Some(user) = l.check(&u, &p) {
        for g in &user.groups {
            if e(Value::str(g)) {
                return;
            }
        }
    }
}

/// The userlist fetches.
pub static FETCHES: &[FetchDef] = &[
    l7("http_auth", &[ArgT::Str], 1, Type::Bool, http_auth),
    l7(
        "http_auth_group",
        &[ArgT::Str],
        1,
        Type::Str,
        http_auth_group,
    ),
    l7("http_auth_type", &[], 0, Type::Str, |_, env, e| {
        let Some((scheme, _)) = authorization(env) else {
            return;
        };
        for known in ["Basic", "Digest", "Bearer"] {
            if scheme.eq_ignore_ascii_case(known) {
                e(Value::str(known));
            }
        }
    }),
    l7("http_auth_user", &[], 0, Type::Str, |_, env, e| {
        if let Some((u, _)) = basic(env) {
            e(Value::Str(u.into_bytes().into()));
        }
    }),
    l7("http_auth_pass", &[], 0, Type::Str, |_, env, e| {
        if let Some((_, p)) = basic(env) {
            e(Value::Str(p.into()));
        }
    }),
];

/// The fetch of this table called `name`.
pub fn find(name: &str) -> Option<&'static FetchDef> {
    FETCHES.iter().find(|f| f.name == name)
}

/// Whether `name` is a fetch whose first argument names a userlist.
pub fn names_userlist(name: &str) -> bool {
    matches!(name, "http_auth" | "http_auth_group")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_crypt_matches_openssl() {
        // openssl passwd -1 -salt saltsalt secret
        let h = "$1$saltsalt$9xy1btjgzLYfb7hivXtC//";
        assert_eq!(md5_crypt(b"secret", h).as_deref(), Some(h));
        assert!(crypt_check(b"secret", h));
        assert!(!crypt_check(b"Secret", h));
    }

    #[test]
    fn sha_and_bcrypt_hashes() {
        // openssl passwd -6 -salt abcdefgh secret, and -5
        let h6 = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";
        let h5 = "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.";
        for h in [h6, h5] {
            assert!(crypt_check(b"secret", h), "{h}");
            assert!(!crypt_check(b"secreT", h), "{h}");
        }
        let b = bcrypt::hash("secret", 4).unwrap();
        assert!(crypt_check(b"secret", &b));
        assert!(!crypt_check(b"other", &b));
    }

    #[test]
    fn cache_keeps_verdicts_per_password() {
        let b = bcrypt::hash("pw", 4).unwrap();
        let l = Userlist::new(
            "L".into(),
            vec![User {
                name: "u".into(),
                password: Password::Hash(b),
                groups: vec!["g".into()],
            }],
            vec!["g".into()],
        );
        assert!(l.check("u", b"pw").is_some());
        assert!(l.check("u", b"pw").is_some());
        assert!(l.check("u", b"no").is_none());
        assert!(l.check("x", b"pw").is_none());
        assert_eq!(l.cache.lock().unwrap().len(), 2);
    }
}
