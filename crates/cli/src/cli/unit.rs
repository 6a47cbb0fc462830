//! `run`/`create` flags for running under a systemd unit.

use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub struct UnitArgs {
    /// control sd-notify behavior (container, conmon, ignore)
    #[arg(long)]
    pub sdnotify: Option<String>,
    /// control container cgroup configuration ("enabled"|"disabled"|"no-conmon"|"split")
    #[arg(long)]
    pub cgroups: Option<String>,
}
