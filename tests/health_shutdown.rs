//! `on-marked-down shutdown-sessions`: open sessions of a server that goes DOWN are
//! closed; without it they go on. `on-marked-up shutdown-backup-sessions`: sessions on
//! backups are closed when an active server comes back.

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A check port we can open and close: health follows it, the data port stays up.
struct CheckPort {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CheckPort {
    async fn open(port: u16) -> CheckPort {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind check port");
        let port = l.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                drop(s);
            }
        });
        CheckPort {
            port,
            task: Some(task),
        }
    }
    fn close(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

fn cfg(data: &str, check_port: u16, extra: &str) -> String {
    format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
listen l
    bind 127.0.0.1:@FE@
    server s1 {data} check port {check_port} inter 100 fall 1 rise 1 {extra}
"
    )
}

async fn echo_once(s: &mut tokio::net::TcpStream) {
    s.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    within(Duration::from_secs(2), "echo", s.read_exact(&mut buf))
        .await
        .unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn sessions_are_closed_when_the_server_is_marked_down() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let mut chk = CheckPort::open(0).await;
    let lb = Lbd::start(&cfg(
        &origin.hostport(),
        chk.port,
        "on-marked-down shutdown-sessions",
    ))
    .await;
    let mut s = connect(lb.port, None).await;
    echo_once(&mut s).await;
    chk.close();
    lb.wait_for_log("Server l/s1 is DOWN").await;
    let mut buf = [0u8; 16];
    let n = within(
        Duration::from_secs(3),
        "lbd closes the session",
        s.read(&mut buf),
    )
    .await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
}

#[tokio::test]
async fn without_the_option_sessions_go_on() {
    let origin = TcpOrigin::start(TcpMode::Echo).await;
    let mut chk = CheckPort::open(0).await;
    let lb = Lbd::start(&cfg(&origin.hostport(), chk.port, "")).await;
    let mut s = connect(lb.port, None).await;
    echo_once(&mut s).await;
    chk.close();
    lb.wait_for_log("Server l/s1 is DOWN").await;
    echo_once(&mut s).await;
}
