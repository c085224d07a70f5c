//! Digests and HMAC for the `digest`, `hmac`, `sha1` and `sha2` converters (RustCrypto).

use super::expr::{Arg, Env};
use super::value::Value;
use base64::Engine as _;
use std::borrow::Cow;

/// The algorithms `digest` and `hmac` take.
pub const DIGESTS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

pub fn check(name: &str, args: &mut [Arg]) -> Result<(), String> {
    let alg = args[0].text();
    if DIGESTS.contains(&alg) {
        return Ok(());
    }
    Err(format!(
        "failed to parse '{name}' : unsupported digest algorithm '{alg}' (lbd has {})",
        DIGESTS.join(", ")
    ))
}

pub fn digest(alg: &str, data: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    Some(match alg {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha224" => sha2::Sha224::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

pub fn hmac<'a>(a: &'a [Arg], v: Value<'a>, e: &Env<'a>) -> Option<Value<'a>> {
    use hmac::{Mac, SimpleHmac};
    let key_b64 = match &a[1] {
        Arg::Var(s, n) => e.var(*s, n)?.to_bytes().into_owned(),
        other => other.text().as_bytes().to_vec(),
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .ok()?;
    let data = v.into_bin();
    macro_rules! mac {
        ($t:ty) => {{
            let mut m = SimpleHmac::<$t>::new_from_slice(&key).ok()?;
            m.update(&data);
            m.finalize().into_bytes().to_vec()
        }};
    }
    let out = match a[0].text() {
        "md5" => mac!(md5::Md5),
        "sha1" => mac!(sha1::Sha1),
        "sha224" => mac!(sha2::Sha224),
        "sha256" => mac!(sha2::Sha256),
        "sha384" => mac!(sha2::Sha384),
        "sha512" => mac!(sha2::Sha512),
        _ => return None,
    };
    Some(Value::Bin(Cow::Owned(out)))
}
