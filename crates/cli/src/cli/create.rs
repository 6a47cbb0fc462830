//! The flags of `create` and `run` (Podman's `create`/`run` flag set).

use std::path::PathBuf;

use clap::Args;

use super::NetworkArgs;

#[derive(Debug, Args, Clone, Default)]
pub struct CreateFlags {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables in container
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Unset environment default variables in container
    #[arg(long)]
    pub unsetenv: Vec<String>,
    /// Unset all default environment variables in container
    #[arg(long = "unsetenv-all")]
    pub unsetenv_all: bool,
    /// Set timezone in container (a zone name, or "local" for the host's)
    #[arg(long = "tz")]
    pub tz: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Set container hostname
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Add additional groups to the primary container process ('keep-groups' keeps the caller's)
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// User namespace to use (host; keep-id, nomap, auto, private and ns: are refused)
    #[arg(long)]
    pub userns: Option<String>,
    /// UID map for the user namespace (refused: not supported by peapod yet)
    #[arg(long)]
    pub uidmap: Vec<String>,
    /// GID map for the user namespace (refused: not supported by peapod yet)
    #[arg(long)]
    pub gidmap: Vec<String>,
    /// Set metadata on container
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Add an annotation to the container (passed through to the OCI runtime)
    #[arg(long = "annotation")]
    pub annotation: Vec<String>,
    /// Signal to stop a container. Default is SIGTERM
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) that containers stopped by user command have to exit
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<u32>,
    /// Remove container (and pod if created) after exit
    #[arg(long)]
    pub rm: bool,
    /// Set proxy environment variables in the container based on the host proxy vars
    #[arg(long = "http-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub http_proxy: bool,
    /// Use all current host environment variables in container
    #[arg(long = "env-host")]
    pub env_host: bool,
    #[command(flatten)]
    pub net: NetworkArgs,
    /// If a container with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
    /// PID namespace to use: private, host, container:ID, ns:PATH
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC namespace to use: shareable, private, none, host, container:ID, ns:PATH
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace to use: private, host, container:ID, ns:PATH
    #[arg(long)]
    pub uts: Option<String>,
    /// Publish all exposed ports to random ports on the host interfaces
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Allocate a pseudo-TTY for container
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Logging driver for the container (k8s-file, none, passthrough, journald)
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Logging driver options (max-size=…, path=…)
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Restart policy to follow when containers exit (no, on-failure[:max_retries], always, unless-stopped)
    #[arg(long)]
    pub restart: Option<String>,
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[command(flatten)]
    pub health: super::health::HealthArgs,
    #[command(flatten)]
    pub host: super::hostargs::HostArgs,
    #[command(flatten)]
    pub unit: super::unit::UnitArgs,
    /// Bind mount a volume into the container ([SOURCE-VOLUME|HOST-DIR:]CONTAINER-DIR[:OPTIONS])
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,src=…,dst=…,…)
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a temporary filesystem (tmpfs) into a container (CONTAINER-DIR[:OPTIONS])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw|z])
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Run container in an existing pod, or a new one with new:NAME
    #[arg(long)]
    pub pod: Option<String>,
    /// Read the pod ID from the file
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Option<PathBuf>,
    /// Make this a pod's init container: always (run on every pod start) or once
    #[arg(long = "init-ctr")]
    pub init_ctr: Option<String>,
    /// Add capabilities to the container (NAME, CAP_NAME or all; comma-separated)
    #[arg(long = "cap-add", value_delimiter = ',')]
    pub cap_add: Vec<String>,
    /// Drop capabilities from the container (NAME, CAP_NAME or all; comma-separated)
    #[arg(long = "cap-drop", value_delimiter = ',')]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to container
    #[arg(long)]
    pub privileged: bool,
    /// Security Options (seccomp=unconfined|PROFILE.json, no-new-privileges, mask=, unmask=, label=, apparmor=)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Run container in systemd mode ("true"|"false"|"always")
    #[arg(long)]
    pub systemd: Option<String>,
    /// Ulimit options (NAME=SOFT[:HARD], -1 for unlimited, or host)
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Maximum length of time a container is allowed to run; then it is killed
    #[arg(long)]
    pub timeout: Option<u32>,
    /// Add one or more requirement containers that must be started before this container will start
    #[arg(long, value_delimiter = ',')]
    pub requires: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('TYPE MAJOR:MINOR ACCESS')
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<PathBuf>,
    /// Path to the file that will receive the PID of the container's monitor
    #[arg(long = "conmon-pidfile")]
    pub conmon_pidfile: Option<PathBuf>,
    /// The first argument is not an image but the rootfs to the exploded container (PATH, or PATH:O for an overlay over it)
    #[arg(long)]
    pub rootfs: bool,
    /// Pass a number of additional file descriptors into the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Kernel memory limit (no longer supported: a no-op, with a warning, as Podman)
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// Pull image policy: missing, always, never, newer
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Suppress output information when pulling images
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub pull_flags: crate::commands::registry::PullFlags,
    /// Image name or ID
    pub image: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help (`-h` is --hostname, as in Podman)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[command(flatten)]
    pub flags: CreateFlags,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (`-h` is --hostname, as in Podman)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", default_value = crate::stream::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Remove container image unless used by other containers
    #[arg(long)]
    pub rmi: bool,
    #[command(flatten)]
    pub flags: CreateFlags,
}

/// The resource limits of `create`/`run` and `update`.
#[derive(Debug, Args, Clone, Default)]
pub struct ResourceArgs {
    /// Memory limit (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit (format: <number>[<unit>])
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs. The default is 0.000 which means no limit
    #[arg(long, allow_hyphen_values = true)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
}

impl ResourceArgs {
    /// The engine's flag spellings.
    pub fn flags(&self) -> peapod_engine::container::ResourceFlags {
        peapod_engine::container::ResourceFlags {
            memory: self.memory.clone(),
            memory_swap: self.memory_swap.clone(),
            cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            pids_limit: self.pids_limit,
            memory_reservation: self.memory_reservation.clone(),
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            blkio_weight: self.blkio_weight,
        }
    }
}
