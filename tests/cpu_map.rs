//! `cpu-map`: the real binary binds its data-plane threads (`lbd-shard-N`, HAProxy's
//! threads N+1) to the CPUs the config names, at start and on reload.

mod common;

use common::*;

/// Each `lbd-shard-N` thread's `Cpus_allowed_list`, by thread name.
fn shard_cpus(pid: u32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let name = name.trim();
        if !name.starts_with("lbd-shard-") {
            continue;
        }
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        if let Some(l) = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")) {
            out.push((name.to_string(), l[18..].trim().to_string()));
        }
    }
    out.sort();
    out
}

fn config(global: &str) -> String {
    format!(
        "global\n    nbthread 2\n{global}{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    http-request return status 200\n"
    )
}

fn expect(a: &str, b: &str) -> Vec<(String, String)> {
    vec![
        ("lbd-shard-0".to_string(), a.to_string()),
        ("lbd-shard-1".to_string(), b.to_string()),
    ]
}

#[tokio::test]
async fn cpu_map_binds_the_threads_at_start_and_on_reload() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cpus >= 2, "this test needs two CPUs (found {cpus})");
    let all = format!("0-{}", cpus - 1);
    let lbd = Lbd::start(&config("    cpu-map auto:1/1-2 0-1\n")).await;
    let pid = lbd.pid();
    wait_until(DEADLINE, "thread 1 on CPU 0, thread 2 on CPU 1", || {
        shard_cpus(pid) == expect("0", "1")
    })
    .await;

    let line = lbd.reload(&config("    cpu-map 1/all 1\n")).await;
    assert!(line.contains("Reload complete"), "{line}");
    wait_until(DEADLINE, "both threads on CPU 1", || {
        shard_cpus(pid) == expect("1", "1")
    })
    .await;

    // Without cpu-map, the threads may run anywhere again.
    let line = lbd.reload(&config("")).await;
    assert!(line.contains("Reload complete"), "{line}");
    wait_until(DEADLINE, "both threads on every CPU", || {
        shard_cpus(pid) == expect(&all, &all)
    })
    .await;
}

#[tokio::test]
async fn cpu_map_lines_for_other_processes_are_ignored_with_a_warning() {
    let dir = std::env::temp_dir().join(format!("lbd-cpu-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lb.cfg");
    let text = config("    cpu-map 1/1 0\n    cpu-map 2 1\n    cpu-map auto:1/1-2 0-3\n")
        .replace("@FE@", "8080");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(["-c", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'cpu-map 2': lbd runs one process with one thread group; this line maps another one and is ignored."),
        "{err}"
    );
    assert!(
        err.contains("'cpu-map auto:' needs as many CPUs as threads (2 threads, 4 CPUs)."),
        "{err}"
    );
}
