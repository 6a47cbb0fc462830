//! Bring the database's view of a container in line with what the monitor, the runtime and
//! the kernel say: the exit file, the oom file, whether the monitor and the container still
//! live, and what the runtime knows of a container whose start was interrupted.
//!
//! An interrupted start (the `peapod` process SIGKILLed, or crashed, half-way through `run`
//! or `start`) leaves the database behind: "created" with resources already held, or
//! "initialized" for a container the runtime runs. Whoever next finds it with its lock free
//! (no start is in progress then) repairs it, as Podman users expect to find it:
//! - created, holding anything: everything it holds is released (the runtime's container
//!   too); it is created, and `start` starts it afresh;
//! - initialized, and the runtime runs it: it is running (its pid from the runtime);
//! - initialized, created in the runtime with its monitor alive: left for `start`;
//! - initialized, its monitor gone without an exit code: released, back to created.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::state::Holder;

/// The start time of a process (clock ticks since boot), or None if it does not exist.
pub fn process_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // field 3 (state) is fields[0]; starttime is field 22 → fields[19].
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Is `pid` alive and still the process that started at `start`?
pub fn alive(pid: i32, start: u64) -> bool {
    match process_start_time(pid) {
        Some(s) => start == 0 || s == start,
        None => false,
    }
}

/// What the monitor left when the container exited.
pub struct ExitInfo {
    pub code: i32,
    pub at: DateTime<Utc>,
    pub oom: bool,
}

impl Engine {
    pub(crate) fn read_exit(&self, id: &str) -> Option<ExitInfo> {
        let path = self.paths.exit_file(id);
        let text = std::fs::read_to_string(&path).ok()?;
        let code = peapod_monitor::parse_exit_file(&text)?;
        let at = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map(DateTime::<Utc>::from)
            .unwrap_or_else(|_| Utc::now());
        let oom = self.paths.persist_dir(id).join("oom").exists();
        Some(ExitInfo { code, at, oom })
    }

    /// Move an active container to Stopped if it has exited. Never moves a state backwards:
    /// the write only lands if nobody changed the row since we read it.
    pub(crate) fn reconcile(&self, c: &mut Container) -> Result<()> {
        if !c.state.status.is_active() {
            return Ok(());
        }
        let before = c.state.clone();
        if let Some(exit) = self.read_exit(c.id()) {
            mark_stopped(c, exit.code, exit.at, exit.oom);
        } else if c.state.conmon_pid > 0
            && !alive(c.state.conmon_pid, c.state.conmon_start)
            && !alive(c.state.pid, c.state.pid_start)
        {
            // The monitor died (killed?) and took the exit code with it; the container is gone too.
            // The exit file may have landed just before the monitor went: look once more.
            match self.read_exit(c.id()) {
                Some(exit) => mark_stopped(c, exit.code, exit.at, exit.oom),
                None => {
                    mark_stopped(c, -1, Utc::now(), false);
                    c.state.error = "the container's monitor exited before the container; its exit code is unknown".into();
                }
            }
        } else {
            return Ok(());
        }
        if !self.db.update_state_if(c.id(), &before, &c.state)? {
            // Someone else moved it first: take theirs.
            if let Some(fresh) = self.db.container(c.id())? {
                *c = fresh;
            }
        } else {
            self.emit_died(c);
        }
        Ok(())
    }

    /// For readers: repair an interrupted start if nobody is working on the container (its
    /// lock is free; a start in progress holds it). Failures are logged: a read still
    /// answers, and the next start or removal reports what could not be released.
    pub(crate) fn repair_if_abandoned(&self, c: &mut Container) {
        let candidate = match c.state.status {
            Status::Initialized => true,
            Status::Created => self
                .db
                .holds_any(&Holder::container(c.id()))
                .unwrap_or(false),
            _ => false,
        };
        if !candidate {
            return;
        }
        let Ok(Some(_lock)) = crate::state::lock::Lock::try_acquire(&self.paths.locks(), c.id())
        else {
            return;
        };
        // Read again under the lock: whoever held it last may have moved it on.
        match self.db.container(c.id()) {
            Ok(Some(fresh)) => *c = fresh,
            _ => return,
        }
        let repaired = self.reconcile(c).and_then(|()| self.repair_interrupted(c));
        if let Err(e) = repaired {
            tracing::warn!(id = c.id(), error = %e, "repairing an interrupted start");
        }
    }

    /// Repair an interrupted start (see the module doc). The caller holds the lock.
    pub(crate) fn repair_interrupted(&self, c: &mut Container) -> Result<()> {
        match c.state.status {
            Status::Created => {
                if !self.db.holds_any(&Holder::container(c.id()))? {
                    return Ok(());
                }
                let errors = self.release_held(c);
                self.db.update_state(c.id(), &c.state)?;
                Error::collect(errors)
            }
            Status::Initialized => {
                // A `runtime start` its caller left running decides the answer: let it end.
                let rt = self.runtime()?;
                crate::ledger::wait_for_runtime_calls(&rt.path, c.id());
                let known = rt.state(c.id())?;
                let monitor =
                    c.state.conmon_pid > 0 && alive(c.state.conmon_pid, c.state.conmon_start);
                match known.as_ref().map(|s| s.status.as_str()) {
                    Some(st @ ("running" | "paused")) => {
                        let pid = known.as_ref().map(|s| s.pid).unwrap_or(0);
                        c.state.status = if st == "paused" {
                            Status::Paused
                        } else {
                            Status::Running
                        };
                        if pid > 0 {
                            c.state.pid = pid;
                            c.state.pid_start = process_start_time(pid).unwrap_or(0);
                        }
                        c.state.started_at = Some(Utc::now());
                        c.state.stopped_by_user = false;
                        self.db.update_state(c.id(), &c.state)
                    }
                    // `start` runs it; or its monitor reports its exit soon.
                    _ if monitor => Ok(()),
                    _ if self.read_exit(c.id()).is_some() => Ok(()),
                    _ => {
                        self.abort_init(c);
                        Ok(())
                    }
                }
            }
            _ => Ok(()),
        }
    }

    /// The exit of the run `c` (as the caller last saw it) that the database recorded: the
    /// row moved on to stopped or exited, or the container was removed and its code kept.
    fn recorded_exit(&self, c: &Container) -> Option<ExitInfo> {
        match self.db.container(c.id()).ok()? {
            Some(row)
                if !row.state.status.is_active()
                    && row.state.started_at == c.state.started_at
                    && row.state.finished_at.is_some() =>
            {
                Some(ExitInfo {
                    code: row.state.exit_code,
                    at: row.state.finished_at?,
                    oom: row.state.oom_killed,
                })
            }
            Some(_) => None,
            None => {
                let (code, at) = self.db.kept_exit_code(c.id()).ok()??;
                Some(ExitInfo {
                    code,
                    at,
                    oom: false,
                })
            }
        }
    }

    /// Wait until the container is no longer running (exit file, or the monitor and the
    /// process both gone), at most `timeout` (None: as long as it takes). None on timeout.
    /// The exit file goes once the code is in the database: then the code comes from there.
    pub(crate) fn wait_for_exit(
        &self,
        c: &Container,
        timeout: Option<Duration>,
    ) -> Option<ExitInfo> {
        let deadline = timeout.map(|t| Instant::now() + t);
        // Every millisecond at first: an attached `run` comes here as the container's output
        // ends, and the exit file follows within a few; the sooner it is seen, the sooner
        // `run --rm` takes the container's lock for its removal (else the monitor's exit
        // command, which starts later, does it and the command waits for that).
        let mut sleep = Duration::from_millis(1);
        let mut polls = 0u32;
        loop {
            if let Some(e) = self.read_exit(c.id()).or_else(|| self.recorded_exit(c)) {
                return Some(e);
            }
            let monitor_alive =
                c.state.conmon_pid > 0 && alive(c.state.conmon_pid, c.state.conmon_start);
            if !monitor_alive && !alive(c.state.pid, c.state.pid_start) {
                return self
                    .read_exit(c.id())
                    .or_else(|| self.recorded_exit(c))
                    .or(Some(ExitInfo {
                        code: -1,
                        at: Utc::now(),
                        oom: false,
                    }));
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return None;
                }
                sleep = sleep.min(d.saturating_duration_since(Instant::now()));
            }
            std::thread::sleep(sleep);
            polls += 1;
            if polls >= 10 {
                sleep = (sleep * 2).min(Duration::from_millis(50));
            }
        }
    }
}

pub(crate) fn mark_stopped(c: &mut Container, code: i32, at: DateTime<Utc>, oom: bool) {
    c.state.status = Status::Stopped;
    c.state.exit_code = code;
    c.state.finished_at = Some(at);
    c.state.oom_killed = oom;
    c.state.pid = 0;
    c.state.pid_start = 0;
    c.state.conmon_pid = 0;
    c.state.conmon_start = 0;
    // Every exec'd process died with the container's pid namespace.
    c.state.exec_sessions.clear();
}
