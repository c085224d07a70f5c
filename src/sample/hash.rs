//! HAProxy's hash functions (`sdbm`, `djb2`, `wt6`, `crc32`, the avalanche
//! `full_hash`), a fast random source, and the host name, shared by converters,
//! fetches and the balancers.

use std::sync::OnceLock;

/// One step of `sdbm`.
pub fn sdbm_step(h: u32, c: u8) -> u32 {
    u32::from(c)
        .wrapping_add(h << 6)
        .wrapping_add(h << 16)
        .wrapping_sub(h)
}

/// HAProxy's `hash_sdbm`.
pub fn sdbm(data: &[u8]) -> u32 {
    data.iter().fold(0, |h, &c| sdbm_step(h, c))
}

/// HAProxy's `hash_djb2`.
pub fn djb2(data: &[u8]) -> u32 {
    data.iter().fold(5381u32, |h, &c| {
        (h << 5).wrapping_add(h).wrapping_add(u32::from(c))
    })
}

/// HAProxy's `hash_wt6`.
pub fn wt6(data: &[u8]) -> u32 {
    let (mut h0, mut h1): (u32, u32) = (0xa53c965a, 0x5ca6953a);
    let (mut step0, mut step1) = (6u32, 18u32);
    for &c in data {
        let t = u32::from(c);
        h0 = !(h0 ^ t);
        h1 = !(h1.wrapping_add(t));
        let t = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t;
        let t = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t & 0x1f;
        step1 = t >> 11;
    }
    h0 ^ h1
}

/// HAProxy's `hash_crc32` (the IEEE polynomial, as zlib computes it).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// HAProxy's `full_hash`: Bob Jenkins' 32-bit integer avalanche.
pub fn full_hash(mut a: u32) -> u32 {
    a = a.wrapping_add(0x7ed55d16).wrapping_add(a << 12);
    a = (a ^ 0xc761c23c) ^ (a >> 19);
    a = a.wrapping_add(0x165667b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2646c) ^ (a << 9);
    a = a.wrapping_add(0xfd7046c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a4f09) ^ (a >> 16);
    // Spread over the tree: times a large prime close to 3/4 of 2^32.
    a.wrapping_mul(3221225473)
}

/// A fast thread-local random number (not for secrets).
pub fn random_u64() -> u64 {
    fastrand::u64(..)
}

/// A random 32-bit number (`rand`).
pub fn random_u32() -> u32 {
    fastrand::u32(..)
}

/// The machine's host name (`hostname`, `%H`), read once.
pub fn hostname() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
        // within it on success.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return None;
        }
        let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
        String::from_utf8(buf[..end].to_vec()).ok()
    })
    .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(djb2(b""), 5381);
        assert_eq!(crc32(b"123456789"), 0xcbf43926);
        assert_eq!(sdbm(b"a"), 97);
        // HAProxy's `crc32(1)` of the reg-test's 256 bytes 0..255.
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(crc32(&all), 688229491);
        assert_eq!(full_hash(688229491), 4230317029);
    }
}
