//! POST `/containers/{id}/attach`: the hijacked stream (see [`super::hijack`]). A container
//! not yet started is initialised first (as Podman does) so that its first output is not
//! lost; the later `start` only lets it run. POST `/containers/{id}/resize`.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::container::Status;

use super::hijack::{self, Streams};
use crate::http::{Resp, empty, engine_error, flag, query};
use crate::pool::EnginePool;

pub async fn attach(mut req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let (want_in, want_out, want_err) = (flag(&q, "stdin"), flag(&q, "stdout"), flag(&q, "stderr"));
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
            Ok((sock, c.config.tty, c.config.stdin))
        })
        .await;
    let (sock, tty, open_stdin) = match r {
        Ok(s) => s,
        Err(e) => return engine_error(&e),
    };
    let streams = Streams {
        tty,
        // Stdin only reaches a container created with it open (`-i`).
        stdin: want_in && open_stdin,
        stdout: want_out,
        stderr: want_err,
    };
    hijack::pump(hyper::upgrade::on(&mut req), sock, streams, || {});
    hijack::upgraded(tty)
}

/// `h` and `w` of a resize query.
pub(super) fn size(
    q: &std::collections::HashMap<String, String>,
) -> Result<(u16, u16), peapod_engine::Error> {
    let get = |k: &str| -> Result<u16, peapod_engine::Error> {
        let v = q.get(k).map(String::as_str).unwrap_or("");
        v.parse::<u16>().map_err(|_| {
            peapod_engine::Error::invalid(format!("invalid terminal size {k}={v:?}: not a number"))
        })
    };
    Ok((get("h")?, get("w")?))
}

/// POST `/containers/{id}/resize?h=&w=`.
pub async fn resize(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let (rows, cols) = match size(&query(&req)) {
        Ok(s) => s,
        Err(e) => return engine_error(&e),
    };
    match pool.run(move |e| e.resize_container(&id, rows, cols)).await {
        Ok(()) => empty(StatusCode::OK),
        Err(e) => engine_error(&e),
    }
}
