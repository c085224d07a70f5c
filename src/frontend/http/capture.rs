//! A request's capture slots: `capture request|response header` values, and what
//! `http-request capture` / `http-response capture` rules put in declared slots.
//! `capture.req.hdr(N)` / `capture.res.hdr(N)` read them and the access log prints
//! them between braces (`{a|b} {c}`).

use crate::graph::FrontendRt;
use hyper::header::{HeaderMap, HeaderName};
use std::sync::{Mutex, MutexGuard};

/// The values of one request's slots, from 0 in declaration order.
#[derive(Debug, Default)]
pub(super) struct Slots {
    /// Request slots.
    pub req: Vec<Option<String>>,
    /// Response slots.
    pub res: Vec<Option<String>>,
}

/// A request's capture slots (rules fill them through a shared reference).
#[derive(Debug, Default)]
pub(super) struct Captures(Mutex<Slots>);

/// The last value of each captured header, cut to its length; None for a slot
/// that is not a header's.
fn headers(list: &[(Option<HeaderName>, usize)], h: &HeaderMap) -> Vec<Option<String>> {
    list.iter()
        .map(|(name, len)| {
            let v = h.get_all(name.as_ref()?).iter().next_back()?.as_bytes();
            Some(String::from_utf8_lossy(&v[..v.len().min(*len)]).into_owned())
        })
        .collect()
}

/// `s` cut to at most `len` bytes (on a character boundary).
fn cut(mut s: String, len: usize) -> String {
    if s.len() > len {
        let mut end = len;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Captures {
    /// The slots of a request on `fe`, its header captures taken from `h`.
    pub fn new(fe: &FrontendRt, h: &HeaderMap) -> Self {
        Captures(Mutex::new(Slots {
            req: headers(&fe.capture_request, h),
            res: vec![None; fe.capture_response.len()],
        }))
    }

    /// The slots, for reading or writing.
    pub fn lock(&self) -> MutexGuard<'_, Slots> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the response header captures from `h`.
    pub fn response_headers(&self, fe: &FrontendRt, h: &HeaderMap) {
        let values = headers(&fe.capture_response, h);
        let mut s = self.lock();
        for (slot, v) in s.res.iter_mut().zip(values) {
            if v.is_some() {
                *slot = v;
            }
        }
    }

    /// A rule's sample into slot `id` of the request (or response) slots, cut to the
    /// slot's length.
    pub fn set(&self, fe: &FrontendRt, response: bool, id: usize, v: String) {
        let (lens, mut s) = (
            if response {
                &fe.capture_response
            } else {
                &fe.capture_request
            },
            self.lock(),
        );
        let slots = if response { &mut s.res } else { &mut s.req };
        if let (Some(slot), Some((_, len))) = (slots.get_mut(id), lens.get(id)) {
            *slot = Some(cut(v, *len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abcdef".into(), 3), "abc");
        assert_eq!(cut("aé".into(), 2), "a");
        assert_eq!(cut("ab".into(), 5), "ab");
    }
}
