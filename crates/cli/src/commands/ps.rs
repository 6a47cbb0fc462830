//! `ps`: the engine's listing rendered as Podman renders it (status words, humanised times,
//! truncated ids and commands, tables, templates, JSON).

use std::io::Write;

use chrono::Utc;
use peapod_engine::Engine;
use peapod_engine::container::ps::PsRequest;
use peapod_engine::container::{Container, Status};
use serde::Serialize;

use crate::cli::PsArgs;
use crate::output::print_list;
use crate::{CliResult, human};

/// A row of `ps` as templates see it (Podman's `psReporter`: its methods and the
/// `ListContainer` fields).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct PsRow {
    ID: String,
    Id: String,
    Image: String,
    ImageID: String,
    Command: String,
    CreatedHuman: String,
    CreatedAt: String,
    Created: i64,
    Status: String,
    State: String,
    Ports: String,
    Names: String,
    Labels: std::collections::BTreeMap<String, String>,
    Pid: i32,
    ExitCode: i32,
    Exited: bool,
    ExitedAt: i64,
    StartedAt: i64,
    AutoRemove: bool,
    IsInfra: bool,
    Pod: String,
    PodName: String,
    Networks: Vec<String>,
    Mounts: Vec<String>,
    Restarts: u32,
}

/// A row of `ps --format json` (Podman's `ListContainer`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct PsJson {
    AutoRemove: bool,
    Command: Vec<String>,
    Created: i64,
    CreatedAt: String,
    Exited: bool,
    ExitedAt: i64,
    ExitCode: i32,
    Id: String,
    Image: String,
    ImageID: String,
    IsInfra: bool,
    Labels: std::collections::BTreeMap<String, String>,
    Mounts: Vec<String>,
    Names: Vec<String>,
    Namespaces: std::collections::BTreeMap<String, String>,
    Networks: Vec<String>,
    Pid: i32,
    Pod: String,
    PodName: String,
    Ports: Option<Vec<peapod_engine::network::PortMapping>>,
    Restarts: u32,
    StartedAt: i64,
    State: String,
    Status: String,
}

/// Podman's `psReporter.Status()`: the state in words, then the healthcheck's status.
fn ps_status(c: &Container, health: Option<&str>) -> String {
    let state = ps_state(c);
    match health {
        Some(h) => format!("{state} ({h})"),
        None => state,
    }
}

fn ps_state(c: &Container) -> String {
    match c.state.status {
        Status::Running => format!(
            "Up {} ago",
            human::duration(Utc::now() - c.state.started_at.unwrap_or(c.config.created))
        ),
        Status::Exited | Status::Stopped => {
            format!(
                "Exited ({}) {}",
                c.state.exit_code,
                human::ago(c.state.finished_at.unwrap_or(c.config.created))
            )
        }
        s => {
            let s = s.as_str();
            let mut chars = s.chars();
            chars
                .next()
                .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    }
}

pub fn ps(engine: &Engine, a: PsArgs) -> CliResult {
    let list = engine.ps(&PsRequest {
        all: a.all,
        last: a.last,
        latest: a.latest,
        filters: a.filter.clone(),
        sort: a.sort.clone(),
        external: a.external,
        oldest_first: true,
    })?;
    let short = |id: &str| {
        if a.no_trunc {
            id.to_string()
        } else {
            id[..12].to_string()
        }
    };
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for e in &list {
            writeln!(out, "{}", short(e.container.id()))?;
        }
        return Ok(0);
    }
    let short_pod = |id: &str| {
        if a.no_trunc || id.len() < 12 {
            id.to_string()
        } else {
            id[..12].to_string()
        }
    };
    let rows: Vec<PsRow> = list
        .iter()
        .map(|e| {
            let c = &e.container;
            // An external container: libpod's `ListStorageContainer` facts.
            let (cmd, image, status, state) = match &e.external {
                Some(x) => (
                    "buildah".to_string(),
                    x.image.clone(),
                    "Storage".to_string(),
                    "storage".to_string(),
                ),
                None => (
                    c.config.args.join(" "),
                    c.config.image_name.clone(),
                    ps_status(c, e.health.as_deref()),
                    c.state.status.to_string(),
                ),
            };
            PsRow {
                ID: short(c.id()),
                Id: c.id().to_string(),
                Image: image,
                ImageID: c.config.image_id.clone(),
                Command: if !a.no_trunc && cmd.len() > 17 {
                    format!("{}...", truncate_chars(&cmd, 17))
                } else {
                    cmd
                },
                CreatedHuman: human::ago(c.config.created),
                CreatedAt: peapod_engine::container::inspect::go_time_string(c.config.created),
                Created: c.config.created.timestamp(),
                Status: status,
                State: state,
                Ports: peapod_engine::network::ports::ps_ports(&e.ports),
                Names: c.name().to_string(),
                Labels: c.config.labels.clone(),
                Pid: c.state.pid,
                ExitCode: c.state.exit_code,
                Exited: matches!(c.state.status, Status::Exited | Status::Stopped),
                ExitedAt: c.state.finished_at.map(|t| t.timestamp()).unwrap_or(0),
                StartedAt: c.state.started_at.map(|t| t.timestamp()).unwrap_or(0),
                AutoRemove: c.config.auto_remove,
                IsInfra: c.config.is_infra,
                Pod: short_pod(&c.config.pod),
                PodName: e.pod_name.clone(),
                Networks: c.config.networks.keys().cloned().collect(),
                Mounts: Vec::new(),
                Restarts: c.state.restart_count,
            }
        })
        .collect();
    let json: Vec<PsJson> = list
        .iter()
        .zip(&rows)
        .map(|(e, r)| (e, &e.container, &e.ports, r))
        .map(|(e, c, ports, r)| PsJson {
            AutoRemove: c.config.auto_remove,
            Command: if e.external.is_some() {
                vec!["buildah".to_string()]
            } else {
                c.config.args.clone()
            },
            Created: r.Created,
            CreatedAt: r.CreatedHuman.clone(),
            Exited: r.Exited,
            ExitedAt: r.ExitedAt,
            ExitCode: r.ExitCode,
            Id: c.id().to_string(),
            Image: r.Image.clone(),
            ImageID: r.ImageID.clone(),
            IsInfra: c.config.is_infra,
            Labels: c.config.labels.clone(),
            Mounts: Vec::new(),
            Names: vec![c.name().to_string()],
            Namespaces: Default::default(),
            Networks: c.config.networks.keys().cloned().collect(),
            Pid: c.state.pid,
            Pod: c.config.pod.clone(),
            PodName: r.PodName.clone(),
            Ports: (!ports.is_empty()).then(|| ports.clone()),
            Restarts: c.state.restart_count,
            StartedAt: r.StartedAt,
            State: r.State.clone(),
            // Podman's `ListContainer.Status` is the healthcheck's status alone.
            Status: e.health.clone().unwrap_or_default(),
        })
        .collect();
    let default = if a.pod {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Pod}}\t{{.PodName}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let format = a.format.as_deref().unwrap_or(default);
    print_list(
        "ps",
        format,
        &json,
        &rows,
        &[
            ("ID", "CONTAINER ID"),
            ("CreatedHuman", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("Pod", "POD ID"),
            ("PodName", "PODNAME"),
        ],
        a.noheading,
    )?;
    Ok(0)
}

fn truncate_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
