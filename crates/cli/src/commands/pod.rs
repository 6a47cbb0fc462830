//! `pod create|start|stop|restart|kill|pause|unpause|rm|prune|exists|ps|inspect|top|logs|stats`,
//! with Podman's flags, output and exit codes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use peapod_engine::container::Container;
use peapod_engine::parallel::Target;
use peapod_engine::pod::report::PodListEntry;
use peapod_engine::pod::{Pod, PodCreateOptions};
use peapod_engine::{Engine, Error};
use serde::Serialize;

use crate::output::{print_each, print_list, print_objects};
use crate::{CliError, CliResult, human};

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, never moved around
pub enum PodCommand {
    /// Create a new empty pod
    Create(CreateArgs),
    /// Start one or more pods
    Start(TargetsArgs),
    /// Stop one or more pods
    Stop(StopArgs),
    /// Restart one or more pods
    Restart(StopArgs),
    /// Send the specified signal or SIGKILL to containers in pod
    Kill(KillArgs),
    /// Pause one or more pods
    Pause(TargetsArgs),
    /// Unpause one or more pods
    Unpause(TargetsArgs),
    /// Remove one or more pods
    Rm(RmArgs),
    /// Remove all stopped pods and their containers
    Prune(PruneArgs),
    /// Check if a pod exists in local storage
    Exists(ExistsArgs),
    /// List pods
    #[command(alias = "ls", alias = "list")]
    Ps(PsArgs),
    /// Display a pod configuration
    Inspect(InspectArgs),
    /// Display the running processes of containers in a pod
    Top(TopArgs),
    /// Fetch logs for pod with one or more containers
    Logs(LogsArgs),
    /// Display a live stream of resource usage statistics for the containers in one or more pods
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the pod
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Set the pod's hostname (shared by its containers when uts is shared)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Set metadata on pod
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file")]
    pub label_file: Vec<PathBuf>,
    /// A comma delimited list of kernel namespaces the pod will share (cgroup, ipc, net, pid, uts; +NS adds to the default)
    #[arg(long)]
    pub share: Option<String>,
    /// Create an infra container associated with the pod to share namespaces with
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub infra: bool,
    /// The image of the infra container (default: the pause image built locally)
    #[arg(long = "infra-image")]
    pub infra_image: Option<String>,
    /// Pull policy for --infra-image: missing, always, never, newer
    #[arg(long, default_value = "missing")]
    pub pull: String,
    #[command(flatten)]
    pub pull_flags: super::registry::PullFlags,
    /// The command to run in the infra container
    #[arg(long = "infra-command")]
    pub infra_command: Option<String>,
    /// The name of the infra container
    #[arg(long = "infra-name")]
    pub infra_name: Option<String>,
    /// Write the pod ID to the file
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Option<PathBuf>,
    /// Set parent cgroup for the pod
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Connect the pod to a network
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Publish a container's port, or a range of ports, to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Bind mount a volume into the pod's containers
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set custom DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Specify a static IPv4 address for the pod
    #[arg(long)]
    pub ip: Option<String>,
    /// The pod's MAC address
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Add a network-scoped alias for the pod
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// Name of the pod (alternative to --name)
    pub pod_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// All pods
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Read the pod ID from the file
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Vec<PathBuf>,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Stop all pods
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Ignore errors when a specified pod is missing
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Seconds to wait for the pod's containers to stop before killing them
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    /// Read the pod ID from the file
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Vec<PathBuf>,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Kill all pods
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Signal to send to the containers in the pod
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove all pods
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Stop and remove running pods
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Ignore errors when a specified pod is missing
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Seconds to wait for the pod's containers to stop before killing them
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    /// Read the pod ID from the file
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Vec<PathBuf>,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub pod: String,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Display the container names of each pod
    #[arg(long = "ctr-names")]
    pub ctr_names: bool,
    /// Display the container UUIDs of each pod
    #[arg(long = "ctr-ids")]
    pub ctr_ids: bool,
    /// Display the container status of each pod
    #[arg(long = "ctr-status")]
    pub ctr_status: bool,
    /// Do not truncate pod and container IDs
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Print the numeric IDs of the pods only
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter output based on conditions given (id, name, status, label, ctr-names, ctr-ids, ctr-status, ctr-number)
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Pretty-print pods to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Sort output by created, id, name, number, or status
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Do not print headers
    #[arg(long)]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a Go template or JSON
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    pub pod: String,
    /// ps descriptors
    pub descriptors: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only the logs of this container of the pod
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Output the specified number of lines at the end of each log (-1: all)
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i64,
    /// Output the timestamps in the log
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since TIMESTAMP
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs until TIMESTAMP
    #[arg(long)]
    pub until: Option<String>,
    /// Prefix lines with container names instead of ids
    #[arg(long)]
    pub names: bool,
    pub pod: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Provide stats for all pods
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Pretty-print statistics using a Go template or JSON
    #[arg(long)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not reset the terminal between updates
    #[arg(long = "no-reset")]
    pub no_reset: bool,
    pub pods: Vec<String>,
}

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
        return Err(CliError::Coded(
            "cannot specify --name and give a pod name as an argument".into(),
            125,
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
        cgroup_parent: a.cgroup_parent,
        network: peapod_engine::network::NetworkFlags {
            network: a.network,
            ip: a.ip,
            mac_address: a.mac_address,
            aliases: a.network_alias,
            publish: a.publish,
            dns: a.dns,
            dns_search: a.dns_search,
            dns_option: a.dns_option,
            add_host: a.add_host,
            ..Default::default()
        },
        volumes: a.volume,
        create_command: argv.to_vec(),
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
        .map_err(|e| {
            CliError::Coded(format!("opening pod-id-file {}: {e}", path.display()), 125)
        })?;
    f.write_all(id.as_bytes()).map_err(|e| {
        CliError::Coded(format!("writing pod-id-file {}: {e}", path.display()), 125)
    })?;
    Ok(())
}

fn read_id_files(files: &[PathBuf]) -> CliResult<Vec<String>> {
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    CliError::Coded(format!("reading pod ID file {}: {e}", f.display()), 125)
                })
        })
        .collect()
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
    out.extend(read_id_files(id_files)?);
    if out.is_empty() {
        return Err(CliError::Coded(
            "you must provide at least one name or id".into(),
            125,
        ));
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
            e => e.exit_code(),
        },
    )
}

fn rm(engine: &Engine, a: RmArgs) -> CliResult {
    let mut given = a.pods.clone();
    for f in &a.pod_id_file {
        match std::fs::read_to_string(f) {
            Ok(s) => given.push(s.trim().to_string()),
            Err(_) if a.ignore => {}
            Err(e) => {
                return Err(CliError::Coded(
                    format!("reading pod ID file {}: {e}", f.display()),
                    125,
                ));
            }
        }
    }
    let t = if a.all {
        targets(engine, &[], &[], true, false)?
    } else if given.is_empty() && !a.pod_id_file.is_empty() {
        Vec::new()
    } else if given.is_empty() {
        return Err(CliError::Coded(
            "you must provide at least one name or id".into(),
            125,
        ));
    } else {
        // Podman 4.3 exits 1 when a named pod does not exist, and removes none.
        match engine.resolve_pods(&given, a.ignore) {
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
            Error::NoSuchPod(_) if a.ignore => 0,
            Error::NoSuchPod(_) => 1,
            Error::BadState { .. } => 2,
            e => e.exit_code(),
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
            return Err(CliError::Coded(
                format!(
                    "invalid option for --sort, options are: id, names, status, created, or number: {other}"
                ),
                125,
            ));
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
        return Err(CliError::Coded(
            "you must provide at least one name or id".into(),
            125,
        ));
    }
    let out = a
        .pods
        .iter()
        .map(|p| engine.inspect_pod(p))
        .collect::<Result<Vec<_>, _>>()?;
    // A single pod is one object in Podman 4.3's output, not an array.
    if out.len() == 1 && a.format.is_none() {
        let s = serde_json::to_string_pretty(&out[0])
            .map_err(|e| CliError::Coded(e.to_string(), 125))?;
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
                    CliError::Coded(
                        format!("container {want} is not in pod {}", pod.name()),
                        125,
                    )
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
    super::container::logs(engine, args)
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

fn stats(engine: &Engine, a: StatsArgs) -> CliResult {
    let pods = if a.all { Vec::new() } else { a.pods.clone() };
    let rows: Vec<StatsRow> = engine
        .pod_stats(&pods)?
        .into_iter()
        .map(|e| StatsRow {
            Pod: e.pod_id[..12].to_string(),
            CID: e.container_id[..12].to_string(),
            Name: e.name,
            CPU: format!("{:.2}%", e.cpu_percent),
            MemUsage: format!(
                "{} / {}",
                human::size(e.mem_usage),
                human::size(e.mem_limit)
            ),
            MemUsageBytes: format!("{} / {}", e.mem_usage, e.mem_limit),
            Mem: format!(
                "{:.2}%",
                e.mem_usage as f64 / e.mem_limit.max(1) as f64 * 100.0
            ),
            NetIO: "-- / --".into(),
            BlockIO: "-- / --".into(),
            PIDS: e.pids.map_or_else(|| "--".into(), |n| n.to_string()),
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
    Ok(0)
}
