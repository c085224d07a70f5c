//! lbd refuses to start with nothing to listen on, as HAProxy does: exit status 1 and
//! the reason on stderr.

use std::process::Command;
use std::time::Duration;

/// Runs lbd with `args` and a deadline; its exit status and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lbd"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lbd starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (st.code(), err);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("lbd {args:?} kept running without a listener");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_bind_means_exit_1() {
    let dir = std::env::temp_dir().join(format!("lbd-nobind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("lb.cfg");
    std::fs::write(
        &cfg,
        "defaults\n mode http\n timeout client 1s\n timeout server 1s\n timeout connect 1s\nbackend b\n server s 127.0.0.1:1\n",
    )
    .unwrap();
    let (code, err) = run(&["-f", cfg.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "[lbd.main()] No enabled listener found (check for 'bind' directives) ! Exiting."
        ),
        "{err}"
    );
    // `-c` says the same thing its own way (exit 2, as HAProxy's check mode).
    let (code, err) = run(&["-c", "-f", cfg.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_without_cfg_files_means_exit_1() {
    let dir = std::env::temp_dir().join(format!("lbd-emptydir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a config").unwrap();
    let (code, err) = run(&["-f", dir.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "No configuration file found in {} (a directory is read for its *.cfg files).",
            dir.display()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
