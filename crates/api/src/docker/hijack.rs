//! The hijacked stream of attach and exec start: `101 UPGRADED`, then the process's output
//! (Docker's multiplexed frames, or raw bytes with a tty) one way and the client's bytes to
//! its stdin the other. The client half-closes when its stdin ends: the monitor's socket is
//! half-closed in turn, and the monitor closes the process's stdin. The stream ends when
//! the monitor closes its socket (the process exited) or the client goes away.

use std::io::Write;
use std::os::unix::net::UnixStream;

use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::logs::Framer;
use crate::http::{Body, Resp};

/// What one hijacked stream carries.
pub struct Streams {
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// The `101` answer; the stream itself runs once hyper hands the connection over.
pub fn upgraded(tty: bool) -> Resp {
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Content-Type", content_type)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::Full(None))
        .expect("a valid response")
}

/// Run the stream between the client's connection and the monitor's socket. `finished`
/// runs on the blocking pool once the output ended and before the client sees the end
/// (exec records its exit code there, so that the client's inspect right after reads it).
pub fn pump<F>(upgrade: OnUpgrade, sock: UnixStream, s: Streams, finished: F)
where
    F: FnOnce() + Send + 'static,
{
    let output = read_output(sock, s, finished);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(u) => serve_upgraded(u, output).await,
            Err(e) => tracing::debug!("connection upgrade: {e}"),
        }
    });
}

/// The process's output as it comes (framed unless a tty), and its stdin when wanted.
pub struct Output {
    rx: mpsc::Receiver<Bytes>,
    input: Option<UnixStream>,
}

/// Reads the monitor's socket on the blocking pool into frames for the client; `finished`
/// runs when the output ended, before the client sees the end.
pub fn read_output<F>(sock: UnixStream, s: Streams, finished: F) -> Output
where
    F: FnOnce() + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let input = if s.stdin { sock.try_clone().ok() } else { None };
    let tty = s.tty;
    tokio::task::spawn_blocking(move || {
        let framer = |stream, wanted| Framer {
            tx: tx.clone(),
            stream: (!tty).then_some(stream),
            wanted,
            line: Vec::new(),
        };
        let (mut out, mut err) = (framer(1, s.stdout), framer(2, s.stderr));
        if let Err(e) = peapod_engine::container::attach::copy_output(&sock, &mut out, &mut err) {
            tracing::debug!("hijacked stream: {e}");
        }
        let _ = out.flush();
        let _ = err.flush();
        finished();
    });
    Output { rx, input }
}

/// The client's connection, once hyper handed it over: output one way, stdin the other.
pub async fn serve_upgraded(upgraded: hyper::upgrade::Upgraded, output: Output) {
    let Output { mut rx, input } = output;
    let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
    if let Some(input) = input {
        tokio::spawn(async move { forward_stdin(&mut rd, input).await });
    }
    while let Some(chunk) = rx.recv().await {
        if wr.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// A failure after the connection was handed over: the message in one frame of `stream`
/// (2 stderr, 3 the stream's error), or as text with a tty; then the end.
pub async fn serve_error(upgraded: hyper::upgrade::Upgraded, tty: bool, stream: u8, message: &str) {
    let mut io = TokioIo::new(upgraded);
    let mut out = Vec::new();
    if !tty {
        out.extend_from_slice(&[stream, 0, 0, 0]);
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(message.as_bytes());
    let _ = io.write_all(&out).await;
    let _ = io.shutdown().await;
}

/// The client's bytes to the monitor's socket (written on the blocking pool: the socket is
/// a blocking one); at the client's EOF the socket's write side is shut.
async fn forward_stdin<R: tokio::io::AsyncRead + Unpin>(rd: &mut R, sock: UnixStream) {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let writer = tokio::task::spawn_blocking(move || {
        let mut sock = sock;
        while let Some(chunk) = rx.blocking_recv() {
            if sock.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = sock.shutdown(std::net::Shutdown::Write);
    });
    // A packet of the monitor's SEQPACKET socket: more than it reads at once would be cut.
    let mut buf = vec![0u8; peapod_engine::container::attach::STDIN_PACKET];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send(buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
