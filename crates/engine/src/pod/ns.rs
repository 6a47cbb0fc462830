//! A pod's shared namespaces as pinned files, and the hooks the container lifecycle calls:
//! set up when the pod's first container starts, joined by every container of the pod,
//! torn down when the last one stops.

use std::collections::BTreeSet;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::LinuxNamespaceType;

use super::Pod;
use crate::Engine;
use crate::container::Container;
use crate::error::{Error, IoContext, Result};
use crate::network::netns;
use crate::oci::spec::NetNs;
use crate::state::{Holder, Resource};

fn kind_type(kind: &str) -> Option<LinuxNamespaceType> {
    Some(match kind {
        "ipc" => LinuxNamespaceType::Ipc,
        "uts" => LinuxNamespaceType::Uts,
        "pid" => LinuxNamespaceType::Pid,
        "cgroup" => LinuxNamespaceType::Cgroup,
        _ => return None,
    })
}

/// The key and file name of a pod's shared `/dev/shm` among its pins.
const SHM: &str = "shm";

impl Engine {
    /// The pod's shared `/dev/shm` for a container that shares the pod's ipc namespace
    /// (it exists once the pod's namespaces are up).
    pub(crate) fn pod_shm(&self, c: &Container) -> Result<Option<PathBuf>> {
        Ok(self
            .sharing_pod(c)?
            .filter(|p| p.shares("ipc"))
            .and_then(|p| p.state.pinned.get(SHM).map(PathBuf::from)))
    }

    pub(crate) fn pod_dir(&self, pod_id: &str) -> PathBuf {
        self.paths.runroot.join("pods").join(pod_id)
    }

    fn pod_ns_path(&self, pod_id: &str, kind: &str) -> PathBuf {
        self.pod_dir(pod_id).join("ns").join(kind)
    }

    pub(crate) fn pod_lock(&self, pod_id: &str) -> Result<crate::state::lock::Lock> {
        self.lock(&format!("pod-{pod_id}"))
    }

    /// The pod of a container that shares namespaces with an infra container.
    fn sharing_pod(&self, c: &Container) -> Result<Option<Pod>> {
        if c.config.pod.is_empty() {
            return Ok(None);
        }
        match self.db.pod(&c.config.pod)? {
            Some(p) if p.config.infra && !p.config.shared.is_empty() => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    /// The infra container stands for the pod's network config (networks, ports, names).
    fn infra_of(&self, pod: &Pod) -> Result<Container> {
        self.db
            .container(&pod.config.infra_id)?
            .ok_or_else(|| Error::NoSuchContainer(pod.config.infra_id.clone()))
    }

    /// Hook of `network_setup`: for a container of a pod, make sure the pod's namespaces
    /// exist (net, ipc, uts as shared) and answer the network namespace to join, or None when
    /// the pod does not share its network (the container sets up its own).
    pub(crate) fn pod_network_setup(&self, c: &mut Container) -> Result<Option<NetNs>> {
        let Some(pod) = self.sharing_pod(c)? else {
            return Ok(None);
        };
        let _lock = self.pod_lock(pod.id())?;
        let mut pod = self
            .db
            .pod(pod.id())?
            .ok_or_else(|| Error::NoSuchPod(pod.id().into()))?;
        std::fs::create_dir_all(self.pod_dir(pod.id())).ctx("creating", self.pod_dir(pod.id()))?;
        let holder = Holder::pod(pod.id());
        if pod.state.pinned.is_empty() && self.db.holds_any(&holder)? {
            // An earlier start of the pod was interrupted half-way: release what it left.
            Error::collect(self.release_all(&holder))?;
        }
        let result = self.pod_namespaces_up(&mut pod);
        if result.is_ok() {
            // Joined from now on, although its process does not exist yet: a pod stop or a
            // member leaving meanwhile keeps the namespaces for it.
            pod.state.joined.insert(c.id().to_string());
        }
        self.db.update_pod_state(pod.id(), &pod.state)?;
        result?;
        if !pod.shares("net") {
            return Ok(None);
        }
        let infra = self.infra_of(&pod)?;
        // Shown by inspect and used for the name files; never released by the container.
        c.state.network_status = pod.state.network_status.clone();
        if c.config.is_infra {
            c.state.ports = pod.state.ports.clone();
        }
        Ok(Some(match infra.config.network_mode.as_str() {
            "host" => NetNs::Host,
            m if m.starts_with("ns:") => NetNs::Path(m[3..].into()),
            _ => NetNs::Path(pod.state.pinned["net"].clone().into()),
        }))
    }

    /// Create and pin what is missing of the pod's early namespaces; net with its networks.
    /// Each is held in the ledger by the pod. On a failure everything the pod holds is
    /// released (this is its first start: nothing else uses it yet).
    fn pod_namespaces_up(&self, pod: &mut Pod) -> Result<()> {
        let result = self.pod_namespaces_make(pod);
        if result.is_err() {
            for e in self.release_all(&Holder::pod(pod.id())) {
                tracing::warn!(pod = pod.id(), error = %e, "undoing a failed pod start");
            }
            pod.state.pinned.clear();
            pod.state.network_status.clear();
            pod.state.ports.clear();
            pod.state.joined.clear();
        }
        result
    }

    fn pod_pin_new(&self, pod: &mut Pod, kind: &'static str, flag: CloneFlags) -> Result<()> {
        let path = self.pod_ns_path(pod.id(), kind);
        let pin = Resource::Pin { path: path.clone() };
        self.hold(&Holder::pod(pod.id()), pin, |_| {
            netns::pin_new(&path, flag, kind)
        })?;
        pod.state
            .pinned
            .insert(kind.into(), path.display().to_string());
        Ok(())
    }

    fn pod_namespaces_make(&self, pod: &mut Pod) -> Result<()> {
        for (kind, flag) in [
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("uts", CloneFlags::CLONE_NEWUTS),
        ] {
            if pod.shares(kind) && !pod.state.pinned.contains_key(kind) {
                self.pod_pin_new(pod, kind, flag)?;
            }
        }
        // Sharing ipc, the members share /dev/shm too (Podman: the infra's shm mount).
        if pod.shares("ipc") && !pod.state.pinned.contains_key(SHM) {
            let path = self.pod_dir(pod.id()).join(SHM);
            let pin = Resource::Pin { path: path.clone() };
            self.hold(&Holder::pod(pod.id()), pin, |_| netns::mount_shm(&path))?;
            pod.state
                .pinned
                .insert(SHM.into(), path.display().to_string());
        }
        if !pod.shares("net") || pod.state.pinned.contains_key("net") {
            return Ok(());
        }
        let infra = self.infra_of(pod)?;
        let mode = infra.config.network_mode.clone();
        if mode == "host" || mode.starts_with("ns:") {
            return Ok(());
        }
        self.pod_pin_new(pod, "net", CloneFlags::CLONE_NEWNET)?;
        let slirp = crate::network::slirp::is_userspace(&mode);
        if !slirp && (mode != "bridge" || infra.config.networks.is_empty()) {
            return Ok(());
        }
        let mut tmp = infra;
        tmp.state.netns = pod.state.pinned["net"].clone();
        tmp.state.network_status.clear();
        tmp.state.ports.clear();
        self.network_setup_inner(&mut tmp, &Holder::pod(pod.id()))?;
        pod.state.network_status = tmp.state.network_status;
        pod.state.ports = tmp.state.ports;
        Ok(())
    }

    /// Tear down every namespace of the pod: what the ledger says it holds (network,
    /// leases, pinned files), then its name files. What could not be released stays in the
    /// ledger (the next start or `pod rm` tries again); the state says nothing is up.
    pub(crate) fn pod_namespaces_down(&self, pod: &mut Pod) -> Result<()> {
        let errors = self.release_all(&Holder::pod(pod.id()));
        pod.state.pinned.clear();
        pod.state.network_status.clear();
        pod.state.ports.clear();
        // Nothing is left to be joined to.
        pod.state.joined.clear();
        for f in ["hosts", "resolv.conf", "hostname"] {
            let _ = std::fs::remove_file(self.pod_dir(pod.id()).join(f));
        }
        Error::collect(errors)
    }

    /// Hook of `network_teardown`: a container of a pod leaves it; the last one out tears
    /// the pod's namespaces down. `Some(result)` when the container had nothing of its own to
    /// tear down (the pod shares its network).
    pub(crate) fn pod_network_teardown(&self, c: &mut Container) -> Option<Result<()>> {
        let pod = match self.sharing_pod(c) {
            Ok(Some(p)) => p,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let result = self.pod_release(pod.id(), c.id());
        if pod.shares("net") {
            c.state.netns.clear();
            c.state.network_status.clear();
            c.state.ports.clear();
            Some(result)
        } else {
            if let Err(e) = result {
                tracing::warn!(pod = pod.id(), error = %e, "tearing down the pod's namespaces");
            }
            None
        }
    }

    /// `leaving` leaves the pod's namespaces; they are torn down when no other container
    /// has joined them. A joined container counts while it is active, or while its lock is
    /// held (it is in the middle of its init, before the runtime knows it); one that is
    /// neither (its start died half-way) is forgotten. An active container that never
    /// joined (state from before the joined set) counts too.
    fn pod_release(&self, pod_id: &str, leaving: &str) -> Result<()> {
        let _lock = self.pod_lock(pod_id)?;
        let Some(mut pod) = self.db.pod(pod_id)? else {
            return Ok(());
        };
        pod.state.joined.remove(leaving);
        let mut staying = BTreeSet::new();
        for mut other in self.db.pod_containers(pod_id)? {
            if other.id() == leaving {
                continue;
            }
            self.reconcile(&mut other)?;
            if other.state.status.is_active()
                || (pod.state.joined.contains(other.id()) && self.container_busy(other.id())?)
            {
                staying.insert(other.id().to_string());
            }
        }
        pod.state.joined.retain(|id| staying.contains(id));
        if !staying.is_empty() {
            return self.db.update_pod_state(pod_id, &pod.state);
        }
        let result = self.pod_namespaces_down(&mut pod);
        self.db.update_pod_state(pod_id, &pod.state)?;
        result
    }

    /// Is someone holding the container's lock (a lifecycle step under way)? Never waits:
    /// the holder may be waiting for the pod's lock we hold.
    fn container_busy(&self, id: &str) -> Result<bool> {
        Ok(crate::state::lock::Lock::try_acquire(&self.paths.locks(), id)?.is_none())
    }

    /// Namespaces the container joins besides the network: the pod's pinned ipc and uts;
    /// the infra's pid and cgroup namespaces (pinned from its process) for members. The
    /// infra itself gets a new pid namespace (the old one died with its pause process, and
    /// every member in it), and a new cgroup namespace only when none is pinned: an infra
    /// started again while members run joins theirs.
    pub(crate) fn pod_joins(
        &self,
        c: &Container,
    ) -> Result<Vec<(LinuxNamespaceType, Option<PathBuf>)>> {
        let Some(pod) = self.sharing_pod(c)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for kind in ["ipc", "uts", "pid", "cgroup"] {
            if !pod.shares(kind) {
                continue;
            }
            let typ = kind_type(kind).expect("known kind");
            let late = match kind {
                "pid" => true,
                "cgroup" => !pod.state.pinned.contains_key("cgroup"),
                _ => false,
            };
            if late && c.config.is_infra {
                out.push((typ, None));
                continue;
            }
            let path = pod.state.pinned.get(kind).ok_or_else(|| {
                Error::other(format!(
                    "pod {}: its {kind} namespace is not set up (is its infra container running?)",
                    pod.id()
                ))
            })?;
            out.push((typ, Some(PathBuf::from(path))));
        }
        Ok(out)
    }

    /// Hook after the runtime created a container: the infra pins its pid and cgroup
    /// namespaces (when shared) for the members to join.
    pub(crate) fn pod_pin_process_namespaces(&self, c: &Container) -> Result<()> {
        if !c.config.is_infra || c.state.pid <= 0 {
            return Ok(());
        }
        let Some(pod) = self.sharing_pod(c)? else {
            return Ok(());
        };
        if !pod.shares("pid") && !pod.shares("cgroup") {
            return Ok(());
        }
        let _lock = self.pod_lock(pod.id())?;
        let mut pod = self
            .db
            .pod(pod.id())?
            .ok_or_else(|| Error::NoSuchPod(pod.id().into()))?;
        // Each pin is held in the ledger before it is made, so a failure (or a crash) never
        // leaves a mount the pod's teardown does not know.
        let mut result = Ok(());
        for kind in ["pid", "cgroup"] {
            // A pinned cgroup namespace is the one the infra joined (see `pod_joins`).
            if pod.shares(kind) && !(kind == "cgroup" && pod.state.pinned.contains_key(kind)) {
                let path = self.pod_ns_path(pod.id(), kind);
                let pin = Resource::Pin { path: path.clone() };
                result = self.hold(&Holder::pod(pod.id()), pin, |_| {
                    netns::pin_process(c.state.pid, kind, &path)
                });
                if result.is_err() {
                    break;
                }
                pod.state
                    .pinned
                    .insert(kind.into(), path.display().to_string());
            }
        }
        self.db.update_pod_state(pod.id(), &pod.state)?;
        result
    }

    /// Hook of the name files: a container sharing the pod's network bind-mounts the pod's
    /// hosts and resolv.conf (rewritten in place, so every member sees every other member's
    /// name), and the pod's hostname when it shares uts.
    pub(crate) fn pod_name_files(&self, c: &Container) -> Result<Option<(PathBuf, PathBuf)>> {
        let Some(pod) = self.sharing_pod(c)? else {
            return Ok(None);
        };
        if !pod.shares("net") {
            return Ok(None);
        }
        let _lock = self.pod_lock(pod.id())?;
        let pod = self
            .db
            .pod(pod.id())?
            .ok_or_else(|| Error::NoSuchPod(pod.id().into()))?;
        let dir = self.pod_dir(pod.id());
        let mut infra = self.infra_of(&pod)?;
        infra.state.network_status = pod.state.network_status.clone();
        let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let mut hosts_text = crate::network::files::hosts(&infra, &host_hosts);
        if infra.config.network_mode != "host" {
            // The members that run, and the one starting: a member that stopped is no
            // longer named (Podman takes its line out at cleanup).
            for m in self.db.pod_containers(pod.id())? {
                if !m.config.is_infra && (m.config.id == c.config.id || m.state.status.is_active())
                {
                    hosts_text.push_str(&format!("127.0.0.1\t{}\n", m.config.name));
                }
            }
        }
        let hosts = dir.join("hosts");
        // In place: the file is bind-mounted into the running members.
        std::fs::write(&hosts, hosts_text).ctx("writing", &hosts)?;
        let resolv = dir.join("resolv.conf");
        if !resolv.exists() {
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            std::fs::write(
                &resolv,
                crate::network::files::resolv_conf(&infra, &host_resolv),
            )
            .ctx("writing", &resolv)?;
        }
        Ok(Some((hosts, resolv)))
    }

    /// Hook of `start`: a member of a pod with an infra container starts the infra first.
    pub(crate) fn pod_start_infra_for(&self, c: &Container) -> Result<()> {
        if c.config.pod.is_empty() || c.config.is_infra {
            return Ok(());
        }
        let Some(pod) = self.db.pod(&c.config.pod)? else {
            return Ok(());
        };
        if !pod.config.infra {
            return Ok(());
        }
        let infra = self.container(&pod.config.infra_id)?;
        if infra.state.status != crate::container::Status::Running {
            self.start(infra.id(), false)?;
        }
        Ok(())
    }
}
