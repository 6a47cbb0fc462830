//! GET `/containers/{id}/logs`: the engine's log reader, streamed; without a tty each
//! line is framed as Docker's multiplexed stream (`[stream,0,0,0,len BE32] payload`).

use std::io::Write;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use peapod_engine::container::logs::LogOptions;
use tokio::sync::mpsc;

use crate::http::{Body, Resp, engine_error, flag, query};
use crate::pool::EnginePool;

/// Sends what the engine writes, a frame per line, to the response body; a client gone
/// makes the write fail, which ends a follow.
pub(super) struct Framer {
    pub(super) tx: mpsc::Sender<Bytes>,
    /// 1 stdout, 2 stderr; `None`: raw (tty).
    pub(super) stream: Option<u8>,
    /// Whether the client asked for this stream at all.
    pub(super) wanted: bool,
    pub(super) line: Vec<u8>,
}

/// One multiplexed frame.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

impl Framer {
    fn send(&mut self) -> std::io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let payload = std::mem::take(&mut self.line);
        if !self.wanted {
            return Ok(());
        }
        let data = match self.stream {
            Some(s) => frame(s, &payload),
            None => payload,
        };
        self.tx
            .blocking_send(Bytes::from(data))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for Framer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        if buf.contains(&b'\n') {
            self.send()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

fn options(
    q: &std::collections::HashMap<String, String>,
) -> Result<LogOptions, peapod_engine::Error> {
    let time = |key: &str| -> Result<_, peapod_engine::Error> {
        match q.get(key).filter(|v| !v.is_empty() && *v != "0") {
            None => Ok(None),
            Some(v) => peapod_engine::container::logs::parse_time(v).map(Some),
        }
    };
    Ok(LogOptions {
        follow: flag(q, "follow"),
        tail: q
            .get("tail")
            .filter(|t| *t != "all")
            .and_then(|t| t.parse::<i64>().ok())
            .filter(|t| *t >= 0)
            .map(|t| t as usize),
        since: time("since")?,
        until: time("until")?,
        timestamps: flag(q, "timestamps"),
        prefix: None,
    })
}

pub async fn logs(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    logs_with(query(&req), id, pool).await
}

/// The logs stream for an already parsed query (the libpod API rewrites a few values).
pub async fn logs_with(
    q: std::collections::HashMap<String, String>,
    id: String,
    pool: EnginePool,
) -> Resp {
    let opts = match options(&q) {
        Ok(o) => o,
        Err(e) => return engine_error(&e),
    };
    let (want_out, want_err) = (flag(&q, "stdout"), flag(&q, "stderr"));
    // The container is looked up first so that a missing one is a 404, not an empty 200.
    let c = match pool.run(move |e| e.container(&id)).await {
        Ok(c) => c,
        Err(e) => return engine_error(&e),
    };
    let tty = c.config.tty;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    pool.spawn_stream(move |engine| {
        let Ok(engine) = engine else { return };
        let framer = |stream, wanted| Framer {
            tx: tx.clone(),
            stream: (!tty).then_some(stream),
            wanted,
            line: Vec::new(),
        };
        let mut out = framer(1, want_out);
        let mut err = framer(2, want_err);
        if let Err(e) = engine.logs(&c, &opts, &mut out, &mut err) {
            tracing::debug!("logs of {}: {e}", c.id());
        }
        let _ = out.flush();
        let _ = err.flush();
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", content_type)
        .body(Body::Stream(rx))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_as_docker_stdcopy() {
        assert_eq!(
            frame(1, b"hi\n"),
            [1, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
        assert_eq!(frame(2, b"")[..8], [2, 0, 0, 0, 0, 0, 0, 0]);
    }
}
