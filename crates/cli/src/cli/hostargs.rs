//! `run`/`create` flags about the container's root, `/dev/shm`, devices and sysctls.

use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub struct HostArgs {
    /// Make containers root filesystem read-only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// When running containers in read-only mode mount a read-write tmpfs on /run, /tmp and /var/tmp
    #[arg(long = "read-only-tmpfs", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub read_only_tmpfs: bool,
    /// Size of /dev/shm (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])
    #[arg(long)]
    pub device: Vec<String>,
    /// Sysctl options (KEY=VALUE)
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Path to the container-init binary
    #[arg(long = "init-path")]
    pub init_path: Option<std::path::PathBuf>,
}

impl HostArgs {
    pub fn to_flags(&self) -> peapod_engine::container::hostcfg::HostFlags {
        peapod_engine::container::hostcfg::HostFlags {
            read_only: self.read_only,
            read_only_tmpfs: self.read_only_tmpfs,
            shm_size: self.shm_size.clone(),
            devices: self.device.clone(),
            init: self.init,
            init_path: self.init_path.clone(),
        }
    }
}
