//! `run`/`create`'s healthcheck flags (Podman's names and help).

use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub struct HealthArgs {
    /// Set a healthcheck command for the container ('none' disables the existing healthcheck)
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Set an interval for the healthcheck (a value of disable results in no automatic timer setup)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// The number of retries allowed before a healthcheck is considered to be unhealthy
    #[arg(long = "health-retries")]
    pub health_retries: Option<u32>,
    /// The initialization time needed for a container to bootstrap
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// The maximum time allowed to complete the healthcheck before an interval is considered failed
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Action to take once the container turns unhealthy (none, kill, restart, stop)
    #[arg(long = "health-on-failure")]
    pub health_on_failure: Option<String>,
    /// Disable healthchecks on container
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Set a startup healthcheck command for the container
    #[arg(long = "health-startup-cmd")]
    pub health_startup_cmd: Option<String>,
    /// Set an interval for the startup healthcheck
    #[arg(long = "health-startup-interval")]
    pub health_startup_interval: Option<String>,
    /// Set the maximum number of retries before the startup healthcheck will restart the container
    #[arg(long = "health-startup-retries")]
    pub health_startup_retries: Option<u32>,
    /// Set the number of consecutive successes before the startup healthcheck is marked as successful and the normal healthcheck begins (0 indicates any success will start the regular healthcheck)
    #[arg(long = "health-startup-success")]
    pub health_startup_success: Option<u32>,
    /// Set the maximum amount of time that the startup healthcheck may take before it is considered failed
    #[arg(long = "health-startup-timeout")]
    pub health_startup_timeout: Option<String>,
}

impl HealthArgs {
    pub fn to_flags(&self) -> peapod_engine::container::health::HealthFlags {
        peapod_engine::container::health::HealthFlags {
            cmd: self.health_cmd.clone(),
            interval: self.health_interval.clone(),
            timeout: self.health_timeout.clone(),
            start_period: self.health_start_period.clone(),
            retries: self.health_retries,
            on_failure: self.health_on_failure.clone(),
            disabled: self.no_healthcheck,
            startup_cmd: self.health_startup_cmd.clone(),
            startup_interval: self.health_startup_interval.clone(),
            startup_timeout: self.health_startup_timeout.clone(),
            startup_retries: self.health_startup_retries,
            startup_success: self.health_startup_success,
        }
    }
}
