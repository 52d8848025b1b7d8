//! The relay inside a `full` sandbox: the network namespace has only loopback, so a listener on
//! `127.0.0.1:<proxy port>` carries each connection to the proxy's Unix socket, bound in from the
//! host. Nothing else leaves the namespace.
//!
//! `relay --listen ADDR --socket PATH -- COMMAND...` binds the port, hands it to a listener child
//! process in its own process group (so a Ctrl-C meant for the agent does not stop it), then
//! becomes COMMAND (exec), keeping the terminal. When COMMAND ends, bubblewrap ends
//! the namespace and the listener with it.

use crate::ZellijError;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayArgs {
    pub listen: SocketAddr,
    pub socket: PathBuf,
    /// Empty: serve (the listener process). Otherwise the command to become.
    pub command: Vec<String>,
}

/// The arguments after the program (and after the `sandbox-relay` subcommand).
pub fn relay_args(listen: SocketAddr, socket: &std::path::Path, command: &[String]) -> Vec<String> {
    let mut a =
        vec!["--listen".into(), listen.to_string(), "--socket".into(), socket.to_string_lossy().into()];
    if command.is_empty() {
        a.push("--serve".into());
    } else {
        a.push("--".into());
        a.extend(command.iter().cloned());
    }
    a
}

pub fn parse(args: &[String]) -> Result<RelayArgs, ZellijError> {
    let usage = "usage: sandbox-relay --listen 127.0.0.1:PORT --socket PATH (--serve | -- COMMAND...)";
    let bad = ZellijError::Relay;
    let (mut listen, mut socket, mut serve) = (None, None, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => {
                let v = it.next().ok_or_else(|| bad(usage.into()))?;
                listen =
                    Some(v.parse::<SocketAddr>().map_err(|e| bad(format!("--listen {v}: {e}; {usage}")))?);
            }
            "--socket" => socket = Some(PathBuf::from(it.next().ok_or_else(|| bad(usage.into()))?)),
            "--serve" => serve = true,
            "--" => break,
            other => return Err(bad(format!("unknown argument `{other}`; {usage}"))),
        }
    }
    let command: Vec<String> = it.cloned().collect();
    match (listen, socket) {
        (Some(listen), Some(socket)) if serve == command.is_empty() => {
            Ok(RelayArgs { listen, socket, command })
        }
        _ => Err(bad(usage.into())),
    }
}

/// Run the relay. `self_command` is how to run this relay again (the program and any
/// subcommand before its arguments). Returns only on failure (or when serving ends).
pub fn run(args: RelayArgs, self_command: &[String]) -> Result<(), ZellijError> {
    let failed = |what: String| ZellijError::Relay(format!("clauderon relay: {what}"));
    if args.command.is_empty() {
        return serve(&args);
    }
    let (program, pre) =
        self_command.split_first().ok_or_else(|| failed("the relay needs its own program name".into()))?;
    // Bound here, before the command starts, and handed to the listener process as its stdin: the
    // port is ready the moment the command runs, with no probe connection.
    let listener = TcpListener::bind(args.listen)
        .map_err(|e| failed(format!("cannot listen on {}: {e}", args.listen)))?;
    let mut server = std::process::Command::new(program);
    server.args(pre).args(relay_args(args.listen, &args.socket, &[])).process_group(0);
    server.stdin(std::process::Stdio::from(OwnedFd::from(listener))).stdout(std::process::Stdio::null());
    server.spawn().map_err(|e| failed(format!("cannot start the listener: {e}")))?;
    let (program, rest) = args.command.split_first().ok_or_else(|| failed("no command to run".into()))?;
    let err = std::process::Command::new(program).args(rest).exec();
    Err(failed(format!("cannot run {program}: {err}")))
}

/// The listener process: its stdin is the listening socket the front process bound. It ends when
/// the command (its parent) does: in a sandbox bubblewrap ends it anyway, elsewhere nothing would.
fn serve(args: &RelayArgs) -> Result<(), ZellijError> {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(0);
            }
        }
    });
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| ZellijError::Relay(format!("clauderon relay: no listening socket on stdin: {e}")))?;
    serve_on(TcpListener::from(fd), args)
}

fn serve_on(listener: TcpListener, args: &RelayArgs) -> Result<(), ZellijError> {
    for conn in listener.incoming() {
        let Ok(tcp) = conn else { continue };
        let socket = args.socket.clone();
        std::thread::spawn(move || {
            if let Ok(unix) = UnixStream::connect(&socket) {
                pipe_both(tcp, unix);
            }
        });
    }
    Ok(())
}

/// Copy both ways until each side has finished, passing half-closes on.
fn pipe_both(tcp: TcpStream, unix: UnixStream) {
    let (Ok(tcp_r), Ok(unix_w)) = (tcp.try_clone(), unix.try_clone()) else { return };
    let up = std::thread::spawn(move || {
        copy(tcp_r, &unix_w);
        let _ = unix_w.shutdown(Shutdown::Write);
    });
    copy(unix, &tcp);
    let _ = tcp.shutdown(Shutdown::Write);
    let _ = up.join();
}

fn copy(mut from: impl Read, mut to: impl Write) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn arguments_round_trip() {
        let addr: SocketAddr = "127.0.0.1:3128".parse().unwrap();
        let cmd = vec!["/bin/sh".to_string(), "-c".into(), "echo --serve".into()];
        let a = parse(&relay_args(addr, std::path::Path::new("/s.sock"), &cmd)).unwrap();
        assert_eq!(a, RelayArgs { listen: addr, socket: "/s.sock".into(), command: cmd });
        let a = parse(&relay_args(addr, std::path::Path::new("/s.sock"), &[])).unwrap();
        assert!(a.command.is_empty());
        assert!(parse(&["--listen".into(), "x".into()]).unwrap_err().to_string().contains("usage"));
    }

    #[test]
    fn serving_carries_bytes_both_ways_and_half_closes() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("p.sock");
        let upstream = UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = upstream.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(b"echo:").unwrap();
            s.write_all(&got).unwrap();
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap();
        let args = RelayArgs { listen: port, socket: sock, command: vec![] };
        std::thread::spawn(move || serve_on(listener, &args));
        let mut c = TcpStream::connect(port).unwrap();
        c.write_all(b"hello").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "echo:hello");
    }
}
