//! The runtime-socket client shared by the persistence and stats helpers: a short
//! scratch directory for unix socket paths ([`SockDir`]) and one command ([`cli`]).

use crate::common::{within, DEADLINE};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory for unix socket paths; removed on drop.
pub struct SockDir(PathBuf);

impl SockDir {
    /// A fresh, empty directory (short path: unix socket paths are limited to 108 bytes).
    pub fn new() -> SockDir {
        let n = SEQ.fetch_add(1, SeqCst);
        let d = std::env::temp_dir().join(format!("lbd-sk-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create socket dir");
        SockDir(d)
    }

    /// The path of `name` inside the directory, as text for a config.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// The path of the runtime socket `admin.sock` inside the directory.
    pub fn sock(&self) -> String {
        self.path("admin.sock")
    }
}

impl Drop for SockDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends one command line to the runtime socket at `path` and reads the answer until
/// lbd closes the connection.
pub async fn cli(path: impl AsRef<Path>, cmd: &str) -> String {
    let path = path.as_ref().to_path_buf();
    let what = format!("runtime socket command {cmd:?}");
    within(DEADLINE, &what, async move {
        let mut s = tokio::net::UnixStream::connect(&path)
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        s.write_all(format!("{cmd}\n").as_bytes())
            .await
            .expect("write command");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read answer");
        out
    })
    .await
}

/// Runs `cmd` until its answer satisfies `done` (counters are updated when a
/// connection or response ends, a moment after the client has its last byte), or
/// `DEADLINE` passes; returns the last answer, for the caller's exact assertions.
pub async fn cli_until(path: impl AsRef<Path>, cmd: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let out = cli(path.as_ref(), cmd).await;
        if done(&out) || std::time::Instant::now() >= deadline {
            return out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
