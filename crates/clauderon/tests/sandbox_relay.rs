//! `clauderon sandbox-relay`, the hidden subcommand zellij's `full` sandboxes run: it listens on a
//! loopback port, becomes the given command, and carries the command's connections to the
//! proxy's Unix socket. Here without a sandbox: a Unix socket answering HTTP stands in for the
//! proxy, and curl inside the command talks to the loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;

#[test]
fn the_relay_carries_the_commands_connections_to_the_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("proxy.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 2048];
            let Ok(n) = c.read(&mut buf) else { continue };
            let first = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string();
            let body = format!("via-socket: {first}");
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = c.write_all(reply.as_bytes());
        }
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clauderon"))
        .args(["sandbox-relay", "--listen", &format!("127.0.0.1:{port}"), "--socket"])
        .arg(&socket)
        .args(["--", "curl", "-sS", "--noproxy", "*", &format!("http://127.0.0.1:{port}/through")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "via-socket: GET /through HTTP/1.1");
}

#[test]
fn the_relay_without_arguments_says_how_to_use_it() {
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_clauderon")).arg("sandbox-relay").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: sandbox-relay"));
}
