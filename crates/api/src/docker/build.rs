//! POST `/build`: Docker's legacy builder endpoint over the engine's build. The body is the
//! context as a tar (plain or compressed), unpacked with the engine's safe unpacker into a
//! scratch directory removed afterwards; the build's output goes out as Docker's JSON
//! stream (`{"stream": …}`, then `{"aux": {"ID": …}}` and `Successfully built …`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::build::{BuildOptions, BuildOutput};
use peapod_engine::image::registry::Silent;
use peapod_engine::registry::PullPolicy;
use serde_json::json;
use tokio::sync::mpsc;

use crate::http::{Resp, engine_error, error_message, flag, query, query_all};
use crate::pool::EnginePool;

/// Build contexts larger than this are refused.
pub const MAX_CONTEXT: usize = 512 << 20;

/// The build's output, a `{"stream": …}` message per line.
struct StreamWriter {
    tx: mpsc::Sender<Bytes>,
    line: Vec<u8>,
}

impl Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        if buf.contains(&b'\n') {
            self.flush()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
        self.tx
            .blocking_send(crate::http::json_line(&json!({ "stream": text })))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

/// A JSON map query value (`buildargs`, `labels`) as `K=V` pairs; null values are skipped.
fn json_map(
    q: &std::collections::HashMap<String, String>,
    key: &str,
) -> Result<Vec<(String, String)>, Error> {
    let Some(raw) = q.get(key).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let m: BTreeMap<String, Option<String>> = serde_json::from_str(raw)
        .map_err(|e| Error::invalid(format!("invalid {key} {raw:?}: {e}")))?;
    Ok(m.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// The query as the engine's build request (the context directory filled in later).
fn options(req: &Request<Incoming>) -> Result<BuildOptions, Error> {
    let q = query(req);
    let dockerfile = q
        .get("dockerfile")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| "Dockerfile".into());
    if dockerfile.split('/').any(|c| c == "..") || dockerfile.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid dockerfile {dockerfile:?}: it must be a path inside the context"
        )));
    }
    let pull = if flag(&q, "pull") {
        PullPolicy::Always
    } else {
        PullPolicy::Missing
    };
    Ok(BuildOptions {
        containerfiles: vec![PathBuf::from(dockerfile)],
        tags: query_all(req, "t"),
        build_args: json_map(&q, "buildargs")?,
        labels: json_map(&q, "labels")?
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        no_cache: flag(&q, "nocache"),
        layers: true,
        pull,
        target: q.get("target").filter(|t| !t.is_empty()).cloned(),
        quiet: flag(&q, "q"),
        ..Default::default()
    })
}

/// Runs the build in `scratch` (removed when it is dropped) and streams its output.
fn run_build(
    engine: Result<peapod_engine::Engine, Error>,
    mut opts: BuildOptions,
    data: Bytes,
    tx: mpsc::Sender<Bytes>,
) {
    let quiet = opts.quiet;
    let result = (|| -> Result<peapod_engine::build::BuildResult, Error> {
        let engine = engine?;
        let scratch = tempfile::Builder::new()
            .prefix("peapod-api-build-")
            .tempdir()
            .map_err(|e| Error::other(format!("creating the build context directory: {e}")))?;
        let context = scratch.path().join("context");
        let default_file = context.join(&opts.containerfiles[0]);
        peapod_engine::build::context_from_bytes(&data, &context, &default_file)?;
        opts.containerfiles = vec![default_file];
        opts.context = context;
        let output = BuildOutput {
            out: std::sync::Mutex::new(Box::new(StreamWriter {
                tx: tx.clone(),
                line: Vec::new(),
            })),
            err: std::sync::Mutex::new(Box::new(StreamWriter {
                tx: tx.clone(),
                line: Vec::new(),
            })),
            progress: &Silent,
            quiet,
        };
        let built = engine.build(&opts, &output);
        drop(output);
        built
    })();
    let msgs = match result {
        Ok(r) => {
            let id = format!("sha256:{}", r.id);
            // Quiet, Docker sends the id as the only output (its CLI prints the stream);
            // otherwise the build's lines (the engine's tag lines among them) and Docker's
            // `Successfully built`.
            let tail = if quiet {
                format!("{id}\n")
            } else {
                format!("Successfully built {}\n", &r.id[..12])
            };
            vec![json!({ "aux": { "ID": id } }), json!({ "stream": tail })]
        }
        Err(e) => {
            let m = e.to_string();
            vec![json!({ "errorDetail": { "message": m }, "error": m })]
        }
    };
    for m in msgs {
        if tx.blocking_send(crate::http::json_line(&m)).is_err() {
            return;
        }
    }
}

/// `POST /build?t=&dockerfile=&buildargs=&q=&rm=&nocache=&pull=&labels=&target=`.
pub async fn build(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let opts = match options(&req) {
        Ok(o) => o,
        Err(e) => return engine_error(&e),
    };
    let data = match crate::http::read_limited(req, MAX_CONTEXT, "build context")
        .await
        .map_err(|msg| error_message(StatusCode::BAD_REQUEST, &msg))
    {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    pool.spawn_stream(move |engine| run_build(engine, opts, data, tx));
    crate::http::ndjson(StatusCode::OK, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_and_labels_are_json_maps() {
        let mut q = std::collections::HashMap::new();
        q.insert("buildargs".to_string(), r#"{"A":"1","B":null}"#.to_string());
        assert_eq!(
            json_map(&q, "buildargs").unwrap(),
            [("A".to_string(), "1".to_string())]
        );
        q.insert("labels".to_string(), "[1]".to_string());
        assert!(
            json_map(&q, "labels")
                .unwrap_err()
                .to_string()
                .contains("labels")
        );
    }
}
