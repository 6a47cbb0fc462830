//! The command tree, as Podman spells it. Both `peapod container X` and `peapod X` work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod create;
mod health;
mod hostargs;
mod image;
mod netflags;
mod network;
mod unit;

pub use create::*;
pub use image::*;
pub use netflags::NetworkArgs;
pub use network::*;

#[derive(Debug, Parser)]
#[command(
    name = "peapod",
    version,
    about = "Manage pods, containers and images",
    disable_help_subcommand = true,
    // As Podman's flag parser: a flag given twice takes the last value (`--name a --name b`).
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Path to the root directory in which data, including images, is stored
    #[arg(long, global = true, env = "PEAPOD_ROOT")]
    pub root: Option<PathBuf>,
    /// Path to the 'run directory' where all state information is stored
    #[arg(long, global = true, env = "PEAPOD_RUNROOT")]
    pub runroot: Option<PathBuf>,
    /// Path to the OCI runtime binary, or its name (crun, runc)
    #[arg(long, global = true)]
    pub runtime: Option<String>,
    /// Path of the conmon-compatible monitor binary
    #[arg(long, global = true)]
    pub conmon: Option<PathBuf>,
    /// A directory holding the network helper: peapod-netsetup, or netavark itself (e.g. /usr/lib/podman)
    #[arg(
        long = "helper-binaries-dir",
        global = true,
        env = "PEAPOD_HELPER_BINARIES_DIR"
    )]
    pub helper_binaries_dir: Option<PathBuf>,
    /// Log messages above specified level (trace, debug, info, warn, warning, error, fatal, panic)
    #[arg(long = "log-level", global = true)]
    pub log_level: Option<String>,
    /// Docker compatibility: the same as --log-level=debug
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
    /// Accepted for Podman compatibility (peapod always uses cgroupfs)
    #[arg(long = "cgroup-manager", global = true, hide = true)]
    pub cgroup_manager: Option<String>,
    /// Add global flags for the container runtime
    #[arg(long = "runtime-flag", global = true)]
    pub runtime_flag: Vec<String>,
    /// Do not output to stdout
    #[arg(long, global = true)]
    pub noout: bool,
    /// Select which storage driver is used to manage storage of images and containers
    #[arg(long = "storage-driver", global = true)]
    pub storage_driver: Option<String>,
    /// Path to the volume directory in which volume data is stored
    #[arg(long = "volumepath", global = true)]
    pub volumepath: Option<PathBuf>,
    /// Options for the storage driver (overlay.mount_program=PATH; '' for none)
    #[arg(long = "storage-opt", global = true)]
    pub storage_opt: Vec<String>,
    /// Path to default mounts file
    #[arg(long = "default-mounts-file", global = true, hide = true)]
    pub default_mounts_file: Option<PathBuf>,
    /// Events backend to use (file, journald, none)
    #[arg(long = "events-backend", global = true)]
    pub events_backend: Option<String>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, never moved around
pub enum Command {
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(crate::commands::volume::VolumeCommand),
    /// Manipulate manifest lists
    #[command(subcommand)]
    Manifest(crate::commands::manifest::ManifestCommand),
    /// Manage pods
    #[command(subcommand)]
    Pod(crate::commands::pod::PodCommand),
    /// Play containers, pods or volumes from a structured file
    #[command(subcommand)]
    Kube(crate::commands::kube::KubeCommand),
    /// Generate structured data based on containers, pods or volumes
    #[command(subcommand)]
    Generate(crate::commands::kube::GenerateCommand),
    /// Play containers, pods or volumes from a structured file
    #[command(subcommand)]
    Play(crate::commands::kube::PlayCommand),
    /// Manage peapod
    #[command(subcommand)]
    System(crate::commands::system::SystemCommand),
    /// Build images with BuildKit-style Containerfiles (buildx compatibility)
    #[command(subcommand)]
    Buildx(crate::commands::build::BuildxCommand),
    #[command(flatten)]
    Top(TopLevel),
}

/// Commands that exist both at the top level and under `container`.
#[derive(Debug, Subcommand)]
pub enum TopLevel {
    /// Create but do not start a container
    Create(CreateArgs),
    /// Run a command in a new container
    Run(RunArgs),
    /// Start one or more containers
    Start(StartArgs),
    /// Stop one or more containers
    Stop(StopArgs),
    /// Kill one or more running containers with a specific signal
    Kill(KillArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Display the configuration of object denoted by ID
    Inspect(InspectArgs),
    /// Block on one or more containers
    Wait(WaitArgs),
    /// Fetch the logs of one or more containers
    Logs(LogsArgs),
    /// Import a tarball to create a filesystem image
    Import(ImportArgs),
    /// List images in local storage
    Images(ImagesArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove one or more images from local storage
    Rmi(RmiArgs),
    /// Display the Podman-compatible version information
    Version(VersionArgs),
    /// Display information about the host and peapod's configuration
    Info(InfoArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Attach to a running container
    Attach(AttachArgs),
    /// Run a process in a running container
    Exec(ExecArgs),
    /// Pause all the processes in one or more containers
    Pause(PauseArgs),
    /// Unpause the processes in one or more containers
    Unpause(PauseArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Pull an image from a registry
    Pull(crate::commands::registry::PullArgs),
    /// Push an image to a specified destination
    Push(crate::commands::registry::PushArgs),
    /// Log in to a container registry
    Login(crate::commands::registry::LoginArgs),
    /// Log out of a container registry
    Logout(crate::commands::registry::LogoutArgs),
    /// Save image(s) to an archive
    Save(crate::commands::archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(crate::commands::archive::LoadArgs),
    /// Create new image based on the changed container
    Commit(crate::commands::commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(crate::commands::cp::CpArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(crate::commands::cp::ExportArgs),
    /// Rename an existing container
    Rename(crate::commands::manage::RenameArgs),
    /// Initialize one or more containers
    Init(crate::commands::manage::InitArgs),
    /// Inspect changes to the container's file systems
    Diff(crate::commands::manage::DiffArgs),
    /// Update an existing container's resource limits
    Update(crate::commands::manage::UpdateArgs),
    /// Show history of a specified image
    History(crate::commands::history::HistoryArgs),
    /// Mount a working container's root filesystem
    Mount(crate::commands::mount::MountArgs),
    /// Unmount working container's root filesystem
    #[command(alias = "unmount")]
    Umount(crate::commands::mount::UmountArgs),
    /// Remove a name from a local image
    Untag(crate::commands::image::UntagArgs),
    /// Run a command in a modified user namespace
    Unshare(UnshareArgs),
    /// Build an image using instructions from Containerfiles
    Build(crate::commands::build::BuildArgs),
    /// Show peapod events
    Events(crate::commands::events::EventsArgs),
    /// Manage health checks on containers
    Healthcheck(crate::commands::health::HealthcheckArgs),
    /// Display a live stream of container resource usage statistics
    Stats(crate::commands::stats::StatsArgs),
    /// Generate shell autocompletions
    #[command(hide = true)]
    Completion(crate::completion::CompletionArgs),
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, never moved around
pub enum ContainerCommand {
    #[command(flatten)]
    Common(ContainerCommon),
    /// Check if a container exists in local storage
    Exists(ExistsArgs),
    /// Clean up the network and mountpoints of one or more containers (the monitor's exit command)
    Cleanup(CleanupArgs),
    /// Remove all non running containers
    Prune(PruneArgs),
    /// Execute the command described by an image label
    Runlabel(crate::commands::manage::RunlabelArgs),
    /// List containers
    #[command(name = "ps", alias = "ls", alias = "list")]
    Ps(PsArgs),
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommon {
    Create(CreateArgs),
    Run(RunArgs),
    Start(StartArgs),
    Stop(StopArgs),
    Kill(KillArgs),
    Restart(StopArgs),
    Rm(RmArgs),
    Inspect(InspectArgs),
    Wait(WaitArgs),
    Logs(LogsArgs),
    Attach(AttachArgs),
    Exec(ExecArgs),
    Port(PortArgs),
    Pause(PauseArgs),
    Unpause(PauseArgs),
    Top(TopArgs),
    Commit(crate::commands::commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(crate::commands::cp::CpArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(crate::commands::cp::ExportArgs),
    /// Rename an existing container
    Rename(crate::commands::manage::RenameArgs),
    /// Initialize one or more containers
    Init(crate::commands::manage::InitArgs),
    /// Inspect changes to the container's file systems
    Diff(crate::commands::manage::DiffArgs),
    /// Update an existing container's resource limits
    Update(crate::commands::manage::UpdateArgs),
    Mount(crate::commands::mount::MountArgs),
    #[command(alias = "unmount")]
    Umount(crate::commands::mount::UmountArgs),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach container's STDOUT and STDERR
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = crate::stream::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Proxy received signals to the process (default true if attaching)
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Start all containers regardless of their state or configuration
    #[arg(long)]
    pub all: bool,
    /// Filter output based on conditions given
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = crate::stream::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run the exec session in detached mode (backgrounded)
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Select the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = crate::stream::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give the process extended Linux capabilities
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Sets the username or UID used and optionally the groupname or GID for the specified command
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    pub container: String,
    /// Command and arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for stop before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u32>,
    /// Stop all running containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Read the container ID from the file
    #[arg(long)]
    pub cidfile: Vec<std::path::PathBuf>,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL", allow_hyphen_values = true)]
    pub signal: String,
    /// Signal all running containers
    #[arg(short = 'a', long)]
    pub all: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force removal of a running or unusable container
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove all containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    /// Remove container and all containers that depend on it
    #[arg(long)]
    pub depend: bool,
    /// Act on the latest container peapod is aware of
    #[arg(short = 'l', long, conflicts_with_all = ["containers", "all"])]
    pub latest: bool,
    /// Read the container ID from the file
    #[arg(long)]
    pub cidfile: Vec<std::path::PathBuf>,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display the extended information
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Pretty-print containers to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions given
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Print the n last created containers (all states)
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// Act on the latest container
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Do not print headers
    #[arg(long)]
    pub noheading: bool,
    /// Display the pod ID and pod name of each container
    #[arg(long)]
    pub pod: bool,
    /// Sort output by: command, created, id, image, names, runningfor, size, status
    #[arg(long)]
    pub sort: Option<String>,
    /// Show containers in storage not controlled by peapod (a build's working containers)
    #[arg(long)]
    pub external: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output to a Go template or json
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Specify inspect-object type (container, image, all)
    #[arg(short = 't', long = "type", default_value = "all")]
    pub kind: String,
    /// Display total file size (accepted)
    #[arg(short = 's', long)]
    pub size: bool,
    /// Act on the latest container peapod is aware of
    #[arg(short = 'l', long, conflicts_with = "names")]
    pub latest: bool,
    #[arg(required_unless_present = "latest")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Condition to wait on (stopped, exited)
    #[arg(long)]
    pub condition: Vec<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Output the specified number of lines at the end of logs (-1 for all)
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i64,
    /// Show logs since TIMESTAMP
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs until TIMESTAMP
    #[arg(long)]
    pub until: Option<String>,
    /// Output the timestamps in the log
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Output the container name in the log
    #[arg(short = 'n', long)]
    pub names: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    /// Check external containers as well as peapod's (a build's working containers)
    #[arg(long)]
    pub external: bool,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Only clean up a container that stopped (the monitor's exit command)
    #[arg(long = "stopped-only")]
    pub stopped_only: bool,
    /// After cleanup, remove the container
    #[arg(long)]
    pub rm: bool,
    /// Cleans up all containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Clean up the given exec session instead of the container
    #[arg(long)]
    pub exec: Option<String>,
    /// Accepted for Podman compatibility
    #[arg(long)]
    pub rmi: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (accepted: label=)
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UnshareArgs {
    /// Join the rootless network namespace used for netavark networking
    #[arg(long = "rootless-netns", alias = "rootless-cni")]
    pub rootless_netns: bool,
    /// The command and its arguments (default: $SHELL)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Pause (unpause) all running (paused) containers
    #[arg(short = 'a', long)]
    pub all: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container, then format descriptors (psgo's, or ps(1) options)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks (duplicate names and aliases, conflicting flags): they
    /// run only in debug builds, where a mistake panics at the first parse.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
