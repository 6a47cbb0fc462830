//! Healthchecks: what a container's check is (flags, or the image's Docker `HEALTHCHECK`),
//! `healthcheck run` (the test as an exec session, its result logged and the status moved
//! as Podman moves it), and what inspect and `ps` show.
//!
//! Who runs the checks: the container's monitor, every interval while the container runs
//! (peapod-monitor's `--health-interval`, running `peapod healthcheck run ID`), so they run
//! with or without systemd (Podman 4.3 needs systemd timers: podman#19326). With conmon as
//! the monitor nothing schedules them; `healthcheck run` still works by hand.
//!
//! The log is Podman's `healthcheck.log` (JSON: `Status`, `FailingStreak`, the last five
//! results) in the container's directory.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};

pub mod startup;

/// Podman's defaults (libpod/define: 30 s interval and timeout, 3 retries).
const DEFAULT_INTERVAL: i64 = 30_000_000_000;
const DEFAULT_TIMEOUT: i64 = 30_000_000_000;
const DEFAULT_RETRIES: u32 = 3;
/// Results kept in the log, and the output kept of each (Podman's MaxHealthCheckNumberLogs
/// and MaxHealthCheckLogLength).
const KEPT_RESULTS: usize = 5;
const KEPT_OUTPUT: usize = 500;

/// A container's check, as Docker's image config and Podman's inspect (`Config.Healthcheck`)
/// hold it: durations in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["CMD-SHELL", "cmd"]` or `["CMD", "prog", "arg"…]`.
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: i64,
    #[serde(default)]
    pub timeout: i64,
    #[serde(default)]
    pub start_period: i64,
    #[serde(default)]
    pub retries: u32,
    /// `--health-on-failure`: what happens when the status turns unhealthy.
    #[serde(default, skip_serializing_if = "OnFailure::is_none")]
    pub on_failure: OnFailure,
}

/// `--health-on-failure none|kill|restart|stop`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl OnFailure {
    pub fn parse(s: &str) -> Result<OnFailure> {
        Ok(match s {
            "" | "none" => OnFailure::None,
            "kill" => OnFailure::Kill,
            "restart" => OnFailure::Restart,
            "stop" => OnFailure::Stop,
            other => {
                return Err(Error::invalid(format!(
                    "invalid healthcheck action {other:?}: must be one of none, kill, restart, stop"
                )));
            }
        })
    }

    fn is_none(&self) -> bool {
        *self == OnFailure::None
    }

    pub fn name(self) -> &'static str {
        match self {
            OnFailure::None => "none",
            OnFailure::Kill => "kill",
            OnFailure::Restart => "restart",
            OnFailure::Stop => "stop",
        }
    }
}

/// `run`/`create`'s healthcheck flags, as given.
#[derive(Debug, Clone, Default)]
pub struct HealthFlags {
    /// `--health-cmd`: a shell command, a JSON array (`["CMD", …]`), or `none`.
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u32>,
    pub on_failure: Option<String>,
    /// `--no-healthcheck`: none, not even the image's.
    pub disabled: bool,
    /// `--health-startup-cmd` and its options ([`startup`]).
    pub startup_cmd: Option<String>,
    pub startup_interval: Option<String>,
    pub startup_timeout: Option<String>,
    pub startup_retries: Option<u32>,
    pub startup_success: Option<u32>,
}

impl HealthFlags {
    fn any_option(&self) -> bool {
        self.interval.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
            || self.retries.is_some()
            || self.on_failure.is_some()
    }
}

/// A Go duration flag (`30s`, `1m30s`; `disable` for the interval) in nanoseconds.
fn duration_flag(flag: &str, value: &str, allow_disable: bool) -> Result<i64> {
    if allow_disable && value == "disable" {
        return Ok(0);
    }
    let ns = crate::build::parse::duration::parse_go_duration(value)
        .map_err(|e| Error::invalid(format!("invalid {flag} {value:?}: {e}")))?;
    i64::try_from(ns)
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::invalid(format!("{flag} {value:?} must not be negative")))
}

/// The test of `--health-cmd`: `none` turns checks off; a JSON array is taken as written
/// (Podman's rule); anything else is a shell command.
fn parse_test(cmd: &str) -> Result<Option<Vec<String>>> {
    let cmd = cmd.trim();
    if cmd.is_empty() {
        return Err(Error::invalid("healthcheck-command must not be empty"));
    }
    if cmd.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if cmd.starts_with('[') {
        let v: Vec<String> = serde_json::from_str(cmd)
            .map_err(|e| Error::invalid(format!("invalid --health-cmd {cmd:?}: {e}")))?;
        return match v.first().map(String::as_str) {
            Some("NONE") => Ok(None),
            Some("CMD" | "CMD-SHELL") if v.len() > 1 => Ok(Some(v)),
            Some(_) => {
                let mut t = vec!["CMD".to_string()];
                t.extend(v);
                Ok(Some(t))
            }
            None => Err(Error::invalid("healthcheck-command must not be empty")),
        };
    }
    Ok(Some(vec!["CMD-SHELL".into(), cmd.to_string()]))
}

/// The check a new container gets: the flags over the image's, Podman's defaults for what
/// neither says; None when there is none (or `--no-healthcheck`, `--health-cmd none`).
pub fn resolve(
    flags: &HealthFlags,
    image: Option<&serde_json::Value>,
) -> Result<Option<HealthConfig>> {
    if flags.disabled {
        if flags.cmd.is_some() || flags.any_option() {
            return Err(Error::invalid(
                "cannot specify both --no-healthcheck and other HealthCheck flags",
            ));
        }
        return Ok(None);
    }
    let from_image: Option<HealthConfig> = image
        .filter(|v| !v.is_null())
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|e| Error::other(format!("reading the image's Healthcheck: {e}")))?;
    let mut hc = match &flags.cmd {
        Some(cmd) => match parse_test(cmd)? {
            Some(test) => HealthConfig {
                test,
                interval: 0,
                timeout: 0,
                start_period: 0,
                retries: 0,
                on_failure: OnFailure::None,
            },
            None => return Ok(None),
        },
        None => match from_image {
            Some(h) if h.test.first().map(String::as_str) != Some("NONE") && !h.test.is_empty() => {
                h
            }
            _ => {
                if let Some(a) = &flags.on_failure {
                    let action = OnFailure::parse(a)?;
                    if action != OnFailure::None {
                        return Err(Error::invalid(format!(
                            "cannot set on-failure action to {} without a health check",
                            action.name()
                        )));
                    }
                }
                return Ok(None);
            }
        },
    };
    if let Some(v) = &flags.interval {
        hc.interval = duration_flag("healthcheck-interval", v, true)?;
    } else if hc.interval == 0 {
        hc.interval = DEFAULT_INTERVAL;
    }
    if let Some(v) = &flags.timeout {
        hc.timeout = duration_flag("healthcheck-timeout", v, false)?;
        if hc.timeout < 1_000_000_000 {
            return Err(Error::invalid(
                "healthcheck-timeout must be at least 1 second",
            ));
        }
    } else if hc.timeout == 0 {
        hc.timeout = DEFAULT_TIMEOUT;
    }
    if let Some(v) = &flags.start_period {
        hc.start_period = duration_flag("healthcheck-start-period", v, false)?;
    }
    if let Some(r) = flags.retries {
        if r < 1 {
            return Err(Error::invalid("healthcheck-retries must be greater than 0"));
        }
        hc.retries = r;
    } else if hc.retries == 0 {
        hc.retries = DEFAULT_RETRIES;
    }
    if let Some(a) = &flags.on_failure {
        hc.on_failure = OnFailure::parse(a)?;
    }
    Ok(Some(hc))
}

/// One check's result, as Podman's log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub exit_code: i32,
    pub output: String,
}

/// `healthcheck.log`, and inspect's `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub status: String,
    pub failing_streak: u32,
    /// None (Go's nil, `null`) in the inspect of a container without a check.
    pub log: Option<Vec<HealthResult>>,
}

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

impl HealthLog {
    /// Podman's `updateHealthCheckLog`: success is healthy at once; a failure outside the
    /// start period adds to the streak, and the streak reaching `retries` is unhealthy. A
    /// container that has not passed yet stays `starting` until then.
    pub fn record(&mut self, result: HealthResult, retries: u32, in_start_period: bool) {
        if result.exit_code == 0 {
            self.status = HEALTHY.into();
            self.failing_streak = 0;
        } else {
            if self.status.is_empty() {
                self.status = STARTING.into();
            }
            if !in_start_period {
                self.failing_streak += 1;
                if self.failing_streak >= retries.max(1) {
                    self.status = UNHEALTHY.into();
                }
            }
        }
        let log = self.log.get_or_insert_with(Vec::new);
        log.push(result);
        if log.len() > KEPT_RESULTS {
            let extra = log.len() - KEPT_RESULTS;
            log.drain(..extra);
        }
    }
}

/// What `healthcheck run` reports.
#[derive(Debug, Clone)]
pub struct HealthReport {
    pub status: String,
    /// The check was the startup check, which has not passed yet.
    pub startup_pending: bool,
}

impl Engine {
    /// Beside the container's other files, so it outlives the run (inspect of an exited
    /// container shows its last results, as Podman's) and goes with the container.
    fn health_log_path(&self, id: &str) -> PathBuf {
        self.paths.container_dir(id).join("healthcheck.log")
    }

    fn startup_state_path(&self, id: &str) -> PathBuf {
        self.paths.container_dir(id).join("healthcheck.startup")
    }

    fn startup_state(&self, id: &str) -> startup::StartupState {
        std::fs::read_to_string(self.startup_state_path(id))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// The container's health log, if it has a check and the log was started.
    pub fn health_log(&self, c: &Container) -> Option<HealthLog> {
        c.config.healthcheck.as_ref()?;
        let text = std::fs::read_to_string(self.health_log_path(c.id())).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The status `ps` shows: a running container's, when it has a check.
    pub fn health_status(&self, c: &Container) -> Option<String> {
        if c.state.status != Status::Running {
            return None;
        }
        self.health_log(c)
            .map(|l| l.status)
            .filter(|s| !s.is_empty())
    }

    /// At every start: the status is `starting` again, with an empty log.
    pub(crate) fn health_reset(&self, c: &Container) -> Result<()> {
        if c.config.healthcheck.is_none() {
            return Ok(());
        }
        let _ = std::fs::remove_file(self.startup_state_path(c.id()));
        let log = HealthLog {
            status: STARTING.into(),
            failing_streak: 0,
            log: Some(Vec::new()),
        };
        self.write_health_log(c.id(), &log)
    }

    fn write_health_log(&self, id: &str, log: &HealthLog) -> Result<()> {
        let path = self.health_log_path(id);
        let tmp = path.with_extension("log.tmp");
        let text = serde_json::to_string(log).map_err(|e| Error::other(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| Error::io("writing", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("writing", &path, e))
    }

    /// `healthcheck run CONTAINER`: run the check once, log it, move the status (and act on
    /// `--health-on-failure` when it turns unhealthy); the new status.
    pub fn healthcheck_run(&self, reference: &str) -> Result<HealthReport> {
        let c = self.container(reference)?;
        let Some(hc) = c.config.healthcheck.clone() else {
            return Err(Error::invalid(format!(
                "container {} has no defined healthcheck",
                c.id()
            )));
        };
        if c.state.status != Status::Running {
            return Err(Error::BadState {
                id: c.id().to_string(),
                state: c.state.status.to_string(),
                what: format!("container {} is not running", c.id()),
            });
        }
        // Until the startup check passes, it runs instead, always in the start period.
        let startup = c
            .config
            .startup_healthcheck
            .as_ref()
            .filter(|_| !self.startup_state(c.id()).passed);
        let (test, timeout) = match startup {
            Some(s) => (&s.test, s.timeout),
            None => (&hc.test, hc.timeout),
        };
        let command = match test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            Some("CMD") => test[1..].to_vec(),
            _ => test.clone(),
        };
        let start = Utc::now();
        let (exit_code, output) = self.run_check(&c, command, timeout)?;
        let result = HealthResult {
            start,
            end: Utc::now(),
            exit_code,
            output,
        };
        let in_start_period = startup.is_some()
            || (hc.start_period > 0
                && c.state.started_at.is_some_and(|s| {
                    (Utc::now() - s).num_nanoseconds().unwrap_or(i64::MAX) < hc.start_period
                }));
        let _lock = self.lock(c.id())?;
        let mut log = self.health_log(&c).unwrap_or_default();
        let before = log.status.clone();
        log.record(result, hc.retries, in_start_period);
        self.write_health_log(c.id(), &log)?;
        let step = match startup {
            Some(s) => {
                let mut state = self.startup_state(c.id());
                let step = state.record(exit_code == 0, s);
                let path = self.startup_state_path(c.id());
                let text =
                    serde_json::to_string(&state).map_err(|e| Error::other(e.to_string()))?;
                std::fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))?;
                Some(step)
            }
            None => None,
        };
        self.emit_health_status(&c, &log.status);
        drop(_lock);
        if step == Some(startup::StartupStep::Restart) {
            // Podman restarts a container whose startup check failed too often.
            if let Err(e) = self.restart(c.id(), None) {
                tracing::warn!(id = c.id(), error = %e, "restarting after the startup healthcheck");
            }
        } else if log.status == UNHEALTHY && before != UNHEALTHY {
            self.act_on_failure(&c, hc.on_failure);
        }
        Ok(HealthReport {
            status: log.status,
            startup_pending: matches!(step, Some(startup::StartupStep::Pending)),
        })
    }

    /// The test as an exec session: 0 or 1 (Podman records no other code) and its output
    /// as Podman keeps it (lines joined, the first 500 bytes); -1 and Podman's message when
    /// it runs past the timeout (it is killed then: Podman lets it run on).
    fn run_check(
        &self,
        c: &Container,
        command: Vec<String>,
        timeout: i64,
    ) -> Result<(i32, String)> {
        let opts = super::exec::ExecOptions {
            command,
            ..Default::default()
        };
        let mut started = self.exec_start(c.id(), &opts)?;
        let timeout = Duration::from_nanos(timeout.max(1) as u64);
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut timed_out = false;
        if let Some(mut socket) = started.socket.take() {
            let mut buf = [0u8; 8192];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                let _ = socket.set_read_timeout(Some(left));
                match socket.read(&mut buf) {
                    Ok(0) => break,
                    // Each message starts with the stream's number (conmon's attach socket).
                    Ok(n) => out.extend_from_slice(&buf[1..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        timed_out = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        if timed_out {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(started.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = self.exec_finish(started);
            return Ok((
                -1,
                format!(
                    "healthcheck command exceeded timeout of {}",
                    super::top::go_duration(timeout)
                ),
            ));
        }
        let code = self.exec_finish(started)?;
        Ok((i32::from(code != 0), kept_output(&out)))
    }

    fn act_on_failure(&self, c: &Container, action: OnFailure) {
        let done = match action {
            OnFailure::None => return,
            OnFailure::Kill => self.kill(c.id(), 9).map(drop),
            OnFailure::Stop => self.stop(c.id(), None).map(drop),
            OnFailure::Restart => self.restart(c.id(), None).map(drop),
        };
        if let Err(e) = done {
            tracing::warn!(id = c.id(), error = %e, "acting on an unhealthy container");
        }
    }

    /// The monitor's arguments that schedule the checks: every interval, this binary's
    /// `healthcheck run ID` with the store's flags. Only peapod-monitor takes them (conmon
    /// refuses options it does not know): with another monitor, none, and a warning.
    pub(crate) fn health_monitor_args(
        &self,
        c: &Container,
        monitor: &std::path::Path,
    ) -> Vec<String> {
        let Some(hc) = &c.config.healthcheck else {
            return Vec::new();
        };
        if hc.interval <= 0 {
            return Vec::new();
        }
        let ours = monitor
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("peapod-monitor"));
        if !ours {
            tracing::warn!(
                "healthchecks of {} are not scheduled: only peapod-monitor runs them ({} does not); run `peapod healthcheck run` from a timer",
                c.name(),
                monitor.display()
            );
            return Vec::new();
        }
        let mut command = self.global_command();
        command.extend([
            "healthcheck".into(),
            "run".into(),
            "--timer".into(),
            c.id().to_string(),
        ]);
        let mut args = vec![
            "--health-interval-ms".to_string(),
            (hc.interval / 1_000_000).max(1).to_string(),
            "--health-command".to_string(),
            command[0].clone(),
        ];
        if let Some(s) = c
            .config
            .startup_healthcheck
            .as_ref()
            .filter(|s| s.interval > 0)
        {
            args.push("--health-startup-interval-ms".into());
            args.push((s.interval / 1_000_000).max(1).to_string());
        }
        for a in &command[1..] {
            args.push("--health-command-arg".into());
            args.push(a.clone());
        }
        args
    }
}

/// Podman's record of a check's output: its lines joined with `\n` (so no newline at the
/// end), cut to the first 500 bytes.
fn kept_output(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    let joined = text.lines().collect::<Vec<_>>().join("\n");
    let mut end = joined.len().min(KEPT_OUTPUT);
    while !joined.is_char_boundary(end) {
        end -= 1;
    }
    joined[..end].to_string()
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
