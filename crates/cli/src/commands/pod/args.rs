//! `pod` subcommands and their flags, as Podman spells them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::NetworkArgs;

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
    pub pull_flags: crate::commands::registry::PullFlags,
    /// The command to run in the infra container
    #[arg(long = "infra-command")]
    pub infra_command: Option<String>,
    /// The name of the infra container
    #[arg(long = "infra-name")]
    pub infra_name: Option<String>,
    /// Write the pod ID to the file
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Option<PathBuf>,
    /// Write the infra container's monitor pid to the file (at every start)
    #[arg(long = "infra-conmon-pidfile")]
    pub infra_conmon_pidfile: Option<PathBuf>,
    /// Set parent cgroup for the pod
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Bind mount a volume into the pod's containers
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    #[command(flatten)]
    pub net: NetworkArgs,
    /// Behaviour when the last container exits: continue (the infra keeps running) or stop (the pod stops)
    #[arg(long = "exit-policy", default_value = "continue")]
    pub exit_policy: String,
    /// If a pod with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
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
    #[arg(short = 's', long, default_value = "KILL", allow_hyphen_values = true)]
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
