//! `healthcheck run CONTAINER`: run the container's check once. Podman prints nothing and
//! exits 0 when the container is healthy; otherwise it prints the status and exits 1.

use clap::{Args, Subcommand};
use peapod_engine::Engine;

use crate::CliResult;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    #[command(subcommand)]
    pub command: HealthcheckCommand,
}

#[derive(Debug, Subcommand)]
pub enum HealthcheckCommand {
    /// Run the health check of a container
    Run(HealthRunArgs),
}

#[derive(Debug, Args)]
pub struct HealthRunArgs {
    /// Run by the container's monitor: exit 3 while the startup check has not passed
    #[arg(long, hide = true)]
    pub timer: bool,
    /// The container
    pub container: String,
}

pub fn healthcheck(engine: &Engine, a: HealthcheckArgs) -> CliResult {
    match a.command {
        HealthcheckCommand::Run(r) => {
            let report = engine.healthcheck_run(&r.container)?;
            if r.timer && report.startup_pending {
                return Ok(peapod_engine::container::health::startup::STARTUP_PENDING);
            }
            if report.status == peapod_engine::container::health::HEALTHY {
                Ok(0)
            } else {
                println!("{}", report.status);
                Ok(1)
            }
        }
    }
}
