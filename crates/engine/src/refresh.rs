//! Refresh after a reboot: when the runroot is new or the boot id changed, nothing the
//! database calls running can be alive. Every such container is marked exited, and
//! everything the ledger says a container or pod holds is released (after a real reboot
//! the mounts, namespaces and rules are gone already and the releases cost nothing; after a
//! runroot wiped by hand they are not).
//!
//! Also here: a database from before the ledger (schema < 4) has its containers' and pods'
//! resources, as their state fields name them, written into the ledger once, so the rule
//! "the ledger releases" holds for them too.

use crate::Engine;
use crate::container::Status;
use crate::error::Result;
use crate::state::{Holder, Resource};

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn refresh_if_rebooted(engine: &Engine) -> Result<()> {
    if engine.db.upgraded_from().is_some_and(|v| v > 0 && v < 4) {
        let _lock = engine.lock("refresh")?;
        adopt_legacy_state(engine)?;
    }
    let alive = engine.paths.alive();
    let current = boot_id();
    if std::fs::read_to_string(&alive)
        .map(|s| s.trim() == current)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let _lock = engine.lock("refresh")?;
    // Someone else may have refreshed while we waited for the lock.
    if std::fs::read_to_string(&alive)
        .map(|s| s.trim() == current)
        .unwrap_or(false)
    {
        return Ok(());
    }
    for mut c in engine.db.containers()? {
        if c.state.status.is_active() {
            c.state.status = Status::Exited;
            c.state.pid = 0;
            c.state.conmon_pid = 0;
        }
        for e in engine.release_all(&Holder::container(c.id())) {
            tracing::warn!(id = c.id(), error = %e, "refresh after reboot");
        }
        c.state.netns.clear();
        c.state.network_status.clear();
        c.state.ports.clear();
        // Every mount went with the reboot, `peapod mount`'s holds too.
        c.state.mounted = false;
        c.state.user_mounts = 0;
        engine.db.update_state(c.id(), &c.state)?;
    }
    // Volumes: their own mounts went with the reboot, and so did their users' shares.
    engine.forget_volume_mounts()?;
    // Pods: their pinned namespaces and network leases went with the reboot.
    for mut pod in engine.db.pods()? {
        if let Err(e) = engine.pod_namespaces_down(&mut pod) {
            tracing::warn!(pod = pod.id(), error = %e, "refresh after reboot");
        }
        engine.db.update_pod_state(pod.id(), &pod.state)?;
    }
    // Rows of holders that are gone (removed while something could not be released).
    for h in engine.db.holders()? {
        for e in engine.release_all(&h) {
            tracing::warn!(holder = %h, error = %e, "refresh after reboot");
        }
    }
    let tmp = alive.with_extension("tmp");
    std::fs::write(&tmp, &current).map_err(|e| crate::Error::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, &alive).map_err(|e| crate::Error::io("writing", &alive, e))?;
    engine.emit_system("refresh");
    Ok(())
}

/// Record, as confirmed, what the state fields of a pre-ledger database say is held.
fn adopt_legacy_state(engine: &Engine) -> Result<()> {
    for c in engine.db.containers()? {
        let holder = Holder::container(c.id());
        let mut rows = Vec::new();
        if c.state.mounted {
            rows.push(Resource::Rootfs {
                path: engine.paths.rootfs(c.id()),
            });
        }
        if c.state.status.is_active() {
            rows.push(Resource::Volumes);
        }
        // A member sharing its pod's network holds none of it: the pod does.
        let own_network = c.config.pod.is_empty() && !c.state.netns.is_empty();
        if own_network {
            rows.push(Resource::Pin {
                path: c.state.netns.clone().into(),
            });
            rows.extend(network_rows(engine, &c));
        }
        if c.state.status.is_active() {
            rows.push(Resource::Cgroup {
                path: c.cgroups_path(),
            });
            rows.push(Resource::Runtime {
                id: c.id().to_string(),
            });
            rows.push(Resource::Monitor {
                id: c.id().to_string(),
                pidfile: engine.paths.container_run_dir(c.id()).join("conmon.pid"),
                pid: c.state.conmon_pid,
                start: c.state.conmon_start,
            });
        }
        adopt(engine, &holder, &rows)?;
    }
    for pod in engine.db.pods()? {
        let holder = Holder::pod(pod.id());
        let mut rows: Vec<Resource> = pod
            .state
            .pinned
            .values()
            .map(|p| Resource::Pin { path: p.into() })
            .collect();
        if let (Some(net), Ok(Some(mut infra))) = (
            pod.state.pinned.get("net"),
            engine.db.container(&pod.config.infra_id),
        ) {
            infra.state.netns = net.clone();
            infra.state.network_status = pod.state.network_status.clone();
            infra.state.ports = pod.state.ports.clone();
            rows.extend(network_rows(engine, &infra));
        }
        adopt(engine, &holder, &rows)?;
    }
    Ok(())
}

/// Leases and the helper's setup of a container (or a pod's infra standing for the pod).
fn network_rows(engine: &Engine, c: &crate::container::Container) -> Vec<Resource> {
    let mut rows = Vec::new();
    for p in &c.state.ports {
        rows.push(Resource::Ports {
            protocols: crate::network::ports::protocols(p)
                .into_iter()
                .map(String::from)
                .collect(),
            host_ip: p.host_ip.clone(),
            port: p.host_port,
            range: p.range.max(1),
        });
    }
    for status in c.state.network_status.values() {
        for a in crate::network::status_addresses(status) {
            rows.push(Resource::Address {
                subnet: a.ipnet.trunc(),
                ip: a.ipnet.addr(),
            });
        }
    }
    if !c.state.network_status.is_empty()
        && let Ok(options) = engine.network_options(c)
    {
        rows.push(Resource::Network {
            netns: c.state.netns.clone(),
            options: Box::new(options),
        });
    }
    rows
}

fn adopt(engine: &Engine, holder: &Holder, rows: &[Resource]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let seqs = engine.db.record_all(holder, rows)?;
    let confirmed: Vec<(i64, &Resource)> = seqs.into_iter().zip(rows).collect();
    engine.db.confirm_all(&confirmed)
}
