//! The healthcheck timer (peapod-monitor only; conmon has none): every
//! `--health-interval-ms`, while the container runs, the monitor runs `--health-command`
//! with its `--health-command-arg`s (the engine's `healthcheck run ID`), one at a time,
//! the next an interval after the last one ended. The engine runs the check, logs it and
//! moves the status; the monitor only keeps time, so checks run without systemd.
//!
//! With `--health-startup-interval-ms`, the first checks are the startup check's, at its
//! interval: the command exits with [`STARTUP_PENDING`] while the startup check has not
//! passed, and the first other exit status moves the timer to the regular interval.
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::cli::Options;

/// The check command's exit status while the startup check has not passed yet.
pub const STARTUP_PENDING: i32 = 3;

pub struct HealthTimer {
    interval: Duration,
    /// The startup check's interval, while it has not passed.
    startup: Option<Duration>,
    next: Instant,
    command: PathBuf,
    args: Vec<String>,
    running: Option<Pid>,
}

impl HealthTimer {
    /// A timer when the options ask for one.
    pub fn new(opts: &Options) -> Option<HealthTimer> {
        let interval = Duration::from_millis(opts.health_interval_ms.filter(|ms| *ms > 0)?);
        let startup = opts
            .health_startup_interval_ms
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        Some(HealthTimer {
            interval,
            startup,
            next: Instant::now() + startup.unwrap_or(interval),
            command: opts.health_command.clone()?,
            args: opts.health_command_args.clone(),
            running: None,
        })
    }

    /// Milliseconds until the next check is due; None while one runs.
    pub fn wait_ms(&self) -> Option<u128> {
        if self.running.is_some() {
            return None;
        }
        Some(
            self.next
                .saturating_duration_since(Instant::now())
                .as_millis()
                + 1,
        )
    }

    /// Start the check if it is due and none runs. Its output goes nowhere: the engine
    /// keeps the result.
    pub fn fire_if_due(&mut self) {
        if self.running.is_some() || Instant::now() < self.next {
            return;
        }
        let mut cmd = Command::new(&self.command);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: runs in the forked child before exec; only async-signal-safe calls: the
        // monitor's blocked signals are unblocked, and no descriptor of the monitor (logs,
        // attach socket, pipes) reaches the check beyond stdio.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                let empty: libc::sigset_t = std::mem::zeroed();
                libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(child) => self.running = Some(Pid::from_raw(child.id() as i32)),
            // Try again an interval later.
            Err(_) => self.next = Instant::now() + self.current(),
        }
    }

    fn current(&self) -> Duration {
        self.startup.unwrap_or(self.interval)
    }

    /// `pid` was reaped with exit status `code`: true when it was the running check (the
    /// next is then scheduled; the startup phase ends with its first other status).
    pub fn reaped(&mut self, pid: Pid, code: i32) -> bool {
        if self.running != Some(pid) {
            return false;
        }
        self.running = None;
        if code != STARTUP_PENDING {
            self.startup = None;
        }
        self.next = Instant::now() + self.current();
        true
    }
}
