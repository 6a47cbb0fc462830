//! Pod lifecycle: start (infra, init containers, members), stop (members, then the infra),
//! restart, kill, pause, unpause, remove, prune.

use super::Pod;
use crate::Engine;
use crate::container::{Container, RemoveOptions, Status};
use crate::error::{Error, Result};

impl Engine {
    pub fn pod(&self, reference: &str) -> Result<Pod> {
        self.db.lookup_pod(reference)
    }

    pub fn pods(&self) -> Result<Vec<Pod>> {
        self.db.pods()
    }

    /// The pod's containers, reconciled, in creation order.
    pub fn pod_containers(&self, pod_id: &str) -> Result<Vec<Container>> {
        let mut all = self.db.pod_containers(pod_id)?;
        for c in &mut all {
            self.reconcile(c)?;
            self.repair_if_abandoned(c);
        }
        Ok(all)
    }

    /// Podman's state of the pod, from its containers.
    pub fn pod_status(&self, pod: &Pod) -> Result<&'static str> {
        Ok(super::pod_status(&self.pod_containers(pod.id())?))
    }

    /// `pod start`: the infra, then each init container to completion (in creation order;
    /// `once` ones are removed after they succeed), then the other members.
    pub fn start_pod(&self, reference: &str) -> Result<Pod> {
        let pod = self.pod(reference)?;
        self.start_service_of(&pod)?;
        let all = self.pod_containers(pod.id())?;
        if let Some(infra) = all.iter().find(|c| c.config.is_infra)
            && infra.state.status != Status::Running
        {
            self.start(infra.id(), false)?;
        }
        for init in all.iter().filter(|c| !c.config.init_ctr.is_empty()) {
            self.start(init.id(), false)?;
            let code = self.wait(init.id())?;
            if code != 0 {
                return Err(Error::other(format!(
                    "starting pod {}: init container {} exited with code {code}",
                    pod.name(),
                    init.name()
                )));
            }
            if init.config.init_ctr == "once" {
                self.remove(init.id(), &RemoveOptions::default())?;
            }
        }
        let mut errors = Vec::new();
        for c in all
            .iter()
            .filter(|c| !c.config.is_infra && c.config.init_ctr.is_empty())
        {
            if c.state.status != Status::Running
                && let Err(e) = self.start(c.id(), false)
            {
                errors.push(Error::other(format!("starting container {}: {e}", c.id())));
            }
        }
        Error::collect(errors)?;
        self.emit_pod(&pod, "start");
        Ok(pod)
    }

    /// `pod stop`: every member at once, then the infra container.
    pub fn stop_pod(&self, reference: &str, timeout: Option<u32>) -> Result<Pod> {
        let pod = self.pod(reference)?;
        let all = self.pod_containers(pod.id())?;
        let members: Vec<&Container> = all
            .iter()
            .filter(|c| !c.config.is_infra && c.state.status.is_active())
            .collect();
        // A member run with --rm may be gone before its stop begins (listed, then removed by
        // its own exit): no failure. One removed while its stop waits is `stop`'s own case.
        self.on_each(&members, |e, id| match e.stop(id, timeout) {
            Ok(_) | Err(Error::NoSuchContainer(_)) => Ok(()),
            Err(err) => Err(err),
        })?;
        if let Some(infra) = all.iter().find(|c| c.config.is_infra) {
            self.stop(infra.id(), timeout)?;
        }
        self.stop_service_if_done(pod.id())?;
        self.emit_pod(&pod, "stop");
        Ok(pod)
    }

    /// Run `f` on each container through the engine's worker pool (stops wait for their
    /// timeouts side by side); every failure collected.
    fn on_each(
        &self,
        list: &[&Container],
        f: impl Fn(&Engine, &str) -> Result<()> + Sync,
    ) -> Result<()> {
        let ids: Vec<String> = list.iter().map(|c| c.id().to_string()).collect();
        let results = self.on_many(&ids, f);
        Error::collect(results.into_iter().filter_map(|r| r.err()).collect())
    }

    pub fn restart_pod(&self, reference: &str, timeout: Option<u32>) -> Result<Pod> {
        self.stop_pod(reference, timeout)?;
        self.start_pod(reference)
    }

    /// `pod kill`: the signal to every running container of the pod.
    pub fn kill_pod(&self, reference: &str, signal: i32) -> Result<Pod> {
        let pod = self.pod(reference)?;
        let running: Vec<Container> = self
            .pod_containers(pod.id())?
            .into_iter()
            .filter(|c| matches!(c.state.status, Status::Running | Status::Paused))
            .collect();
        if running.is_empty() {
            return Err(Error::invalid(format!(
                "pod {} has no running containers: pod state improper",
                pod.id()
            )));
        }
        let mut errors = Vec::new();
        for c in &running {
            if let Err(e) = self.kill(c.id(), signal) {
                errors.push(e);
            }
        }
        Error::collect(errors)?;
        // Its containers' cleanup stops the service when the last one has died; this is
        // for those already gone.
        self.stop_service_if_done(pod.id())?;
        self.emit_pod(&pod, "kill");
        Ok(pod)
    }

    pub fn pause_pod(&self, reference: &str) -> Result<Pod> {
        let pod = self.pod(reference)?;
        let mut errors = Vec::new();
        for c in self.pod_containers(pod.id())? {
            if c.state.status == Status::Running
                && let Err(e) = self.pause(c.id())
            {
                errors.push(e);
            }
        }
        Error::collect(errors)?;
        self.emit_pod(&pod, "pause");
        Ok(pod)
    }

    pub fn unpause_pod(&self, reference: &str) -> Result<Pod> {
        let pod = self.pod(reference)?;
        let mut errors = Vec::new();
        for c in self.pod_containers(pod.id())? {
            if c.state.status == Status::Paused
                && let Err(e) = self.unpause(c.id())
            {
                errors.push(e);
            }
        }
        Error::collect(errors)?;
        self.emit_pod(&pod, "unpause");
        Ok(pod)
    }

    /// Podman's exit policy `stop`: once no member of the pod is left that has not exited
    /// (a created one counts as not exited), the pod stops (its infra container).
    pub(crate) fn apply_pod_exit_policy(&self, pod_id: &str) -> Result<()> {
        let Some(pod) = self.db.pod(pod_id)? else {
            return Ok(());
        };
        if pod.config.exit_policy() != "stop" || !pod.config.infra {
            return Ok(());
        }
        let all = self.pod_containers(pod_id)?;
        let waiting = all.iter().any(|c| {
            !c.config.is_infra
                && !matches!(
                    c.state.status,
                    Status::Exited | Status::Stopped | Status::Stopping | Status::Removing
                )
        });
        if waiting {
            return Ok(());
        }
        match all.iter().find(|c| c.config.is_infra) {
            Some(infra) if infra.state.status.is_active() => match self.stop(infra.id(), None) {
                Ok(_) | Err(Error::NoSuchContainer(_)) => Ok(()),
                Err(e) => Err(e),
            },
            _ => Ok(()),
        }
    }

    /// `pod rm`: its containers (members, then the infra), its namespaces and its row.
    /// Without `force`, a pod with a running container is refused and nothing is removed.
    pub fn remove_pod(&self, reference: &str, force: bool, timeout: Option<u32>) -> Result<String> {
        let pod = self.pod(reference)?;
        let all = self.pod_containers(pod.id())?;
        // Without force, a running member refuses it; a running infra does not (Podman 4.3).
        let running = |c: &&Container| !c.config.is_infra && c.state.status.is_active();
        if !force && all.iter().any(|c| running(&c)) {
            return Err(Error::BadState {
                id: pod.id().to_string(),
                state: "running".into(),
                what: format!(
                    "pod {} has containers that are not ready to be removed: cannot remove container {} as it is running - running or paused containers cannot be removed without force: container state improper",
                    pod.id(),
                    all.iter().find(running).map(|c| c.id()).unwrap_or_default()
                ),
            });
        }
        let opts = RemoveOptions {
            force: true,
            volumes: false,
            timeout,
        };
        let members: Vec<&Container> = all.iter().filter(|c| !c.config.is_infra).collect();
        self.on_each(&members, |e, id| match e.remove(id, &opts) {
            Ok(_) | Err(Error::NoSuchContainer(_)) => Ok(()),
            Err(e) => Err(e),
        })?;
        if let Some(infra) = all.iter().find(|c| c.config.is_infra) {
            match self.remove_container(infra.id(), &opts, true) {
                Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // Whatever the pod still holds (a crash between steps, a start killed half-way) goes
        // with it, and so does any pin file under its dir the ledger does not know (from
        // before the ledger): nothing may stay mounted there. What cannot be released is
        // reported, and the pod stays for `pod rm -f` to finish.
        let lock = self.pod_lock(pod.id())?;
        let mut errors = Vec::new();
        if let Some(mut p) = self.db.pod(pod.id())? {
            if let Err(e) = self.pod_namespaces_down(&mut p) {
                errors.push(e);
            }
            self.db.update_pod_state(pod.id(), &p.state)?;
        }
        let dir = self.pod_dir(pod.id());
        if let Ok(entries) = std::fs::read_dir(dir.join("ns")) {
            for e in entries.flatten() {
                if let Err(e) = crate::network::netns::remove(&e.path()) {
                    errors.push(e);
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::other(format!(
                "removing pod {}: {}",
                pod.id(),
                Error::Many(errors)
            )));
        }
        self.db.delete_pod(pod.id())?;
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::io("removing", dir, e));
        }
        lock.remove_file();
        self.emit_pod(&pod, "remove");
        self.remove_service_if_done(&pod.config.service_container)?;
        Ok(pod.id().to_string())
    }

    /// `pod prune`: every pod none of whose containers runs.
    pub fn prune_pods(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for pod in self.pods()? {
            let all = self.pod_containers(pod.id())?;
            if all.iter().any(|c| c.state.status.is_active()) {
                continue;
            }
            removed.push(self.remove_pod(pod.id(), false, None)?);
        }
        Ok(removed)
    }
}
