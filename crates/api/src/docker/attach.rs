//! POST `/containers/{id}/attach`: the hijacked stream (`101 UPGRADED`, then Docker's
//! multiplexed frames, or raw bytes with a tty). A container not yet started is
//! initialised first (as Podman does) so that its first output is not lost; the later
//! `start` only lets it run. Output only: stdin is not forwarded yet.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use peapod_engine::container::Status;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::logs::Framer;
use crate::http::{Body, Resp, engine_error, flag, query};
use crate::pool::EnginePool;

pub async fn attach(mut req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let (want_out, want_err) = (flag(&q, "stdout"), flag(&q, "stderr"));
    // Connect before answering: a missing or finished container is an HTTP error.
    let r = pool
        .run(move |e| {
            let c = e.container(&id)?;
            if matches!(
                c.state.status,
                Status::Created | Status::Exited | Status::Stopped
            ) {
                e.init_container(c.id())?;
            }
            let sock = e.attach_container(&c)?;
            Ok((sock, c.config.tty))
        })
        .await;
    let (sock, tty) = match r {
        Ok(s) => s,
        Err(e) => return engine_error(&e),
    };
    let upgrade = hyper::upgrade::on(&mut req);
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    tokio::task::spawn_blocking(move || {
        let framer = |stream, wanted| Framer {
            tx: tx.clone(),
            stream: (!tty).then_some(stream),
            wanted,
            line: Vec::new(),
        };
        let (mut out, mut err) = (framer(1, want_out), framer(2, want_err));
        if let Err(e) = peapod_engine::container::attach::copy_output(&sock, &mut out, &mut err) {
            tracing::debug!("attach: {e}");
        }
        let _ = std::io::Write::flush(&mut out);
        let _ = std::io::Write::flush(&mut err);
    });
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("attach upgrade: {e}");
                return;
            }
        };
        let mut io = TokioIo::new(upgraded);
        while let Some(chunk) = rx.recv().await {
            if io.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = io.shutdown().await;
    });
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
