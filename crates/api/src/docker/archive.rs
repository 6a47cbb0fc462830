//! A container's files: `HEAD`/`GET`/`PUT /containers/{id}/archive?path=` (`docker cp`),
//! `GET /containers/{id}/export` and `GET /containers/{id}/changes` (`docker diff`), over
//! the engine's `cp`, `export` and `diff`. Paths are resolved by the engine inside the
//! container (a tar's `../`, absolute or symlinked members never leave it).

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use peapod_engine::container::copy::{CopyEnd, CopyOptions, PathStat};
use peapod_engine::container::diff::ChangeKind;
use serde_json::json;

use super::pipe::{BodyReader, ChanWriter};
use crate::http::{Body, Resp, empty, engine_error, error_message, flag, json, query};
use crate::pool::EnginePool;

/// The header Docker puts a path's stat in.
const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Go's `os.FileMode` bits (Docker's `mode` is one): the type flags over the permissions.
fn go_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = st_mode & 0o777;
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => DIR,
        libc::S_IFLNK => SYMLINK,
        libc::S_IFBLK => DEVICE,
        libc::S_IFCHR => DEVICE | CHAR,
        libc::S_IFIFO => PIPE,
        libc::S_IFSOCK => SOCKET,
        _ => 0,
    };
    for (bit, flag) in [
        (libc::S_ISUID, SETUID),
        (libc::S_ISGID, SETGID),
        (libc::S_ISVTX, STICKY),
    ] {
        if st_mode & bit != 0 {
            m |= flag;
        }
    }
    m
}

/// Docker's `PathStat` JSON, base64 for the header.
fn stat_header(st: &PathStat) -> String {
    let mtime =
        chrono::DateTime::from_timestamp(st.mtime, st.mtime_nsec.clamp(0, 999_999_999) as u32)
            .unwrap_or_default();
    let v = json!({
        "name": st.name,
        "size": st.size,
        "mode": go_mode(st.mode),
        "mtime": super::rfc3339(mtime),
        "linkTarget": "",
    });
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// Docker's 404 for a path that is not in the container.
fn no_file(path: &str, id: &str) -> Resp {
    error_message(
        StatusCode::NOT_FOUND,
        &format!("Could not find the file {path} in container {id}"),
    )
}

/// The `path` query, required.
fn path_of(req: &Request<Incoming>) -> Result<String, Resp> {
    match query(req).get("path").filter(|p| !p.is_empty()) {
        Some(p) => Ok(p.clone()),
        None => Err(error_message(
            StatusCode::BAD_REQUEST,
            "bad parameter: path cannot be empty",
        )),
    }
}

async fn stat(pool: &EnginePool, id: &str, path: &str) -> Result<PathStat, Resp> {
    let (i, p) = (id.to_string(), path.to_string());
    match pool.run(move |e| e.container_path_stat(&i, &p)).await {
        Ok(Some(st)) => Ok(st),
        Ok(None) => Err(no_file(path, id)),
        Err(e) => Err(engine_error(&e)),
    }
}

/// `HEAD /containers/{id}/archive?path=`: the stat header, no body.
pub async fn head(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let path = match path_of(&req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match stat(&pool, &id, &path).await {
        Ok(st) => Response::builder()
            .status(StatusCode::OK)
            .header(STAT_HEADER, stat_header(&st))
            .body(Body::Full(None))
            .expect("a valid response"),
        Err(r) => r,
    }
}

/// `GET /containers/{id}/archive?path=`: a tar of the path (its top entry named after it),
/// streamed, with the stat header.
pub async fn get(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let path = match path_of(&req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let st = match stat(&pool, &id, &path).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let (mut w, rx) = ChanWriter::new();
    pool.spawn_stream(move |engine| {
        let src = CopyEnd::Container {
            container: id,
            path,
        };
        let r = engine.and_then(|e| {
            e.copy(
                &src,
                &CopyEnd::Stream,
                &CopyOptions::default(),
                &mut std::io::empty(),
                &mut w,
            )
        });
        if let Err(e) = r {
            // The status is sent: the client sees a short tar.
            tracing::warn!(error = %e, "archive GET failed mid-stream");
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .header(STAT_HEADER, stat_header(&st))
        .body(Body::Stream(rx))
        .expect("a valid response")
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: a tar (plain or
/// compressed, streamed) unpacked into the directory `path`.
/// Reads and drops up to 64 MiB of a refused request's body.
async fn drain(mut body: Incoming) {
    use http_body_util::BodyExt;
    let mut left: usize = 64 << 20;
    while let Some(Ok(frame)) = body.frame().await {
        let n = frame.data_ref().map_or(0, |d| d.len());
        if n >= left {
            break;
        }
        left -= n;
    }
}

pub async fn put(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let path = match path_of(&req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let q = query(&req);
    let opts = CopyOptions {
        archive: flag(&q, "copyUIDGID"),
        overwrite: !flag(&q, "noOverwriteDirNonDir"),
    };
    let refused = match stat(&pool, &id, &path).await {
        Ok(st) if st.mode & libc::S_IFMT == libc::S_IFDIR => None,
        Ok(_) => Some(error_message(
            StatusCode::BAD_REQUEST,
            "extraction point is not a directory",
        )),
        Err(r) => Some(r),
    };
    if let Some(r) = refused {
        // The client is still sending its tar: read (a bounded amount of) it first, or it
        // meets a closed connection (a broken pipe) instead of the answer.
        drain(req.into_body()).await;
        return r;
    }
    let mut body = BodyReader::spawn(req.into_body());
    let dest = CopyEnd::Container {
        container: id,
        path,
    };
    let r = pool
        .run(move |e| {
            let r = e.copy(
                &CopyEnd::Stream,
                &dest,
                &opts,
                &mut body,
                &mut std::io::sink(),
            );
            // Whatever the client still sends is read and dropped, so it gets the answer.
            let _ = std::io::copy(&mut body, &mut std::io::sink());
            r
        })
        .await;
    match r {
        Ok(()) => empty(StatusCode::OK),
        Err(e) => engine_error(&e),
    }
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar, streamed.
pub async fn export(id: String, pool: EnginePool) -> Resp {
    let i = id.clone();
    if let Err(e) = pool.run(move |e| e.container(&i).map(|_| ())).await {
        return engine_error(&e);
    }
    let (mut w, rx) = ChanWriter::new();
    pool.spawn_stream(move |engine| {
        if let Err(e) = engine.and_then(|e| e.export_container(&id, &mut w)) {
            tracing::warn!(error = %e, "export failed mid-stream");
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(Body::Stream(rx))
        .expect("a valid response")
}

/// Docker's change kinds: 0 modified, 1 added, 2 deleted.
fn kind_number(k: ChangeKind) -> u8 {
    match k {
        ChangeKind::Changed => 0,
        ChangeKind::Added => 1,
        ChangeKind::Deleted => 2,
    }
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`.
pub async fn changes(id: String, pool: EnginePool) -> Resp {
    let r = pool
        .run(move |e| {
            // `diff` also takes an image; this endpoint is a container's.
            e.container(&id)?;
            e.diff(&id)
        })
        .await;
    match r {
        Ok(list) => {
            let v: Vec<_> = list
                .iter()
                .map(|c| json!({ "Path": c.path, "Kind": kind_number(c.kind) }))
                .collect();
            json(StatusCode::OK, &v)
        }
        Err(e) => engine_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_go_file_modes() {
        assert_eq!(go_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
        assert_eq!(
            go_mode(libc::S_IFDIR | 0o1777),
            (1 << 31) | (1 << 20) | 0o777
        );
    }

    #[test]
    fn the_stat_header_is_base64_json() {
        let st = PathStat {
            name: "x".into(),
            size: 3,
            mode: libc::S_IFREG | 0o600,
            mtime: 0,
            mtime_nsec: 0,
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(stat_header(&st))
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(v["name"], "x");
        assert_eq!(v["size"], 3);
        assert_eq!(v["mode"], 0o600);
        assert_eq!(v["mtime"], "1970-01-01T00:00:00.000000000Z");
        assert_eq!(v["linkTarget"], "");
    }
}
