//! Making and releasing what containers and pods hold, through the ledger
//! ([`crate::state::ledger`]).
//!
//! The rule every create path follows: record the resource (an intent row, committed), make
//! it, confirm the row. [`Engine::hold`] does the three for one resource; paths that make
//! several at once (the monitor creates the container, its cgroup and itself) record them
//! together first. The rule every release path follows: [`Engine::release_all`] releases
//! what the ledger says a holder holds, newest first, keeps going past failures, and drops
//! a row only once its release worked. Each release is idempotent, so a row whose resource
//! was never made, or was released before the row could be dropped, costs nothing.
//!
//! Machine-wide leases are only ever released by their holder: the lease file names it, and
//! [`crate::network::ipam`] leaves a lease alone that names someone else.

use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Engine;
use crate::container::reconcile::alive;
use crate::error::{Error, Result};
use crate::network::{ipam, netns};
use crate::state::{Held, Holder, Resource};

impl Engine {
    /// Who a lease names for `holder`: a container's leases last as long as its run
    /// directory, a pod's as long as the pod's.
    pub(crate) fn lease_owner(&self, holder: &Holder) -> ipam::Owner {
        match holder {
            Holder::Container(id) => ipam::Owner {
                run_dir: self.paths.container_run_dir(id),
                id: id.clone(),
            },
            Holder::Pod(id) => ipam::Owner {
                run_dir: self.pod_dir(id),
                id: format!("pod-{id}"),
            },
        }
    }

    /// Record `r` for `holder`, make it with `make` (which may fill in what it learns, a
    /// pid), and confirm it. When `make` fails, whatever part of `r` it made is released and
    /// the row goes with it; the error is `make`'s.
    pub(crate) fn hold<T>(
        &self,
        holder: &Holder,
        r: Resource,
        make: impl FnOnce(&mut Resource) -> Result<T>,
    ) -> Result<T> {
        let seq = self.db.record(holder, &r)?;
        let mut r = r;
        match make(&mut r) {
            Ok(v) => {
                self.db.confirm(seq, &r)?;
                Ok(v)
            }
            Err(e) => {
                match self.release_one(holder, &r) {
                    Ok(()) => {
                        let _ = self.db.forget(seq);
                    }
                    Err(re) => {
                        tracing::warn!(%holder, resource = %r.describe(), error = %re, "undoing a failed make");
                    }
                }
                Err(e)
            }
        }
    }

    /// [`Engine::hold`] for a claim that may lose to someone else (a lease): `claim` answers
    /// whether it got the resource. When it did not, the row goes and nothing is released
    /// (what exists is the other holder's).
    pub(crate) fn hold_if(
        &self,
        holder: &Holder,
        r: Resource,
        claim: impl FnOnce() -> Result<bool>,
    ) -> Result<bool> {
        let seq = self.db.record(holder, &r)?;
        match claim() {
            Ok(true) => {
                self.db.confirm(seq, &r)?;
                Ok(true)
            }
            Ok(false) => {
                self.db.forget(seq)?;
                Ok(false)
            }
            Err(e) => {
                if self.release_one(holder, &r).is_ok() {
                    let _ = self.db.forget(seq);
                }
                Err(e)
            }
        }
    }

    /// Release everything `holder` holds, newest first. Keeps going past failures and
    /// returns them, each naming the resource and its holder; their rows stay for a retry.
    pub(crate) fn release_all(&self, holder: &Holder) -> Vec<Error> {
        self.release_where(holder, |_| true)
    }

    /// [`Engine::release_all`] of the resources `pick` chooses.
    pub(crate) fn release_where(
        &self,
        holder: &Holder,
        pick: impl Fn(&Resource) -> bool,
    ) -> Vec<Error> {
        let held = match self.db.held(holder) {
            Ok(h) => h,
            Err(e) => return vec![e],
        };
        let mut errors = Vec::new();
        // The network helper's teardown (interfaces, firewall rules) takes long and does not
        // depend on what goes before it (the monitor, the runtime's container, the cgroup):
        // it starts now and is waited for at its place in the order. When the namespace's
        // pin goes in this release too (after the teardown: it was made first), the
        // container's interfaces are left for the kernel to destroy with the namespace.
        let pins: Vec<&std::path::Path> = held
            .iter()
            .filter(|h| pick(&h.resource))
            .filter_map(|h| match &h.resource {
                Resource::Pin { path } => Some(path.as_path()),
                _ => None,
            })
            .collect();
        let mut early = held
            .iter()
            .filter(|h| pick(&h.resource))
            .find_map(|h| match &h.resource {
                Resource::Network { netns, options } => {
                    let released = pins.contains(&std::path::Path::new(netns));
                    Some((
                        h.seq,
                        self.start_netsetup_teardown(netns, options, released),
                    ))
                }
                _ => None,
            });
        // Leases outlive a failed network teardown: its firewall rules may still send the
        // address or port to this holder's namespace, so neither may go to anyone else yet.
        let mut network_kept = false;
        let rows: Vec<Held> = held.into_iter().filter(|h| pick(&h.resource)).collect();
        for Held { seq, resource, .. } in beside_network(rows, early.as_ref().map(|(s, _)| *s)) {
            if network_kept && matches!(resource, Resource::Address { .. } | Resource::Ports { .. })
            {
                errors.push(Error::other(format!(
                    "keeping the {} of {holder}: its network teardown failed",
                    resource.describe()
                )));
                continue;
            }
            let result = match early.take_if(|(s, _)| *s == seq) {
                Some((_, helper)) => helper.and_then(|h| h.finish()).map(drop),
                None => self.release_one(holder, &resource),
            };
            network_kept |= result.is_err() && matches!(resource, Resource::Network { .. });
            match result {
                Ok(()) => {
                    if let Err(e) = self.db.forget(seq) {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(Error::other(format!(
                    "releasing the {} of {holder}: {e}",
                    resource.describe()
                ))),
            }
        }
        errors
    }

    /// Undo one resource. Fine if it does not exist (never made, or already released).
    pub(crate) fn release_one(&self, holder: &Holder, r: &Resource) -> Result<()> {
        match r {
            Resource::Rootfs { path } => Ok(crate::layer::unmount(path)?),
            Resource::Volumes => match self.db.container(holder.id())? {
                Some(c) => self.release_mounts(&c),
                None => Ok(()),
            },
            Resource::Pin { path } => netns::remove(path),
            Resource::Address { subnet, ip } => {
                ipam::release(subnet, *ip, &self.lease_owner(holder));
                Ok(())
            }
            Resource::Ports {
                protocols,
                host_ip,
                port,
                range,
            } => {
                let protos: Vec<&str> = protocols.iter().map(String::as_str).collect();
                let owner = self.lease_owner(holder);
                ipam::release_ports(&protos, host_ip, *port, *range, &owner);
                Ok(())
            }
            Resource::Network { netns, options } => {
                self.run_netsetup("teardown", netns, options).map(drop)
            }
            Resource::Helper {
                pidfile,
                comm,
                files,
            } => {
                crate::network::slirp::kill_recorded(pidfile, comm);
                for f in files {
                    let _ = std::fs::remove_file(f);
                }
                Ok(())
            }
            Resource::Cgroup { path } => crate::container::cgroup::remove(path),
            Resource::Runtime { id } => {
                let rt = self.runtime()?;
                // A container that ran to its end has no runtime call in flight: the monitor
                // wrote the exit file after its `create` returned and the process ended. The
                // scan of every command line is skipped then (it waits on each process's
                // memory lock: 1-57 ms measured here while compilers ran).
                if !self.paths.exit_file(id).exists() {
                    wait_for_runtime_calls(&rt.path, id);
                }
                rt.delete(id)?;
                rt.remove_half_made(id)
            }
            Resource::Monitor {
                id,
                pidfile,
                pid,
                start,
            } => self.release_monitor(id, pidfile, *pid, *start),
        }
    }

    /// Stop a monitor that will not finish by itself: one whose container never ran (its
    /// starter died) or was deleted under it. A monitor that wrote the exit file is running
    /// its exit command (which waits for the container's lock, likely ours) and exits after
    /// it: left alone, as is the monitor whose exit command we are.
    fn release_monitor(&self, id: &str, pidfile: &Path, pid: i32, start: u64) -> Result<()> {
        if self.paths.exit_file(id).exists() {
            return Ok(());
        }
        // Confirmed: its pid and start time. Else (its starter died before it reported) the
        // pid file, or any monitor process of this container.
        let found: Vec<(i32, u64)> = if pid > 0 {
            vec![(pid, start)]
        } else {
            match std::fs::read_to_string(pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .filter(|p| process_mentions(*p, id))
            {
                Some(p) => vec![(p, 0)],
                None => monitors_of(id).into_iter().map(|p| (p, 0)).collect(),
            }
        };
        let parent = nix::unistd::getppid().as_raw();
        for (pid, start) in found {
            if !alive(pid, start) || pid == parent {
                continue;
            }
            match kill(Pid::from_raw(pid), Signal::SIGKILL) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => return Err(Error::other(format!("killing monitor {pid}: {e}"))),
            }
            // Gone before the runtime's container and cgroup are released: its runtime
            // child dies with it, and nothing either does may land after the release.
            wait_gone(pid, start);
        }
        Ok(())
    }
}

/// The order of a release whose network teardown (row `network`) runs in the background:
/// what comes after it and does not depend on it (the rootfs and volume unmounts, each an
/// RCU grace period of the kernel) is released while the helper works; the leases, the
/// namespace's pin and any other network row follow the teardown, in their order.
fn beside_network(rows: Vec<Held>, network: Option<i64>) -> Vec<Held> {
    let Some(at) = network.and_then(|seq| rows.iter().position(|h| h.seq == seq)) else {
        return rows;
    };
    let mut rows = rows;
    let tail = rows.split_off(at);
    let (after, beside): (Vec<Held>, Vec<Held>) = tail.into_iter().partition(|h| {
        matches!(
            h.resource,
            Resource::Network { .. }
                | Resource::Address { .. }
                | Resource::Ports { .. }
                | Resource::Pin { .. }
        )
    });
    rows.extend(beside);
    rows.extend(after);
    rows
}

/// Monitor processes (conmon's command line: `-c <id>` with `--exit-dir`) of container `id`.
fn monitors_of(id: &str) -> Vec<i32> {
    processes_where(|args| {
        args.windows(2)
            .any(|w| w[0] == b"-c" && w[1] == id.as_bytes())
            && args.contains(&b"--exit-dir".as_slice())
    })
}

/// Pids of the processes (other than this one) whose argv satisfies `pick`.
fn processes_where(pick: impl Fn(&[&[u8]]) -> bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmd.split(|c| *c == 0).collect();
            pick(&args)
        })
        .collect()
}

/// Wait (a little) until `pid` is gone.
fn wait_gone(pid: i32, start: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(pid, start) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A `runtime create` or `start` of container `id` whose caller died (its monitor, killed by
/// a release; the `peapod` that ran `start`): it dies with its caller, but not at once.
/// Wait until it has (killing it if it lingers), so nothing it does lands after a release or
/// a repair reads the runtime's state.
pub(crate) fn wait_for_runtime_calls(runtime: &Path, id: &str) {
    let runtime = runtime.as_os_str().as_encoded_bytes();
    let creating = || {
        processes_where(|args| {
            // The runtime itself (or a script standing for it, as `sh RUNTIME …`).
            args.iter().take(2).any(|a| *a == runtime)
                && args.iter().any(|a| *a == b"create" || *a == b"start")
                && args.contains(&id.as_bytes())
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let left = creating();
        if left.is_empty() {
            return;
        }
        if std::time::Instant::now() >= deadline {
            for pid in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                wait_gone(pid, 0);
            }
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Kill the monitor of container `id` named by `pidfile` (if it is alive and is that
/// container's) and wait until it is gone, so it writes nothing after.
pub(crate) fn stop_monitor(id: &str, pidfile: &Path) -> Result<()> {
    let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return Ok(());
    };
    if pid <= 0 || !process_mentions(pid, id) {
        return Ok(());
    }
    match kill(Pid::from_raw(pid), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => return Err(Error::other(format!("killing monitor {pid}: {e}"))),
    }
    wait_gone(pid, 0);
    Ok(())
}

/// Does process `pid`'s command line mention `needle`?
fn process_mentions(pid: i32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .any(|arg| String::from_utf8_lossy(arg).contains(needle))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineOptions;

    fn engine(t: &Path) -> Engine {
        Engine::open(EngineOptions {
            root: Some(t.join("root")),
            runroot: Some(t.join("run")),
            ..Default::default()
        })
        .unwrap()
    }

    /// While the network helper tears down, the unmounts after it go ahead; the leases and
    /// the pin wait for it, in their order; nothing moves without a teardown running.
    #[test]
    fn unmounts_go_beside_the_network_teardown() {
        let h = Holder::container(&"e".repeat(64));
        let row = |seq, resource| Held {
            seq,
            holder: h.clone(),
            resource,
            made: true,
        };
        let rows = || {
            vec![
                row(6, Resource::Cgroup { path: "cg".into() }),
                row(
                    5,
                    Resource::Network {
                        netns: "/ns".into(),
                        options: Box::default(),
                    },
                ),
                row(
                    4,
                    Resource::Address {
                        subnet: "10.88.0.0/16".parse().unwrap(),
                        ip: "10.88.0.2".parse().unwrap(),
                    },
                ),
                row(3, Resource::Volumes),
                row(2, Resource::Pin { path: "/ns".into() }),
                row(1, Resource::Rootfs { path: "/m".into() }),
            ]
        };
        let order = |v: Vec<Held>| v.iter().map(|h| h.seq).collect::<Vec<_>>();
        assert_eq!(order(beside_network(rows(), Some(5))), [6, 3, 1, 5, 4, 2]);
        assert_eq!(order(beside_network(rows(), None)), [6, 5, 4, 3, 2, 1]);
    }

    /// A row recorded for something never made (its maker died between the two) is released
    /// without error, and its row goes.
    #[test]
    fn releasing_what_was_never_made_is_fine() {
        let t = tempfile::tempdir().unwrap();
        let e = engine(t.path());
        let id = "d".repeat(64);
        let h = Holder::container(&id);
        let never_made = [
            Resource::Rootfs {
                path: t.path().join("no/merged"),
            },
            Resource::Volumes,
            Resource::Pin {
                path: t.path().join("no/netns"),
            },
            // TEST-NET-1: nobody's lease.
            Resource::Address {
                subnet: "192.0.2.0/24".parse().unwrap(),
                ip: "192.0.2.7".parse().unwrap(),
            },
            Resource::Ports {
                protocols: vec!["tcp".into()],
                host_ip: "192.0.2.7".into(),
                port: 9,
                range: 1,
            },
            Resource::Cgroup {
                path: format!("/peapod/peapod-{id}"),
            },
            Resource::Monitor {
                id: id.clone(),
                pidfile: t.path().join("no/conmon.pid"),
                pid: 0,
                start: 0,
            },
        ];
        e.db.record_all(&h, &never_made).unwrap();
        let errors = e.release_all(&h);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!e.db.holds_any(&h).unwrap());
        // Twice is fine too.
        e.db.record_all(&h, &never_made).unwrap();
        assert!(e.release_all(&h).is_empty());
    }

    /// `hold`: confirmed when made; when the make fails, what it made is released and the
    /// row goes, and the make's error is the one returned.
    #[test]
    fn hold_confirms_or_undoes() {
        let t = tempfile::tempdir().unwrap();
        let e = engine(t.path());
        let h = Holder::pod("p");
        let pin = t.path().join("pin");
        let made = e
            .hold(&h, Resource::Pin { path: pin.clone() }, |_| {
                std::fs::write(&pin, "").map_err(|e| Error::io("writing", &pin, e))
            })
            .map(|()| true)
            .unwrap();
        assert!(made && pin.exists());
        let rows = e.db.held(&h).unwrap();
        assert_eq!(rows.len(), 1);
        assert!(rows[0].made);
        let other = t.path().join("other");
        let failed = e.hold(
            &h,
            Resource::Pin {
                path: other.clone(),
            },
            |_| {
                std::fs::write(&other, "").unwrap();
                Err::<(), _>(Error::other("the make failed"))
            },
        );
        assert_eq!(failed.unwrap_err().to_string(), "the make failed");
        assert!(!other.exists(), "the half-made pin was released");
        assert_eq!(e.db.held(&h).unwrap().len(), 1, "its row went");
        assert!(e.release_all(&h).is_empty());
        assert!(!pin.exists());
    }
}
