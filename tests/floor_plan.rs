//! The floor plan of src/: module dependencies point one way only.
//!
//! The order is the one written at the top of src/lib.rs (the line starting with
//! `//! Floor plan:`). A module may use modules to its right, never one to its left
//! nor one beside it in the same `{...}` group; so the modules of src/ import each
//! other without a cycle. Also checked: no source file in src/ is over
//! `MAX_LINES` lines, and no `too_many_arguments` allowance is left.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 850;

/// The layers, left (top) to right (bottom), from src/lib.rs.
fn floor_plan(src: &Path) -> Vec<Vec<String>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let line = lib
        .lines()
        .find_map(|l| l.strip_prefix("//! Floor plan:"))
        .expect("src/lib.rs has a `//! Floor plan:` line");
    line.trim()
        .trim_matches('`')
        .split('→')
        .map(|layer| {
            layer
                .trim()
                .trim_matches(['{', '}'])
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable src dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of src/ belongs to (`None`: lib.rs or main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(stem) => Some(stem.to_string()),
        None => Some(first),
    }
}

/// Top-level modules named after `crate::` in code (comments removed), including
/// those inside `use crate::{a, b::c}` groups.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // Names at depth 0 of the group: the first identifier after `{` or `,`.
            let mut depth = 0;
            let mut expect_name = true;
            let mut j = 0;
            let bytes = group.as_bytes();
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => depth += 1,
                    b'}' if depth == 0 => break,
                    b'}' => depth -= 1,
                    b',' if depth == 0 => expect_name = true,
                    c if expect_name && depth == 0 && (c.is_ascii_alphabetic() || c == b'_') => {
                        let name = ident(&group[j..]);
                        j += name.len();
                        out.insert(name);
                        expect_name = false;
                        continue;
                    }
                    _ => {}
                }
                j += 1;
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                out.insert(name);
            }
        }
        rest = after;
    }
    out.remove("self");
    out
}

#[test]
fn modules_depend_one_way_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let plan = floor_plan(&src);
    let mut rank: BTreeMap<String, usize> = BTreeMap::new();
    for (i, layer) in plan.iter().enumerate() {
        for m in layer {
            assert!(rank.insert(m.clone(), i).is_none(), "{m} twice in the plan");
        }
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut seen_modules = BTreeSet::new();
    for f in &files {
        let Some(m) = module_of(&src, f) else {
            continue;
        };
        seen_modules.insert(m.clone());
        let Some(&from) = rank.get(&m) else {
            wrong.push(format!(
                "{}: module `{m}` is not in the floor plan",
                f.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).expect("readable source");
        for used in crate_refs(&text) {
            if used == m {
                continue;
            }
            match rank.get(&used) {
                Some(&to) if to > from => {}
                Some(_) => wrong.push(format!(
                    "{}: `{m}` uses `crate::{used}`, which is not below it in the floor plan",
                    f.display()
                )),
                None => wrong.push(format!(
                    "{}: uses `crate::{used}`, not in the floor plan",
                    f.display()
                )),
            }
        }
    }
    for m in rank.keys() {
        assert!(
            seen_modules.contains(m),
            "the floor plan names `{m}`, which src/ does not have"
        );
    }
    assert!(wrong.is_empty(), "floor plan broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_grouped_and_plain_imports() {
    let refs = crate_refs(
        "use crate::{check, log::{self, alert}};\nuse crate::graph::Graph;\n// crate::stats in a comment\nlet x = crate::backend::balance::hash(b);",
    );
    let want: BTreeSet<String> = ["check", "log", "graph", "backend"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(refs, want);
}

#[test]
fn source_files_stay_small_and_without_too_many_arguments() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable source");
        let n = text.lines().count();
        if n > MAX_LINES {
            wrong.push(format!("{}: {n} lines (at most {MAX_LINES})", f.display()));
        }
        if text.contains("too_many_arguments") {
            wrong.push(format!(
                "{}: allows clippy::too_many_arguments",
                f.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
