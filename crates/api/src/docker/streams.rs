//! The Docker API's streamed answers over the engine: `POST /images/create` (a pull, its
//! progress as Docker's JSON messages), `GET /events` (the event log as Docker's event
//! objects, followed until `until` or the client goes) and `GET /containers/{id}/stats`
//! (Docker's stats object from two samples of the engine's figures).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::container::stats::{ContainerStats, StatsRequest, system_cpu_ns};
use peapod_engine::events::{Event, EventsRequest};
use peapod_engine::image::registry::{self, Platform, ProgressSink, PullOptions, Tls};
use peapod_engine::{Error, ErrorKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::rfc3339;
use crate::http::{Resp, engine_error, error_message, flag, ndjson, query};
use crate::pool::EnginePool;

/// What a docker client names, as Podman's compat API takes it: a name without a registry
/// is Docker Hub's (`busybox` → `docker.io/library/busybox`), with `tag` (or a digest)
/// appended when the name has neither; the engine's parser checks and normalises it.
pub(crate) fn docker_reference(from_image: &str, tag: &str) -> Result<String, Error> {
    let parsed = peapod_engine::image::parse_reference(from_image).map_err(Error::from)?;
    let mut name = if parsed.domain.is_none() {
        format!("docker.io/{from_image}")
    } else {
        from_image.to_string()
    };
    if !tag.is_empty() && parsed.tag.is_none() && parsed.digest.is_none() {
        name.push(if tag.starts_with("sha256:") { '@' } else { ':' });
        name.push_str(tag);
    }
    peapod_engine::image::normalize(&name).map_err(Error::from)
}

/// Docker's short layer id: the first 12 hex digits of the blob's digest.
fn short(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

/// Pull progress as Docker's JSON messages, sent as they come. The pull calls the sink from
/// its own async runtime, where a tokio channel cannot block: messages go through a plain
/// channel to a thread that forwards them.
struct DockerProgress {
    tx: std::sync::mpsc::Sender<Bytes>,
    sizes: std::sync::Mutex<HashMap<String, u64>>,
}

impl ProgressSink for DockerProgress {
    fn event(&self, e: registry::Event) {
        use registry::Event as E;
        let msg = match e {
            E::BlobStart { digest, size } => {
                if let Some(s) = size
                    && let Ok(mut m) = self.sizes.lock()
                {
                    m.insert(digest.clone(), s);
                }
                json!({"status": "Pulling fs layer", "progressDetail": {}, "id": short(&digest)})
            }
            E::BlobProgress { digest, done } => {
                let total = self.sizes.lock().ok().and_then(|m| m.get(&digest).copied());
                json!({"status": "Downloading", "progressDetail": {"current": done, "total": total}, "id": short(&digest)})
            }
            E::BlobDone { digest } => {
                json!({"status": "Pull complete", "progressDetail": {}, "id": short(&digest)})
            }
            E::BlobSkipped { digest } => {
                json!({"status": "Already exists", "progressDetail": {}, "id": short(&digest)})
            }
            _ => return,
        };
        let _ = self.tx.send(crate::http::json_line(&msg));
    }
}

/// `POST /images/create?fromImage=NAME&tag=TAG`: a pull.
pub async fn create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = query(&req);
    let Some(from) = q.get("fromImage").filter(|f| !f.is_empty()) else {
        return error_message(
            StatusCode::BAD_REQUEST,
            "only pulls (fromImage) are supported: import (fromSrc) is not built",
        );
    };
    let reference = match docker_reference(from, q.get("tag").map(String::as_str).unwrap_or("")) {
        Ok(r) => r,
        Err(e) => return engine_error(&e),
    };
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => Platform::choose(Some(p), None, None, None),
        None => Platform::choose(None, None, None, None),
    };
    let platform = match platform {
        Ok(p) => p,
        Err(e) => return engine_error(&Error::from(e)),
    };
    let opts = PullOptions {
        reference: reference.clone(),
        platform,
        all_tags: false,
        tls: Tls::default(),
        authfile: None,
        creds: None,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<Option<Error>>();
    let repo = reference.clone();
    pool.spawn_stream(move |engine| {
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                let _ = first_tx.send(Some(e));
                return;
            }
        };
        // The stream starts once the name resolved: a missing image is a 404 then.
        let _ = first_tx.send(None);
        let tag = repo.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
        let _ = tx.blocking_send(crate::http::json_line(
            &json!({"status": format!("Pulling from {}", repo_path(&repo)), "id": tag}),
        ));
        let (progress_tx, progress_rx) = std::sync::mpsc::channel::<Bytes>();
        let forward = {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for b in progress_rx {
                    if tx.blocking_send(b).is_err() {
                        break;
                    }
                }
            })
        };
        let sink = DockerProgress {
            tx: progress_tx,
            sizes: Default::default(),
        };
        let pulled = engine.pull_image(&opts, &sink);
        drop(sink);
        let _ = forward.join();
        match pulled {
            Ok(records) => {
                if let Some(r) = records.first() {
                    let _ = tx.blocking_send(crate::http::json_line(
                        &json!({"status": format!("Digest: {}", r.manifest_digest)}),
                    ));
                }
                let _ = tx.blocking_send(crate::http::json_line(
                    &json!({"status": format!("Status: Downloaded newer image for {repo}")}),
                ));
            }
            Err(e) => {
                let m = e.to_string();
                let _ = tx.blocking_send(crate::http::json_line(
                    &json!({"errorDetail": {"message": m}, "error": m}),
                ));
            }
        }
    });
    match first_rx.await {
        Ok(Some(e)) => engine_error(&e),
        _ => ndjson(StatusCode::OK, rx),
    }
}

/// `docker.io/library/busybox:latest` → `library/busybox`, as Docker's first message names it.
fn repo_path(reference: &str) -> String {
    let no_tag = reference
        .rsplit_once('@')
        .map(|(n, _)| n)
        .unwrap_or(reference);
    let no_tag = match no_tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => n,
        _ => no_tag,
    };
    match no_tag.split_once('/') {
        Some((d, rest)) if d.contains('.') || d.contains(':') || d == "localhost" => {
            rest.to_string()
        }
        _ => no_tag.to_string(),
    }
}

/// Docker's word for an action where it differs from Podman's.
fn docker_action(status: &str) -> &str {
    match status {
        "died" => "die",
        "remove" => "destroy",
        other => other,
    }
}

/// One event as Docker's `events.Message`.
fn docker_event(e: &Event) -> Value {
    let action = docker_action(&e.status);
    let kind = e.kind.as_str();
    let mut attrs: BTreeMap<String, String> = e.attributes.clone().unwrap_or_default();
    if !e.name.is_empty() {
        attrs.insert("name".into(), e.name.clone());
    }
    if !e.image.is_empty() {
        attrs.insert("image".into(), e.image.clone());
    }
    if e.exit_code != 0 || action == "die" {
        attrs.insert("exitCode".into(), e.exit_code.to_string());
    }
    if !e.health_status.is_empty() {
        attrs.insert("health_status".into(), e.health_status.clone());
    }
    let id = if e.id.is_empty() {
        e.name.clone()
    } else {
        e.id.clone()
    };
    let nanos = e.time.timestamp_nanos_opt().unwrap_or(0);
    json!({
        "status": action,
        "id": id,
        "from": e.image,
        "Type": kind,
        "Action": action,
        "Actor": {"ID": id, "Attributes": attrs},
        "scope": "local",
        "time": e.time.timestamp(),
        "timeNano": nanos,
    })
}

/// Docker's `filters` (a JSON map of lists) as `key=value` filters for the engine, with
/// Docker's event names turned into Podman's.
fn event_filters(q: &HashMap<String, String>) -> Result<Vec<String>, Error> {
    let Some(raw) = q.get("filters").filter(|f| !f.is_empty()) else {
        return Ok(Vec::new());
    };
    let map: BTreeMap<String, Value> = serde_json::from_str(raw)
        .map_err(|e| Error::invalid(format!("invalid filters {raw:?}: {e}")))?;
    let mut out = Vec::new();
    for (k, v) in map {
        let values: Vec<String> = match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            Value::Object(o) => o.keys().cloned().collect(),
            _ => Vec::new(),
        };
        for val in values {
            let val = match (k.as_str(), val.as_str()) {
                ("event", "die") => "died".to_string(),
                ("event", "destroy") => "remove".to_string(),
                _ => val,
            };
            out.push(format!("{k}={val}"));
        }
    }
    Ok(out)
}

/// `GET /events?since=…&until=…&filters=…`: the log, then new events until `until`.
pub async fn events(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = query(&req);
    let filters = match event_filters(&q) {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    let request = EventsRequest {
        filters,
        since: q.get("since").filter(|s| !s.is_empty()).cloned(),
        until: q.get("until").filter(|s| !s.is_empty()).cloned(),
        stream: true,
        cancel: None,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<Option<Error>>();
    pool.spawn_stream(move |engine| {
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                let _ = first_tx.send(Some(e));
                return;
            }
        };
        let mut first = Some(first_tx);
        let result = engine.events(&request, |e| {
            if let Some(f) = first.take() {
                let _ = f.send(None);
            }
            // A client that went away ends the stream.
            Ok(tx
                .blocking_send(crate::http::json_line(&docker_event(e)))
                .is_ok()
                && !tx.is_closed())
        });
        match (result, first.take()) {
            (Err(e), Some(f)) => {
                let _ = f.send(Some(e));
            }
            (_, Some(f)) => {
                let _ = f.send(None);
            }
            _ => {}
        }
    });
    // Headers go once the log was opened (or the first event came); a bad filter or time
    // is a 400 then.
    match tokio::time::timeout(Duration::from_millis(500), first_rx).await {
        Ok(Ok(Some(e))) => engine_error(&e),
        _ => ndjson(StatusCode::OK, rx),
    }
}

/// Docker's stats object of one sample, `pre` the one before it.
fn docker_stats(s: &ContainerStats, pre: Option<&ContainerStats>, sys: u64, pre_sys: u64) -> Value {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let read = |t: u64| -> String {
        let secs = (t / 1_000_000_000) as i64;
        let nanos = (t % 1_000_000_000) as u32;
        chrono::DateTime::from_timestamp(secs, nanos)
            .map(rfc3339)
            .unwrap_or_default()
    };
    let cpu = |x: Option<&ContainerStats>, sys: u64| {
        json!({
            "cpu_usage": {"total_usage": x.map_or(0, |x| x.cpu_nano), "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "system_cpu_usage": sys,
            "online_cpus": cpus,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        })
    };
    json!({
        "read": read(s.system_nano),
        "preread": pre.map(|p| read(p.system_nano)).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        "pids_stats": {"current": s.pids},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": s.block_input},
            {"major": 0, "minor": 0, "op": "write", "value": s.block_output},
        ]},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(Some(s), sys),
        "precpu_stats": cpu(pre, pre_sys),
        "memory_stats": {"usage": s.mem_usage, "stats": {}, "limit": s.mem_limit},
        "name": format!("/{}", s.name),
        "id": s.id,
        "networks": {"eth0": {
            "rx_bytes": s.net_output, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
            "tx_bytes": s.net_input, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
        }},
    })
}

/// `GET /containers/{id}/stats?stream=…&one-shot=…`: one object (two samples apart for
/// `stream=false`, so the CPU percentage has a base; none for `one-shot`), or one a second.
pub async fn stats(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let stream = q.get("stream").is_none_or(|v| v != "false" && v != "0");
    let one_shot = flag(&q, "one-shot");
    let request = StatsRequest {
        containers: vec![id],
        ..Default::default()
    };
    let first = {
        let request = request.clone();
        pool.run(move |e| {
            let s = e.container_stats(&request, &HashMap::new())?;
            Ok((s, system_cpu_ns()))
        })
        .await
    };
    let (first, first_sys) = match first {
        Ok((mut s, sys)) if !s.is_empty() => (s.remove(0), sys),
        Ok(_) => return engine_error(&Error::NoSuchContainer("".into())),
        Err(e) if e.kind() == ErrorKind::NotFound => return engine_error(&e),
        Err(e) => return engine_error(&e),
    };
    if !stream && one_shot {
        return crate::http::json(StatusCode::OK, &docker_stats(&first, None, first_sys, 0));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    pool.spawn_stream(move |engine| {
        let Ok(engine) = engine else { return };
        let (mut pre, mut pre_sys) = (first, first_sys);
        loop {
            std::thread::sleep(Duration::from_millis(if stream { 1000 } else { 500 }));
            let mut prev = HashMap::new();
            prev.insert(pre.id.clone(), pre.clone());
            let Ok(mut now) = engine.container_stats(&request, &prev) else {
                return;
            };
            let Some(s) = now.pop() else { return };
            let sys = system_cpu_ns();
            if tx
                .blocking_send(crate::http::json_line(&docker_stats(
                    &s,
                    Some(&pre),
                    sys,
                    pre_sys,
                )))
                .is_err()
                || !stream
                || !s.running
            {
                return;
            }
            (pre, pre_sys) = (s, sys);
        }
    });
    ndjson(StatusCode::OK, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_are_docker_hubs() {
        let r = |f: &str, t: &str| docker_reference(f, t).unwrap();
        assert_eq!(r("busybox", "latest"), "docker.io/library/busybox:latest");
        assert_eq!(r("busybox", ""), "docker.io/library/busybox:latest");
        assert_eq!(r("me/app", "1"), "docker.io/me/app:1");
        assert_eq!(r("quay.io/x/y", "2"), "quay.io/x/y:2");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            r("localhost:5000/y", &digest),
            format!("localhost:5000/y@{digest}")
        );
        assert_eq!(r("busybox:1.36", ""), "docker.io/library/busybox:1.36");
        assert!(docker_reference("busybox@sha256:zz", "").is_err());
        assert_eq!(
            repo_path("docker.io/library/busybox:latest"),
            "library/busybox"
        );
        assert_eq!(repo_path("localhost:5000/y:1"), "y");
    }

    #[test]
    fn docker_filters_become_podmans() {
        let mut q = HashMap::new();
        q.insert(
            "filters".to_string(),
            r#"{"event":["die","start"],"type":{"container":true}}"#.to_string(),
        );
        assert_eq!(
            event_filters(&q).unwrap(),
            ["event=died", "event=start", "type=container"]
        );
        q.insert("filters".to_string(), "{bad".to_string());
        assert!(event_filters(&q).is_err());
    }
}
