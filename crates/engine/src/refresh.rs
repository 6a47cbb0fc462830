//! Refresh after a reboot: when the runroot is new or the boot id changed, nothing the
//! database calls running can be alive. Every such container is marked exited and its stale
//! mount released.

use crate::Engine;
use crate::container::Status;
use crate::error::Result;

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn refresh_if_rebooted(engine: &Engine) -> Result<()> {
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
        let mut changed = false;
        if c.state.status != Status::Created && c.state.status != Status::Exited {
            // The runtime's own state lives in a tmpfs and is gone after a real reboot;
            // when it is not (a runroot wiped by hand), drop it so the container can start.
            if let Ok(rt) = engine.runtime() {
                let _ = rt.delete(c.id());
            }
            c.state.status = Status::Exited;
            c.state.pid = 0;
            c.state.conmon_pid = 0;
            changed = true;
        }
        if !c.state.netns.is_empty() || !c.state.ports.is_empty() {
            // After a real reboot the namespace, veth and rules are gone already; the
            // helper's teardown still clears what survives (a simulated reboot) and the
            // leases are released.
            let _ = engine.network_teardown(&mut c);
            changed = true;
        }
        if c.state.mounted || c.state.user_mounts > 0 {
            let _ = crate::layer::unmount(&engine.paths.rootfs(c.id()));
            c.state.mounted = false;
            c.state.user_mounts = 0;
            changed = true;
        }
        if changed {
            engine.db.update_state(c.id(), &c.state)?;
        }
    }
    // Volumes: their own mounts went with the reboot, and so did their users' shares.
    engine.forget_volume_mounts()?;
    // Pods: their pinned namespaces and network leases went with the reboot.
    for mut pod in engine.db.pods()? {
        if !pod.state.pinned.is_empty() || !pod.state.ports.is_empty() {
            let _ = engine.pod_namespaces_down(&mut pod);
            engine.db.update_pod_state(pod.id(), &pod.state)?;
        }
    }
    let tmp = alive.with_extension("tmp");
    std::fs::write(&tmp, &current).map_err(|e| crate::Error::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, &alive).map_err(|e| crate::Error::io("writing", &alive, e))?;
    Ok(())
}
