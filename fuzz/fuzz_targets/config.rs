//! Feeds arbitrary bytes to the configuration pipeline.
//!
//! The input is read as lossy UTF-8 and split on NUL bytes into up to three sources
//! (`a.cfg`, `b.cfg`, `c.cfg`), so that state carried across files (`defaults`, names,
//! `.if` blocks) is exercised too. Invariants checked:
//! - nothing panics (parsing, validation, rendering every diagnostic);
//! - `config.is_some()` exactly when no diagnostic is an alert;
//! - every located diagnostic names one of the sources and a line between 1 and that
//!   source's line count + 1.
//!
//! Hostnames are not looked up (`set_offline_resolution`): they resolve to 127.0.0.1,
//! `*.invalid` fails. Real lookups would send fuzzed names to DNS and can stall 5 s.

#![no_main]

use lbd::config::{parse_sources, value, Level, Source};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

const NAMES: [&str; 3] = ["a.cfg", "b.cfg", "c.cfg"];

/// A fixed environment: two variables set (one of them empty), everything else unset.
fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("8080".into()),
        "HOST" => Some("127.0.0.1".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    value::set_offline_resolution(true);
    let text = String::from_utf8_lossy(data);
    let sources: Vec<Source> = text
        .splitn(NAMES.len(), '\0')
        .zip(NAMES)
        .map(|(t, n)| Source {
            name: Arc::from(n),
            text: t.to_string(),
        })
        .collect();
    let loaded = parse_sources(&sources, &env);

    let has_alert = loaded.diags.iter().any(|d| d.level == Level::Alert);
    assert_eq!(
        loaded.config.is_some(),
        !has_alert,
        "config present iff no alert; diags: {:?}",
        loaded.diags
    );
    // Line counts once per input: counting per diagnostic made large inputs quadratic.
    let line_counts: Vec<u32> = sources
        .iter()
        .map(|s| s.text.bytes().filter(|&b| b == b'\n').count() as u32 + 1)
        .collect();
    for d in &loaded.diags {
        let _ = d.line(1);
        if let Some(loc) = &d.loc {
            let i = sources
                .iter()
                .position(|s| *s.name == *loc.file)
                .unwrap_or_else(|| panic!("diag names an unknown file: {d:?}"));
            let lines = line_counts[i];
            assert!(
                loc.line >= 1 && loc.line <= lines + 1,
                "line {} out of 1..={} in {d:?}",
                loc.line,
                lines + 1
            );
        }
    }
});
