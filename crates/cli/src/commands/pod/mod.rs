//! `pod create|start|stop|restart|kill|pause|unpause|rm|prune|exists|ps|inspect|top|logs|stats`,
//! with Podman's flags, output and exit codes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use peapod_engine::container::Container;
use peapod_engine::parallel::Target;
use peapod_engine::pod::report::PodListEntry;
use peapod_engine::pod::{Pod, PodCreateOptions, PodStatsEntry};
use peapod_engine::{Engine, Error};
use serde::Serialize;

use crate::output::{print_each, print_list, print_objects};
use crate::{CliError, CliResult, human};

mod args;

pub use args::*;

pub fn run(engine: &Engine, cmd: PodCommand, argv: &[String]) -> CliResult {
    match cmd {
        PodCommand::Create(a) => create(engine, a, argv),
        PodCommand::Start(a) => {
            let t = targets(engine, &a.pods, &a.pod_id_file, a.all, false)?;
            each(engine, &t, false, |e, p| e.start_pod(p))
        }
        PodCommand::Stop(a) => {
            let t = targets(engine, &a.pods, &a.pod_id_file, a.all, a.ignore)?;
            each(engine, &t, a.ignore, |e, p| e.stop_pod(p, a.time))
        }
        PodCommand::Restart(a) => {
            let t = targets(engine, &a.pods, &a.pod_id_file, a.all, a.ignore)?;
            each(engine, &t, a.ignore, |e, p| e.restart_pod(p, a.time))
        }
        PodCommand::Kill(a) => {
            let sig = peapod_engine::signal::parse(&a.signal)?;
            let t = targets(engine, &a.pods, &[], a.all, false)?;
            each(engine, &t, false, |e, p| e.kill_pod(p, sig))
        }
        PodCommand::Pause(a) => {
            let t = targets(engine, &a.pods, &a.pod_id_file, a.all, false)?;
            each(engine, &t, false, |e, p| e.pause_pod(p))
        }
        PodCommand::Unpause(a) => {
            let t = targets(engine, &a.pods, &a.pod_id_file, a.all, false)?;
            each(engine, &t, false, |e, p| e.unpause_pod(p))
        }
        PodCommand::Rm(a) => rm(engine, a),
        PodCommand::Prune(a) => {
            let _ = a.force;
            for id in engine.prune_pods()? {
                println!("{id}");
            }
            Ok(0)
        }
        PodCommand::Exists(a) => match engine.pod(&a.pod) {
            Ok(_) => Ok(0),
            Err(Error::NoSuchPod(_)) => Ok(1),
            Err(e) => Err(e.into()),
        },
        PodCommand::Ps(a) => ps(engine, a),
        PodCommand::Inspect(a) => inspect(engine, a),
        PodCommand::Top(a) => top(engine, a),
        PodCommand::Logs(a) => logs(engine, a),
        PodCommand::Stats(a) => stats(engine, a),
    }
}

fn create(engine: &Engine, a: CreateArgs, argv: &[String]) -> CliResult {
    if a.name.is_some() && a.pod_name.is_some() {
        return Err(CliError::engine(
            "cannot specify --name and give a pod name as an argument",
        ));
    }
    // An --infra-image from a registry is pulled first (lines on stderr).
    let infra_image = match &a.infra_image {
        Some(image) => {
            let policy = peapod_engine::registry::PullPolicy::parse(&a.pull)?;
            let template = a.pull_flags.options(image)?;
            let sink = super::registry::sink(false);
            Some(engine.ensure_image(image, policy, &template, sink.as_ref())?)
        }
        None => None,
    };
    let pod = engine.create_pod(&PodCreateOptions {
        name: a.name.or(a.pod_name),
        hostname: a.hostname,
        labels: a.label,
        label_files: a.label_file,
        share: a.share,
        infra: a.infra,
        infra_image,
        infra_command: a.infra_command,
        infra_name: a.infra_name,
        infra_conmon_pidfile: a.infra_conmon_pidfile,
        cgroup_parent: a.cgroup_parent,
        network: a.net.spec(false)?,
        volumes: a
            .volume
            .iter()
            .map(|v| peapod_engine::volume::spec::parse_volume_flag(v))
            .collect::<Result<_, _>>()?,
        create_command: argv.to_vec(),
        exit_policy: Some(a.exit_policy),
        replace: a.replace,
    })?;
    if let Some(f) = &a.pod_id_file
        && let Err(e) = write_id_file(f, pod.id())
    {
        // Nothing stays half-made: the pod and its infra container go again.
        let _ = engine.remove_pod(pod.id(), true, Some(0));
        return Err(e);
    }
    println!("{}", pod.id());
    Ok(0)
}

/// Podman refuses to overwrite an id file.
pub fn write_id_file(path: &std::path::Path, id: &str) -> CliResult<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| CliError::engine(format!("opening pod-id-file {}: {e}", path.display())))?;
    f.write_all(id.as_bytes())
        .map_err(|e| CliError::engine(format!("writing pod-id-file {}: {e}", path.display())))?;
    Ok(())
}

/// The pods a command acts on, looked up before any is touched (Podman: one missing name
/// fails the command; `ignore_missing` skips it). With `--all`, every pod, shown by id.
fn targets(
    engine: &Engine,
    given: &[String],
    id_files: &[PathBuf],
    all: bool,
    ignore_missing: bool,
) -> CliResult<Vec<Target>> {
    if all {
        return Ok(engine
            .pods()?
            .iter()
            .map(|p| Target {
                given: p.id().to_string(),
                id: p.id().to_string(),
            })
            .collect());
    }
    let mut out = given.to_vec();
    out.extend(crate::commands::read_id_files(
        id_files,
        "pod ID file",
        ignore_missing,
    )?);
    if out.is_empty() {
        // Only id files, each missing and ignored (a unit's stop after a failed start).
        if !id_files.is_empty() {
            return Ok(Vec::new());
        }
        return Err(CliError::engine("you must provide at least one name or id"));
    }
    Ok(engine.resolve_pods(&out, ignore_missing)?)
}

/// `f` on every pod at once (the engine's worker pool); each pod's id or error printed in
/// argument order; the last error's code.
fn each(
    engine: &Engine,
    targets: &[Target],
    ignore_missing: bool,
    f: impl Fn(&Engine, &str) -> Result<Pod, Error> + Sync,
) -> CliResult {
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let results = engine.on_many(&ids, f);
    print_each(
        targets,
        results,
        |t, _| Some(t.id.clone()),
        |e| match e {
            Error::NoSuchPod(_) if ignore_missing => 0,
            e => crate::exit_code(e),
        },
    )
}

fn rm(engine: &Engine, a: RmArgs) -> CliResult {
    let mut given = a.pods.clone();
    given.extend(crate::commands::read_id_files(
        &a.pod_id_file,
        "pod ID file",
        a.ignore,
    )?);
    let t = if a.all {
        targets(engine, &[], &[], true, false)?
    } else if given.is_empty() && !a.pod_id_file.is_empty() {
        Vec::new()
    } else if given.is_empty() {
        return Err(CliError::engine("you must provide at least one name or id"));
    } else {
        // Podman 4.3 exits 1 when a named pod does not exist, and removes none; with
        // --force (or --ignore) a missing pod is no error.
        match engine.resolve_pods(&given, a.ignore || a.force) {
            Ok(t) => t,
            Err(e @ Error::NoSuchPod(_)) => return Err(CliError::Coded(e.to_string(), 1)),
            Err(e) => return Err(e.into()),
        }
    };
    let ids: Vec<String> = t.iter().map(|t| t.id.clone()).collect();
    let results = engine.on_many(&ids, |e, p| e.remove_pod(p, a.force, a.time));
    print_each(
        &t,
        results,
        |_, id| Some(id.clone()),
        |e| match e {
            Error::NoSuchPod(_) if a.ignore || a.force => 0,
            Error::NoSuchPod(_) => 1,
            Error::BadState { .. } => 2,
            e => crate::exit_code(e),
        },
    )
}

/// A container of a pod in `pod ps --format json`.
#[derive(Serialize, Clone)]
#[allow(non_snake_case)]
struct PsContainer {
    Id: String,
    Names: String,
    Status: String,
    RestartCount: u32,
}

/// A row of `pod ps --format json` (Podman's `ListPodsReport`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct PsJson {
    Cgroup: String,
    Containers: Vec<PsContainer>,
    Created: String,
    Id: String,
    InfraId: String,
    Name: String,
    Namespace: String,
    Networks: Vec<String>,
    Status: String,
    Labels: BTreeMap<String, String>,
}

/// A row of `pod ps` as templates see it: the report's fields and the methods of Podman's
/// `ListPodReporter` (`ID`/`Id` and `InfraID`/`InfraId` truncated unless `--no-trunc`,
/// `Created` humanised, `Networks` joined).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct PsRow {
    Cgroup: String,
    Containers: Vec<PsContainer>,
    Created: String,
    CreatedAt: String,
    ID: String,
    Id: String,
    InfraID: String,
    InfraId: String,
    Name: String,
    Namespace: String,
    Networks: String,
    Status: String,
    Labels: BTreeMap<String, String>,
    NumberOfContainers: usize,
    ContainerIds: String,
    ContainerNames: String,
    ContainerStatuses: String,
    #[serde(skip)]
    created_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip)]
    json: PsJson,
}

fn pod_row(e: PodListEntry, no_trunc: bool) -> PsRow {
    let short = |id: &str| {
        if no_trunc || id.len() < 12 {
            id.to_string()
        } else {
            id[..12].to_string()
        }
    };
    let ctrs = &e.containers;
    let joined = |f: &dyn Fn(&Container) -> String| -> String {
        ctrs.iter().map(f).collect::<Vec<_>>().join(",")
    };
    let containers: Vec<PsContainer> = ctrs
        .iter()
        .map(|c| PsContainer {
            Id: c.id().to_string(),
            Names: c.name().to_string(),
            Status: c.state.status.to_string(),
            RestartCount: c.state.restart_count,
        })
        .collect();
    let pod = &e.pod;
    PsRow {
        Cgroup: pod.config.cgroup_parent.clone(),
        ContainerIds: joined(&|c| short(c.id())),
        ContainerNames: joined(&|c| c.name().to_string()),
        ContainerStatuses: joined(&|c| c.state.status.to_string()),
        Containers: containers.clone(),
        Created: human::ago(pod.config.created),
        CreatedAt: pod.config.created.to_rfc3339(),
        ID: short(pod.id()),
        Id: short(pod.id()),
        InfraID: short(&pod.config.infra_id),
        InfraId: short(&pod.config.infra_id),
        Name: pod.name().to_string(),
        Namespace: String::new(),
        Networks: e.networks.join(","),
        Status: e.status.to_string(),
        Labels: pod.config.labels.clone(),
        NumberOfContainers: ctrs.len(),
        created_at: pod.config.created,
        json: PsJson {
            Cgroup: pod.config.cgroup_parent.clone(),
            Containers: containers,
            Created: pod
                .config
                .created
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Id: pod.id().to_string(),
            InfraId: pod.config.infra_id.clone(),
            Name: pod.name().to_string(),
            Namespace: String::new(),
            Networks: e.networks.clone(),
            Status: e.status.to_string(),
            Labels: pod.config.labels.clone(),
        },
    }
}

fn ps(engine: &Engine, a: PsArgs) -> CliResult {
    let mut rows: Vec<PsRow> = engine
        .pod_list(&a.filter)?
        .into_iter()
        .map(|e| pod_row(e, a.no_trunc))
        .collect();
    match a.sort.as_str() {
        "created" => rows.sort_by_key(|r| std::cmp::Reverse(r.created_at)),
        "id" => rows.sort_by(|x, y| x.Id.cmp(&y.Id)),
        "name" => rows.sort_by(|x, y| x.Name.cmp(&y.Name)),
        "number" => rows.sort_by_key(|r| r.NumberOfContainers),
        "status" => rows.sort_by(|x, y| x.Status.cmp(&y.Status)),
        other => {
            return Err(CliError::engine(format!(
                "invalid option for --sort, options are: id, names, status, created, or number: {other}"
            )));
        }
    }
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for r in &rows {
            writeln!(out, "{}", r.Id)?;
        }
        return Ok(0);
    }
    let mut default =
        String::from("table {{.Id}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraId}}");
    if a.ctr_ids {
        default.push_str("\t{{.ContainerIds}}");
    }
    if a.ctr_names {
        default.push_str("\t{{.ContainerNames}}");
    }
    if a.ctr_status {
        default.push_str("\t{{.ContainerStatuses}}");
    }
    if !(a.ctr_ids || a.ctr_names || a.ctr_status) {
        default.push_str("\t{{.NumberOfContainers}}");
    }
    let format = a.format.as_deref().unwrap_or(&default);
    let json: Vec<&PsJson> = rows.iter().map(|r| &r.json).collect();
    print_list(
        "pod ps",
        format,
        &json,
        &rows,
        &[
            ("ID", "POD ID"),
            ("Id", "POD ID"),
            ("InfraID", "INFRA ID"),
            ("InfraId", "INFRA ID"),
            ("NumberOfContainers", "# OF CONTAINERS"),
            ("ContainerIds", "IDS"),
            ("ContainerNames", "NAMES"),
            ("ContainerStatuses", "STATUS"),
        ],
        a.noheading,
    )?;
    Ok(0)
}

fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    if a.pods.is_empty() {
        return Err(CliError::engine("you must provide at least one name or id"));
    }
    let out = a
        .pods
        .iter()
        .map(|p| engine.inspect_pod(p))
        .collect::<Result<Vec<_>, _>>()?;
    // A single pod is one object in Podman 4.3's output, not an array.
    if out.len() == 1 && a.format.is_none() {
        let s =
            serde_json::to_string_pretty(&out[0]).map_err(|e| CliError::engine(e.to_string()))?;
        println!("{s}");
        return Ok(0);
    }
    print_objects("pod inspect", a.format.as_deref(), &out)?;
    Ok(0)
}

fn top(engine: &Engine, a: TopArgs) -> CliResult {
    let mut text = engine.pod_top(&a.pod, &a.descriptors)?.join("\n");
    text.push('\n');
    // Aligned as `top` aligns one container's processes.
    let mut out = std::io::stdout().lock();
    out.write_all(crate::format::PODMAN_TABWRITER.align(&text).as_bytes())?;
    out.flush()?;
    Ok(0)
}

fn logs(engine: &Engine, a: LogsArgs) -> CliResult {
    let pod = engine.pod(&a.pod)?;
    let ctrs: Vec<Container> = engine
        .pod_containers(pod.id())?
        .into_iter()
        .filter(|c| !c.config.is_infra)
        .collect();
    let chosen: Vec<String> = match &a.container {
        Some(want) => {
            let found = ctrs
                .iter()
                .find(|c| c.name() == want || c.id().starts_with(want.as_str()))
                .ok_or_else(|| {
                    CliError::engine(format!("container {want} is not in pod {}", pod.name()))
                })?;
            vec![found.id().to_string()]
        }
        None => ctrs.iter().map(|c| c.id().to_string()).collect(),
    };
    if chosen.is_empty() {
        return Ok(0);
    }
    let args = crate::cli::LogsArgs {
        follow: a.follow,
        tail: a.tail,
        timestamps: a.timestamps,
        since: a.since,
        until: a.until,
        names: a.names,
        containers: chosen,
    };
    super::logs::logs(engine, args)
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct StatsRow {
    Pod: String,
    CID: String,
    Name: String,
    CPU: String,
    MemUsage: String,
    MemUsageBytes: String,
    Mem: String,
    NetIO: String,
    BlockIO: String,
    PIDS: String,
}

/// `pod stats`: once with `--no-stream`, else a round every second (CPU % since the last
/// round, since the container's start the first time, as Podman's), the screen cleared
/// between rounds unless `--no-reset`; named pods: until none of their containers runs.
fn stats(engine: &Engine, a: StatsArgs) -> CliResult {
    let mut previous = std::collections::HashMap::new();
    loop {
        let running = stats_round(engine, &a, &mut previous)?;
        if a.no_stream || (!a.pods.is_empty() && running == 0) {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

use peapod_engine::container::resources::{bytes_size, human_size};

fn stats_round(
    engine: &Engine,
    a: &StatsArgs,
    previous: &mut std::collections::HashMap<
        String,
        peapod_engine::container::stats::ContainerStats,
    >,
) -> CliResult<usize> {
    let pods = if a.all { Vec::new() } else { a.pods.clone() };
    let entries = engine.pod_stats(&pods, previous)?;
    let running = entries.len();
    *previous = entries
        .iter()
        .map(|e| (e.stats.id.clone(), e.stats.clone()))
        .collect();
    if !a.no_stream && !a.no_reset {
        print!("\x1b[2J\x1b[1;1H");
    }
    // Podman's `podsToStatsReport`: zeros read `--`.
    let pair = |f: fn(u64) -> String, a: u64, b: u64| {
        if a == 0 && b == 0 {
            "-- / --".to_string()
        } else {
            format!("{} / {}", f(a), f(b))
        }
    };
    let percent = |p: f64| {
        if p == 0.0 {
            "--".to_string()
        } else {
            format!("{p:.2}%")
        }
    };
    let rows: Vec<StatsRow> = entries
        .into_iter()
        .map(|PodStatsEntry { pod_id, stats: s }| StatsRow {
            Pod: pod_id[..12].to_string(),
            CID: s.id[..12].to_string(),
            CPU: percent(s.cpu_percent),
            MemUsage: pair(human_size, s.mem_usage, s.mem_limit),
            MemUsageBytes: pair(bytes_size, s.mem_usage, s.mem_limit),
            Mem: percent(s.mem_percent),
            NetIO: pair(human_size, s.net_input, s.net_output),
            BlockIO: pair(human_size, s.block_input, s.block_output),
            PIDS: if s.pids > 0 {
                s.pids.to_string()
            } else {
                "--".into()
            },
            Name: s.name,
        })
        .collect();
    let format = a.format.as_deref().unwrap_or(
        "table {{.Pod}}\t{{.CID}}\t{{.Name}}\t{{.CPU}}\t{{.MemUsage}}\t{{.Mem}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}",
    );
    print_list(
        "pod stats",
        format,
        &rows,
        &rows,
        &[
            ("Pod", "POD"),
            ("CID", "CID"),
            ("CPU", "CPU %"),
            ("MemUsage", "MEM USAGE / LIMIT"),
            ("Mem", "MEM %"),
            ("NetIO", "NET IO"),
            ("BlockIO", "BLOCK IO"),
        ],
        false,
    )?;
    std::io::Write::flush(&mut std::io::stdout())?;
    Ok(running)
}
