//! Startup healthchecks (`--health-startup-cmd` and its options, Podman 4.6's): until the
//! startup check has passed `--health-startup-success` times (once when 0), it runs instead
//! of the regular check, at its own interval, its failures never counting against the
//! container; `--health-startup-retries` failures in a row (0: no limit) restart the
//! container. Then the regular check takes over.
//!
//! The counters live in `healthcheck.startup` beside the log, reset at every start. The
//! monitor's timer runs the startup interval while `healthcheck run --timer` exits with
//! [`STARTUP_PENDING`] (peapod-monitor's `--health-startup-interval-ms`).

use serde::{Deserialize, Serialize};

use super::{HealthFlags, duration_flag, parse_test};
use crate::error::{Error, Result};

/// `healthcheck run`'s exit status for the monitor's timer while the startup check has not
/// passed (peapod-monitor's `STARTUP_PENDING`).
pub const STARTUP_PENDING: i32 = 3;

/// Podman's `define.StartupHealthCheck`, inspect's `Config.StartupHealthCheck`: durations
/// in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartupHealthConfig {
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: i64,
    #[serde(default)]
    pub timeout: i64,
    /// Failures in a row that restart the container; 0: no limit.
    #[serde(default)]
    pub retries: u32,
    /// Successes needed to pass; 0: one.
    #[serde(default)]
    pub successes: u32,
}

/// Where the startup check stands for the current run of the container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartupState {
    pub passed: bool,
    pub successes: u32,
    pub failures: u32,
}

/// What one startup result does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupStep {
    /// Not passed yet: check again at the startup interval.
    Pending,
    /// Passed: the regular check takes over.
    Passed,
    /// Too many failures: restart the container.
    Restart,
}

impl StartupState {
    /// Podman's `incrementStartupHCSuccessCounter`/`…FailureCounter`.
    pub fn record(&mut self, ok: bool, cfg: &StartupHealthConfig) -> StartupStep {
        if ok {
            self.successes += 1;
            if cfg.successes == 0 || self.successes >= cfg.successes {
                *self = StartupState {
                    passed: true,
                    ..Default::default()
                };
                return StartupStep::Passed;
            }
            return StartupStep::Pending;
        }
        self.failures += 1;
        if cfg.retries != 0 && self.failures >= cfg.retries {
            return StartupStep::Restart;
        }
        StartupStep::Pending
    }
}

/// The startup check of a new container, from the flags (Podman's defaults: 30 s interval
/// and timeout, no retry limit, one success); it needs a regular check.
pub fn resolve(flags: &HealthFlags, has_regular: bool) -> Result<Option<StartupHealthConfig>> {
    let Some(cmd) = &flags.startup_cmd else {
        return Ok(None);
    };
    if flags.disabled {
        return Err(Error::invalid(
            "cannot specify both --no-healthcheck and --health-startup-cmd",
        ));
    }
    let Some(test) = parse_test(cmd)? else {
        return Ok(None);
    };
    if !has_regular {
        return Err(Error::invalid(
            "cannot set a startup healthcheck when there is no regular healthcheck: invalid argument",
        ));
    }
    let interval = match &flags.startup_interval {
        Some(v) => duration_flag("healthcheck-interval", v, true)?,
        None => super::DEFAULT_INTERVAL,
    };
    let timeout = match &flags.startup_timeout {
        Some(v) => duration_flag("healthcheck-timeout", v, false)?,
        None => super::DEFAULT_TIMEOUT,
    };
    if timeout < 1_000_000_000 {
        return Err(Error::invalid(
            "healthcheck-timeout must be at least 1 second",
        ));
    }
    Ok(Some(StartupHealthConfig {
        test,
        interval,
        timeout,
        retries: flags.startup_retries.unwrap_or(0),
        successes: flags.startup_success.unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(retries: u32, successes: u32) -> StartupHealthConfig {
        StartupHealthConfig {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: 1,
            timeout: 1,
            retries,
            successes,
        }
    }

    #[test]
    fn passes_after_the_successes_asked_for() {
        let mut s = StartupState::default();
        assert_eq!(s.record(true, &cfg(0, 0)), StartupStep::Passed);
        assert!(s.passed);
        let mut s = StartupState::default();
        let c = cfg(0, 2);
        assert_eq!(s.record(true, &c), StartupStep::Pending);
        assert_eq!(s.record(false, &c), StartupStep::Pending);
        assert_eq!(s.record(true, &c), StartupStep::Passed);
    }

    #[test]
    fn restarts_after_the_retries_and_never_without_a_limit() {
        let mut s = StartupState::default();
        let c = cfg(2, 0);
        assert_eq!(s.record(false, &c), StartupStep::Pending);
        assert_eq!(s.record(false, &c), StartupStep::Restart);
        let mut s = StartupState::default();
        for _ in 0..50 {
            assert_eq!(s.record(false, &cfg(0, 0)), StartupStep::Pending);
        }
    }

    #[test]
    fn flags_as_podman_checks_them() {
        let flags = HealthFlags {
            startup_cmd: Some("test -e /ok".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&flags, false).unwrap_err().to_string(),
            "cannot set a startup healthcheck when there is no regular healthcheck: invalid argument"
        );
        let c = resolve(&flags, true).unwrap().unwrap();
        assert_eq!(c.test, ["CMD-SHELL", "test -e /ok"]);
        assert_eq!(
            (c.interval, c.timeout, c.retries, c.successes),
            (30_000_000_000, 30_000_000_000, 0, 0)
        );
        let bad = HealthFlags {
            startup_cmd: Some("true".into()),
            disabled: true,
            ..Default::default()
        };
        assert_eq!(
            resolve(&bad, true).unwrap_err().to_string(),
            "cannot specify both --no-healthcheck and --health-startup-cmd"
        );
    }
}
