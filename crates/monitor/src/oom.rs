//! OOM watching: cgroup v1 `memory.oom_control` through an eventfd, or cgroup v2
//! `memory.events` through inotify (an `oom_kill` count that goes up).

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

#[derive(Debug)]
pub enum OomWatch {
    V1 {
        efd: EventFd,
        _control: std::fs::File,
        /// `memory.oom_control`: gone when the cgroup was removed.
        control_path: PathBuf,
    },
    V2 {
        inotify: Inotify,
        events: PathBuf,
        seen: u64,
    },
}

/// The container's memory cgroup directory from `/proc/<pid>/cgroup` contents:
/// the v1 `memory` hierarchy if there is one, else the v2 unified path.
pub fn memory_cgroup(proc_cgroup: &str, root: &Path) -> Option<(PathBuf, bool)> {
    let mut unified = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == "memory") {
            return Some((root.join("memory").join(rel), false));
        }
        if ctrls.is_empty() {
            unified = Some((root.join(rel), true));
        }
    }
    unified.filter(|(p, _)| p.join("memory.events").exists())
}

/// The `oom_kill` (or `oom`) counter in a v2 `memory.events` file.
pub fn oom_count(events: &str) -> u64 {
    events
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, _)| *k == "oom_kill" || *k == "oom")
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

impl OomWatch {
    /// Start watching the container `pid`'s memory cgroup; None when it cannot be watched.
    pub fn new(pid: i32) -> Option<OomWatch> {
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let (dir, v2) = memory_cgroup(&cg, Path::new("/sys/fs/cgroup"))?;
        if v2 {
            let events = dir.join("memory.events");
            let seen = oom_count(&std::fs::read_to_string(&events).ok()?);
            let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
            inotify.add_watch(&events, AddWatchFlags::IN_MODIFY).ok()?;
            return Some(OomWatch::V2 {
                inotify,
                events,
                seen,
            });
        }
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let control_path = dir.join("memory.oom_control");
        let control = std::fs::File::open(&control_path).ok()?;
        let efd = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC).ok()?;
        let mut ec = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.event_control"))
            .ok()?;
        ec.write_all(format!("{} {}", efd.as_fd().as_raw_fd(), control.as_raw_fd()).as_bytes())
            .ok()?;
        Some(OomWatch::V1 {
            efd,
            _control: control,
            control_path,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            OomWatch::V1 { efd, .. } => efd.as_fd(),
            OomWatch::V2 { inotify, .. } => inotify.as_fd(),
        }
    }

    /// Consume the readiness; true when an OOM kill happened.
    pub fn fired(&mut self) -> bool {
        match self {
            OomWatch::V1 {
                efd, control_path, ..
            } => {
                if !efd.read().is_ok_and(|n| n > 0) {
                    return false;
                }
                // The eventfd also fires when the cgroup is removed (conmon checks the
                // same way). The kernel notifies before it kills, so the `oom_kill`
                // counter may not have moved yet: do not wait for it.
                control_path.exists()
            }
            OomWatch::V2 {
                inotify,
                events,
                seen,
            } => {
                let _ = inotify.read_events();
                let now = std::fs::read_to_string(&*events)
                    .map(|s| oom_count(&s))
                    .unwrap_or(*seen);
                let up = now > *seen;
                *seen = now;
                up
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_memory_cgroup() {
        let root = Path::new("/sys/fs/cgroup");
        let v1 = "12:pids:/x\n5:memory:/machine/abc\n0::/user.slice\n";
        assert_eq!(
            memory_cgroup(v1, root),
            Some((root.join("memory/machine/abc"), false))
        );
        let none = "3:cpu:/x\n";
        assert_eq!(memory_cgroup(none, root), None);
    }

    #[test]
    fn counts_oom_kills() {
        assert_eq!(oom_count("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n"), 2);
        assert_eq!(oom_count("low 0\n"), 0);
    }
}
