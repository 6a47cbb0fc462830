//! Libpod containers: list (Podman's `ListContainer`), inspect (the engine's report as it
//! is), exists, start, stop, kill, wait with conditions, logs and delete.

use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::container::ps::{PsEntry, PsRequest};
use peapod_engine::container::{RemoveOptions, Status};
use peapod_engine::{Engine, Error};
use serde_json::{Value, json};

use super::error;
use crate::http::{Resp, bytes, empty, filters, flag, json, query};
use crate::pool::EnginePool;

/// Go's zero time as Podman's JSON carries it for "never" (`ExitedAt`, `StartedAt`).
const GO_ZERO_UNIX: i64 = -62135596800;

/// One row of `GET /libpod/containers/json`, as podman-remote decodes it (`Created` is a
/// time, the other times are Unix seconds).
fn list_container(e: &PsEntry) -> Value {
    let c = &e.container;
    let unix = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(GO_ZERO_UNIX, |t| t.timestamp());
    json!({
        "AutoRemove": c.config.auto_remove,
        "Command": c.config.args,
        "Created": crate::docker::rfc3339(c.config.created),
        "CreatedAt": "",
        "Exited": matches!(c.state.status, Status::Exited | Status::Stopped),
        "ExitedAt": unix(c.state.finished_at),
        "ExitCode": c.state.exit_code,
        "Id": c.id(),
        "Image": c.config.image_name,
        "ImageID": c.config.image_id,
        "IsInfra": c.config.is_infra,
        "Labels": c.config.labels,
        "Mounts": [],
        "Names": [c.name()],
        "Namespaces": {},
        "Networks": c.config.networks.keys().collect::<Vec<_>>(),
        "Pid": c.state.pid,
        "Pod": c.config.pod,
        "PodName": e.pod_name,
        "Ports": (!e.ports.is_empty()).then_some(&e.ports),
        "Restarts": c.state.restart_count,
        "Size": null,
        "StartedAt": unix(c.state.started_at),
        "State": c.state.status.to_string(),
        "Status": e.health.clone().unwrap_or_default(),
    })
}

/// GET `/libpod/containers/json?all=&last=&filters=`.
pub async fn list(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = query(&req);
    let f = match filters(&q) {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    let request = PsRequest {
        all: flag(&q, "all"),
        last: q
            .get("last")
            .and_then(|l| l.parse::<i64>().ok())
            .filter(|l| *l > 0)
            .map(|l| l as usize),
        filters: f,
        ..Default::default()
    };
    match pool.run(move |e| e.ps(&request)).await {
        Ok(entries) => json(
            StatusCode::OK,
            &entries.iter().map(list_container).collect::<Vec<_>>(),
        ),
        Err(e) => error(&e),
    }
}

/// GET `/libpod/containers/{name}/json`: the engine's inspect report (Podman's shape),
/// with the stop signal as the number podman 4.3's client decodes.
pub async fn inspect(id: String, pool: EnginePool) -> Resp {
    let r = pool
        .run(move |e| {
            let c = e.container(&id)?;
            let mut v = serde_json::to_value(e.inspect_container(&c))
                .map_err(|e| Error::other(e.to_string()))?;
            v["Config"]["StopSignal"] = json!(c.config.stop_signal);
            Ok(v)
        })
        .await;
    match r {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(&e),
    }
}

/// GET `/libpod/containers/{name}/exists`: 204 or 404.
pub async fn exists(id: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| e.container(&id)).await {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => error(&e),
    }
}

/// POST `/libpod/containers/{name}/start`: 204, 304 when it already runs.
pub async fn start(id: String, pool: EnginePool) -> Resp {
    crate::docker::containers::start_with(id, pool, error).await
}

/// POST `/libpod/containers/{name}/stop?timeout=&ignore=`: 204, 304 when not running.
pub async fn stop(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let t = match crate::docker::containers::stop_timeout(&q, &["timeout", "t"]) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let ignore = flag(&q, "ignore");
    let r = pool
        .run(
            move |e| match crate::docker::containers::stop_if_running(e, &id, t) {
                Err(Error::NoSuchContainer(_)) if ignore => Ok(true),
                r => r,
            },
        )
        .await;
    match r {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => empty(StatusCode::NOT_MODIFIED),
        Err(e) => error(&e),
    }
}

/// POST `/libpod/containers/{name}/kill?signal=`: 204.
pub async fn kill(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let signal = match crate::docker::containers::kill_signal(&query(&req)) {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.kill(&id, signal).map(|_| ())).await {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => error(&e),
    }
}

/// The states a libpod wait `condition` names.
fn condition_states(condition: &str) -> Result<&'static [Status], Error> {
    Ok(match condition {
        "" | "stopped" | "exited" => &[Status::Exited, Status::Stopped],
        "running" => &[Status::Running],
        "paused" => &[Status::Paused],
        "created" | "configured" => &[Status::Created],
        "initialized" => &[Status::Initialized],
        c => {
            return Err(Error::invalid(format!(
                "invalid wait condition {c:?}: must be configured, created, exited, initialized, paused, running or stopped"
            )));
        }
    })
}

/// Blocks until the container is in one of `states`; its exit code then.
fn wait_for(e: &Engine, full: &str, states: &[Status]) -> Result<i32, Error> {
    if states.contains(&Status::Exited) {
        return e.wait(full);
    }
    loop {
        let c = e.container(full)?;
        if states.contains(&c.state.status) {
            return Ok(c.state.exit_code);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// POST `/libpod/containers/{name}/wait?condition=`: the exit code as a bare JSON number,
/// once the condition holds.
pub async fn wait(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let states = match condition_states(q.get("condition").map_or("", String::as_str)) {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    let full = match pool
        .run(move |e| Ok(e.container(&id)?.id().to_string()))
        .await
    {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| wait_for(e, &full, states)).await {
        Ok(code) => bytes(StatusCode::OK, "application/json", format!("{code}\n")),
        Err(e) => error(&e),
    }
}

/// DELETE `/libpod/containers/{name}?force=&volumes=&ignore=&timeout=`: Podman's list of
/// removal reports.
pub async fn remove(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let t = match crate::docker::containers::stop_timeout(&q, &["timeout", "t"]) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let opts = RemoveOptions {
        force: flag(&q, "force"),
        volumes: flag(&q, "volumes") || flag(&q, "v"),
        timeout: t,
    };
    let ignore = flag(&q, "ignore");
    let raw = id.clone();
    match pool.run(move |e| e.remove(&id, &opts)).await {
        Ok(full) => json(StatusCode::OK, &json!([{ "Id": full, "RawInput": raw }])),
        Err(Error::NoSuchContainer(_)) if ignore => json(StatusCode::OK, &json!([])),
        Err(e) => error(&e),
    }
}

/// GET `/libpod/containers/{name}/logs`: Docker's framed stream; podman sends Go's zero
/// time for "no since/until", which means none.
pub async fn logs(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let mut q = query(&req);
    for key in ["since", "until"] {
        if q.get(key).is_some_and(|v| v.starts_with("0001-01-01")) {
            q.remove(key);
        }
    }
    if q.get("tail").is_some_and(|t| t.starts_with('-')) {
        q.remove("tail");
    }
    crate::docker::logs_with(q, id, pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_conditions_name_states() {
        assert_eq!(
            condition_states("").unwrap(),
            [Status::Exited, Status::Stopped]
        );
        assert_eq!(condition_states("running").unwrap(), [Status::Running]);
        let e = condition_states("sleeping").unwrap_err().to_string();
        assert!(e.contains("sleeping"), "{e}");
    }

    #[test]
    fn go_zero_time_is_podmans() {
        assert_eq!(go_time_string_zero(), "0001-01-01T00:00:00Z");
    }

    fn go_time_string_zero() -> String {
        let t = chrono::DateTime::from_timestamp(GO_ZERO_UNIX, 0).unwrap();
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}
