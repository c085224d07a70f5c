//! Did-you-mean hints for misspelt names (keywords, fetches, converters).

/// Edit distance (Damerau-Levenshtein, optimal string alignment) between two words.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `word`, if close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = (len / 3).clamp(1, 3);
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip the table for those.
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `; did you mean 'x' maybe ?` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("; did you mean '{s}' maybe ?"),
        None => String::new(),
    }
}

/// Fetches HAProxy 2.6 has that lbd does not evaluate yet: a configuration using one
/// is refused with "not supported by lbd" rather than "unknown".
pub static UNSUPPORTED: &[&str] = &[
    "url_ip",
    "url_port",
    "dst_conn",
    "req.rdp_cookie",
    "rdp_cookie",
    "stopping",
    "lua",
    "src_is_local",
    "ssl_f_sni",
    "rep_ssl_hello_type",
    "url32",
    "url32+src",
    "base32+src",
    "req.hdrs",
    "req.hdrs_bin",
    "res.hdrs",
    "http_first_req",
    "fe_req_rate",
    "fe_sess_rate",
    "be_sess_rate",
    "txn.timer.user",
    "res.body",
    "res.comp",
];

/// Prefixes of fetch families lbd does not evaluate yet, or not all of (tracking
/// counters beyond `sample::track`, TLS, Lua).
const UNSUPPORTED_PREFIXES: &[&str] = &[
    "sc0_", "sc1_", "sc2_", "sc_", "src_", "ssl_", "lua.", "fc_", "bc_", "txn.", "table_",
];

/// Whether `name` is a HAProxy fetch lbd lacks.
pub fn unsupported(name: &str) -> bool {
    UNSUPPORTED.contains(&name) || UNSUPPORTED_PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("balance", "balance"), 0);
        assert_eq!(distance("blance", "balance"), 1);
        assert_eq!(distance("balnace", "balance"), 1);
        assert_eq!(distance("abc", ""), 3);
    }

    #[test]
    fn suggestions() {
        let kws = ["balance", "bind", "backlog", "server"];
        assert_eq!(suggest("blance", kws), Some("balance"));
        assert_eq!(suggest("sever", kws), Some("server"));
        assert_eq!(suggest("frobnicate", kws), None);
        assert_eq!(did_you_mean("bnd", kws), "; did you mean 'bind' maybe ?");
    }
}
