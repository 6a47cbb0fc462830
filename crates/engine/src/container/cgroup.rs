//! Removing a container's cgroup when the runtime did not (its state was lost, or its
//! `create` was killed half-way). The runtime makes the cgroup at `linux.cgroupsPath` under
//! every mounted hierarchy (each v1 controller, the v2 tree); `runtime delete` removes it.
//! This is the backstop the ledger runs after that: whatever is left is emptied (its
//! processes killed) and removed, deepest first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Every cgroup hierarchy mounted in this mount namespace.
fn hierarchies() -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| {
            // Fields after " - " are: fstype, source, super options.
            let (head, tail) = l.split_once(" - ")?;
            let fstype = tail.split(' ').next()?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            head.split(' ').nth(4).map(PathBuf::from)
        })
        .collect()
}

/// Remove the cgroup `path` (`/peapod/peapod-<id>`, or `--cgroups=split`'s
/// `…/libpod-payload-<id>`) from every hierarchy; fine if it is not there.
pub fn remove(path: &str) -> Result<()> {
    let rel = path.trim_start_matches('/');
    // Never anything but a container's own cgroup (`…/peapod-<id>`): an empty or parent
    // path would take others' with it.
    let own = rel
        .rsplit('/')
        .next()
        .is_some_and(|l| l.starts_with("peapod-") || l.starts_with("libpod-payload-"));
    if !own
        || rel
            .split('/')
            .any(|c| c == ".." || c == "." || c.is_empty())
    {
        return Err(Error::invalid(format!(
            "refusing to remove cgroup {path:?}"
        )));
    }
    let mut errors = Vec::new();
    for h in hierarchies() {
        let dir = h.join(rel);
        if dir.is_dir()
            && let Err(e) = remove_tree(&dir)
        {
            errors.push(e);
        }
    }
    Error::collect(errors)
}

/// The containers' cgroups (`<parent>/peapod-<id>`) under `parent` in any hierarchy, as
/// cgroup paths.
pub fn under(parent: &str) -> Vec<String> {
    let rel = parent.trim_matches('/');
    let mut out = std::collections::BTreeSet::new();
    for h in hierarchies() {
        for e in std::fs::read_dir(h.join(rel))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("peapod-") && e.file_type().is_ok_and(|t| t.is_dir()) {
                out.insert(format!("/{rel}/{name}"));
            }
        }
    }
    out.into_iter().collect()
}

fn remove_tree(dir: &Path) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                kill_members(dir);
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(Error::io("removing cgroup", dir, e)),
        }
    }
}

/// SIGKILL every process still in the cgroup `dir`.
fn kill_members(dir: &Path) {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_anything_but_a_cgroup_of_its_own() {
        for bad in [
            "",
            "/",
            "/peapod",
            "/peapod/../x",
            "/a//peapod-x",
            "/peapod-x/..",
        ] {
            assert!(remove(bad).is_err(), "{bad:?}");
        }
        // A cgroup that exists nowhere is fine.
        remove("/peapod/peapod-does-not-exist-0123").unwrap();
        assert!(!hierarchies().is_empty() || !Path::new("/sys/fs/cgroup").exists());
    }
}
