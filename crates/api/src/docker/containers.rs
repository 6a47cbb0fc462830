//! Containers: list, inspect, start, stop/restart, kill, wait, delete — the engine's calls,
//! its reports rendered as Docker's `ContainerSummary` and `ContainerJSON`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::container::ps::PsRequest;
use peapod_engine::container::{Container, RemoveOptions, Status};
use peapod_engine::{Engine, Error};
use serde_json::{Value, json};

use crate::http::{Resp, empty, engine_error, filters, flag, json, query};
use crate::pool::EnginePool;

/// Docker's state word for an engine status.
pub fn docker_state(s: Status) -> &'static str {
    match s {
        Status::Created | Status::Initialized => "created",
        Status::Running | Status::Stopping => "running",
        Status::Paused => "paused",
        Status::Stopped | Status::Exited => "exited",
        Status::Removing => "removing",
    }
}

/// go-units' `HumanDuration`, as Docker's `Status` column words it.
pub fn human_duration(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    let h = d.num_hours();
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if d.num_minutes() == 1 => "About a minute".into(),
        _ if d.num_minutes() < 60 => format!("{} minutes", d.num_minutes()),
        _ if h.abs() == 1 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    }
}

/// Docker's `Status` column: `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`.
fn status_text(c: &Container) -> String {
    let now = Utc::now();
    match c.state.status {
        Status::Running | Status::Stopping => c
            .state
            .started_at
            .map_or("Up".into(), |t| format!("Up {}", human_duration(now - t))),
        Status::Paused => c.state.started_at.map_or("Up (Paused)".into(), |t| {
            format!("Up {} (Paused)", human_duration(now - t))
        }),
        Status::Stopped | Status::Exited => {
            let ago = c
                .state
                .finished_at
                .map(|t| format!(" {} ago", human_duration(now - t)))
                .unwrap_or_default();
            format!("Exited ({}){ago}", c.state.exit_code)
        }
        Status::Created | Status::Initialized => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
    }
}

fn summary(c: &Container, ports: &[peapod_engine::network::PortMapping]) -> Value {
    let mut port_list = Vec::new();
    for p in ports {
        for i in 0..p.range.max(1) {
            for proto in p.protocol.split(',') {
                port_list.push(json!({
                    "IP": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip },
                    "PrivatePort": p.container_port + i,
                    "PublicPort": p.host_port + i,
                    "Type": if proto.is_empty() { "tcp" } else { proto },
                }));
            }
        }
    }
    let networks: serde_json::Map<String, Value> = c
        .config
        .networks
        .keys()
        .map(|n| (n.clone(), json!({ "NetworkID": "" })))
        .collect();
    json!({
        "Id": c.id(),
        "Names": [format!("/{}", c.name())],
        "Image": c.config.image_name,
        "ImageID": sha256(&c.config.image_id),
        "Command": c.config.args.join(" "),
        "Created": c.config.created.timestamp(),
        "Ports": port_list,
        "Labels": c.config.labels,
        "State": docker_state(c.state.status),
        "Status": status_text(c),
        "HostConfig": { "NetworkMode": c.config.network_mode },
        "NetworkSettings": { "Networks": networks },
        "Mounts": [],
    })
}

/// Docker's ids carry their algorithm (`sha256:…`); the engine's image ids are bare hex.
pub fn sha256(id: &str) -> String {
    if id.is_empty() || id.contains(':') {
        id.to_string()
    } else {
        format!("sha256:{id}")
    }
}

/// GET `/containers/json?all=&limit=&filters=`.
pub async fn list(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = query(&req);
    let request = match filters(&q) {
        Ok(f) => PsRequest {
            all: flag(&q, "all"),
            last: q
                .get("limit")
                .and_then(|l| l.parse::<i64>().ok())
                .filter(|l| *l > 0)
                .map(|l| l as usize),
            filters: f,
            ..Default::default()
        },
        Err(e) => return engine_error(&e),
    };
    match pool.run(move |e| e.ps(&request)).await {
        Ok(entries) => {
            let list: Vec<Value> = entries
                .iter()
                .map(|en| summary(&en.container, &en.ports))
                .collect();
            json(StatusCode::OK, &list)
        }
        Err(e) => engine_error(&e),
    }
}

/// The engine's inspect report, reshaped where Docker's types differ from Podman's.
fn docker_inspect(e: &Engine, reference: &str) -> Result<Value, Error> {
    let c = e.container(reference)?;
    let report = e.inspect_container(&c);
    let mut v = serde_json::to_value(&report).map_err(|e| Error::other(e.to_string()))?;
    v["Name"] = json!(format!("/{}", c.name()));
    v["Image"] = json!(sha256(&c.config.image_id));
    v["State"]["Status"] = json!(docker_state(c.state.status));
    // Docker's Entrypoint is a list (Podman 4 prints one string).
    v["Config"]["Entrypoint"] = if c.config.entrypoint.is_empty() {
        Value::Null
    } else {
        json!(c.config.entrypoint)
    };
    v["Config"]["Image"] = json!(c.config.image_name);
    // peapod's k8s-file log is Docker's json-file in kind (a file the daemon reads back):
    // clients read logs only from drivers they know (docker-py's `run` checks the name).
    if c.config.log_driver == "k8s-file" {
        v["HostConfig"]["LogConfig"]["Type"] = json!("json-file");
    }
    docker_fields_only(&mut v);
    Ok(v)
}

/// Docker's `ContainerInspectResponse` has none of libpod's additions (`Pod`, `ConmonPidFile`,
/// `State.ConmonPid`, …): they are left out, as Podman's compat API leaves them out.
/// tests/e2e/api_docker_schema.rs holds the answer to Docker's generated models.
fn docker_fields_only(v: &mut Value) {
    const TOP: &[&str] = &[
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "ResolvConfPath",
        "HostnamePath",
        "HostsPath",
        "LogPath",
        "Name",
        "RestartCount",
        "Driver",
        "Platform",
        "MountLabel",
        "ProcessLabel",
        "AppArmorProfile",
        "ExecIDs",
        "HostConfig",
        "GraphDriver",
        "SizeRw",
        "SizeRootFs",
        "Mounts",
        "Config",
        "NetworkSettings",
    ];
    const CONFIG: &[&str] = &[
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "ExposedPorts",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Healthcheck",
        "ArgsEscaped",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "NetworkDisabled",
        "MacAddress",
        "OnBuild",
        "Labels",
        "StopSignal",
        "StopTimeout",
        "Shell",
    ];
    const STATE: &[&str] = &[
        "Status",
        "Running",
        "Paused",
        "Restarting",
        "OOMKilled",
        "Dead",
        "Pid",
        "ExitCode",
        "Error",
        "StartedAt",
        "FinishedAt",
        "Health",
    ];
    const MOUNT: &[&str] = &[
        "Type",
        "Name",
        "Source",
        "Destination",
        "Driver",
        "Mode",
        "RW",
        "Propagation",
    ];
    let keep = super::objects::retain_keys;
    keep(v, TOP);
    keep(&mut v["Config"], CONFIG);
    keep(&mut v["State"], STATE);
    keep(&mut v["HostConfig"]["LogConfig"], &["Type", "Config"]);
    if let Some(h) = v["HostConfig"].as_object_mut() {
        for libpod in ["CgroupManager", "CgroupMode", "Cgroups"] {
            h.remove(libpod);
        }
    }
    if let Some(mounts) = v["Mounts"].as_array_mut() {
        for m in mounts {
            keep(m, MOUNT);
        }
    }
}

pub async fn inspect(id: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| docker_inspect(e, &id)).await {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => engine_error(&e),
    }
}

/// POST `/containers/{id}/start`: 204, or 304 when it already runs.
pub async fn start(id: String, pool: EnginePool) -> Resp {
    start_with(id, pool, engine_error).await
}

/// `start` with the errors rendered by `render` (Docker's body or libpod's).
pub(crate) async fn start_with(id: String, pool: EnginePool, render: fn(&Error) -> Resp) -> Resp {
    let r = pool
        .run(move |e| {
            let c = e.container(&id)?;
            if c.state.status == Status::Running {
                return Ok(false);
            }
            e.start(&id, false)?;
            Ok(true)
        })
        .await;
    match r {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => empty(StatusCode::NOT_MODIFIED),
        Err(e) => render(&e),
    }
}

/// A stop timeout from the first of `keys` the query has (`t` for Docker; libpod also
/// takes `timeout`).
pub(crate) fn stop_timeout(
    q: &HashMap<String, String>,
    keys: &[&str],
) -> Result<Option<u32>, Error> {
    match keys
        .iter()
        .find_map(|k| q.get(*k))
        .filter(|t| !t.is_empty())
    {
        None => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .map(|t| Some(t.max(0) as u32))
            .map_err(|_| Error::invalid(format!("invalid stop timeout {t:?}: not a number"))),
    }
}

/// POST `/containers/{id}/stop?t=` (304 when not running) and `/restart?t=`.
pub async fn stop(req: Request<Incoming>, id: String, pool: EnginePool, restart: bool) -> Resp {
    let t = match stop_timeout(&query(&req), &["t"]) {
        Ok(t) => t,
        Err(e) => return engine_error(&e),
    };
    let r = pool
        .run(move |e| {
            if restart {
                e.restart(&id, t)?;
                return Ok(true);
            }
            stop_if_running(e, &id, t)
        })
        .await;
    match r {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => empty(StatusCode::NOT_MODIFIED),
        Err(e) => engine_error(&e),
    }
}

/// Stops the container unless it is not running (false then: a 304 for both APIs).
pub(crate) fn stop_if_running(e: &Engine, id: &str, t: Option<u32>) -> Result<bool, Error> {
    let c = e.container(id)?;
    if !matches!(c.state.status, Status::Running | Status::Paused) {
        return Ok(false);
    }
    e.stop(id, t)?;
    Ok(true)
}

/// `?signal=` of a kill: a name or number, SIGKILL when absent.
pub(crate) fn kill_signal(q: &HashMap<String, String>) -> Result<i32, Error> {
    match q.get("signal").filter(|s| !s.is_empty()) {
        None => Ok(libc::SIGKILL),
        Some(s) => peapod_engine::signal::parse(s),
    }
}

/// POST `/containers/{id}/kill?signal=`: 409 when it is not running (Docker's answer).
pub async fn kill(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let signal = match kill_signal(&query(&req)) {
        Ok(s) => s,
        Err(e) => return engine_error(&e),
    };
    let r = pool
        .run(move |e| {
            let c = e.container(&id)?;
            if !matches!(c.state.status, Status::Running | Status::Paused) {
                return Err(Error::BadState {
                    id: c.id().to_string(),
                    state: c.state.status.to_string(),
                    what: format!("Container {} is not running", c.id()),
                });
            }
            e.kill(&id, signal).map(|_| ())
        })
        .await;
    match r {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => engine_error(&e),
    }
}

/// POST `/containers/{id}/wait?condition=not-running|next-exit|removed`.
pub async fn wait(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let condition = q
        .get("condition")
        .cloned()
        .unwrap_or_else(|| "not-running".into());
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return engine_error(&Error::invalid(format!(
            "invalid condition {condition:?}: must be not-running, next-exit or removed"
        )));
    }
    // A missing container is a 404 before anything is sent; then, as Docker, the headers
    // go out at once (clients wait for them before they start the container) and the
    // body when the condition is met.
    let full = match pool
        .run(move |e| Ok(e.container(&id)?.id().to_string()))
        .await
    {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    pool.spawn_stream(move |engine| {
        let result = engine.and_then(|e| wait_for(&e, &full, &condition));
        let body = match result {
            Ok(code) => json!({ "StatusCode": code, "Error": null }),
            Err(err) => json!({ "StatusCode": -1, "Error": { "Message": err.to_string() } }),
        };
        let mut bytes = body.to_string().into_bytes();
        bytes.push(b'\n');
        let _ = tx.blocking_send(bytes::Bytes::from(bytes));
    });
    hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(crate::http::Body::Stream(rx))
        .expect("a valid response")
}

/// Blocks until `condition` holds for container `full`; its exit code.
fn wait_for(e: &Engine, full: &str, condition: &str) -> Result<i32, Error> {
    if condition == "next-exit" || condition == "removed" {
        // A client may wait before it starts the container: until it has started.
        while e
            .container(full)
            .is_ok_and(|c| matches!(c.state.status, Status::Created | Status::Initialized))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let code = e.wait(full)?;
    if condition == "removed" {
        while e.container_exists(full)? {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(code)
}

/// DELETE `/containers/{id}?force=&v=`.
pub async fn remove(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let force = flag(&q, "force");
    // Docker's `rm -f` kills at once (SIGKILL), as its daemon does; no stop timeout.
    let opts = RemoveOptions {
        force,
        volumes: flag(&q, "v"),
        timeout: force.then_some(0),
    };
    match pool.run(move |e| e.remove(&id, &opts)).await {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => engine_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_durations_as_docker() {
        let s = chrono::Duration::seconds;
        assert_eq!(human_duration(s(0)), "Less than a second");
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(42)), "42 seconds");
        assert_eq!(human_duration(s(61)), "About a minute");
        assert_eq!(human_duration(s(600)), "10 minutes");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(5 * 3600)), "5 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
    }

    #[test]
    fn prefixes_image_ids() {
        assert_eq!(sha256("ab"), "sha256:ab");
        assert_eq!(sha256("sha256:ab"), "sha256:ab");
        assert_eq!(sha256(""), "");
    }
}
