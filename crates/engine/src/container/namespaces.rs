//! `--pid`, `--ipc`, `--uts`: the container's own namespace (the default), the host's,
//! another running container's, or a namespace file, turned into the runtime's namespace
//! list at start.

use std::path::PathBuf;

use oci_spec::runtime::LinuxNamespaceType;

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};

/// What `--pid`, `--ipc` and `--uts` make of the runtime's namespaces.
#[derive(Debug, Default)]
pub(super) struct NamespacePlan {
    pub joins: Vec<(LinuxNamespaceType, Option<PathBuf>)>,
    pub host: Vec<LinuxNamespaceType>,
    pub shm: crate::oci::spec::Shm,
}

impl NamespacePlan {
    /// The user chose this namespace: it replaces a pod's.
    pub fn overrides(&self, t: &LinuxNamespaceType) -> bool {
        self.host.contains(t) || self.joins.iter().any(|(j, _)| j == t)
    }
}

impl Engine {
    /// The container's own namespace modes, resolved at start: another container's
    /// namespace is its running process's.
    pub(super) fn namespace_plan(&self, c: &Container) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan::default();
        for (kind, mode) in &c.config.namespaces {
            let typ = match kind.as_str() {
                "pid" => LinuxNamespaceType::Pid,
                "ipc" => LinuxNamespaceType::Ipc,
                "uts" => LinuxNamespaceType::Uts,
                _ => continue,
            };
            match mode.as_str() {
                "host" => {
                    plan.host.push(typ);
                    if typ == LinuxNamespaceType::Ipc {
                        plan.shm = crate::oci::spec::Shm::Host;
                    }
                }
                "none" => {
                    plan.joins.push((typ, None));
                    plan.shm = crate::oci::spec::Shm::Absent;
                }
                "private" | "shareable" => plan.joins.push((typ, None)),
                m if m.starts_with("ns:") => plan.joins.push((typ, Some(PathBuf::from(&m[3..])))),
                m if m.starts_with("container:") => {
                    let donor = self.container(&m[10..])?;
                    if donor.state.status != Status::Running || donor.state.pid <= 0 {
                        return Err(Error::invalid(format!(
                            "cannot join the {kind} namespace of container {}: it is not running",
                            donor.config.name
                        )));
                    }
                    if kind == "ipc" {
                        check_ipc_donor(&donor)?;
                    }
                    let path = PathBuf::from(format!("/proc/{}/ns/{kind}", donor.state.pid));
                    plan.joins.push((typ, Some(path)));
                }
                _ => {}
            }
        }
        Ok(plan)
    }
}

/// A container whose IPC namespace is private lends it to nobody (checked at create, as
/// Podman does, and again at start).
pub(super) fn check_ipc_donor(donor: &Container) -> Result<()> {
    if donor.config.namespaces.get("ipc").map(String::as_str) == Some("private") {
        return Err(Error::invalid(format!(
            "IPC namespace of container {} is not allowed: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
            donor.id()
        )));
    }
    Ok(())
}
