//! Pods: groups of containers sharing namespaces (ipc, net and uts by default) and volumes,
//! held by an infra container that runs the pause process.
//!
//! Unlike Podman, members never join `/proc/<infra pid>/ns/*`: every shared namespace that
//! can outlive a process (net, ipc, uts) is created by the engine and pinned as a
//! bind-mounted file under the runroot (`<runroot>/pods/<id>/ns/<kind>`); the infra and
//! the members all join those files. If the pause process dies the members keep working,
//! and a restarted infra joins the same namespaces. The pid and cgroup namespaces need a
//! process: they are pinned from the infra's process when it is created.
//!
//! The pod's namespaces are set up when its first container starts and torn down when the
//! last one stops (see [`ns`]). The network (leases, ports, helper setup) belongs to the pod
//! and is described by the infra container's network config.

mod create;
mod inspect;
mod lifecycle;
pub mod ns;
pub mod report;
mod service;
mod stats;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use peapod_netsetup::types::{PortMapping, StatusBlock};

use crate::container::{Container, Status};

pub use create::PodCreateOptions;
pub use inspect::{InspectPod, InspectPodContainer, InspectPodInfraConfig};
pub use stats::{PodStatsEntry, mem_total};

/// The namespaces a pod shares by default, as Podman.
pub const DEFAULT_SHARE: &[&str] = &["ipc", "net", "uts"];

/// Everything fixed when the pod is created.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PodConfig {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub hostname: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub create_command: Vec<String>,
    /// Shared namespaces: `cgroup`, `ipc`, `net`, `pid`, `uts`, sorted.
    pub shared: Vec<String>,
    pub infra: bool,
    /// The infra container's id (empty without one).
    #[serde(default)]
    pub infra_id: String,
    /// `--cgroup-parent`: the members' cgroups go under it (empty: `/peapod`).
    #[serde(default)]
    pub cgroup_parent: String,
    /// `--exit-policy`: `continue` (the infra keeps running when the last member exits)
    /// or `stop` (it stops the pod). Empty in pods from before: `continue`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exit_policy: String,
    /// `kube play --service-container`: the id of the container standing for the play.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_container: String,
}

impl PodConfig {
    /// The pod's exit policy, as `pod inspect` shows it.
    pub fn exit_policy(&self) -> &str {
        if self.exit_policy.is_empty() {
            "continue"
        } else {
            &self.exit_policy
        }
    }
}

/// `--exit-policy` as Podman checks it.
pub fn parse_exit_policy(value: Option<&str>) -> crate::Result<String> {
    match value {
        None | Some("") | Some("continue") => Ok("continue".into()),
        Some("stop") => Ok("stop".into()),
        Some(other) => Err(crate::Error::invalid(format!(
            "running pod create option: invalid pod exit policy: {other:?}"
        ))),
    }
}

/// What is set up while the pod has a running container.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PodState {
    /// Pinned namespace files by kind (`net`, `ipc`, `uts`, `pid`, `cgroup`).
    #[serde(default)]
    pub pinned: BTreeMap<String, String>,
    /// The network helper's answer for the pod's namespace.
    #[serde(default)]
    pub network_status: BTreeMap<String, StatusBlock>,
    /// Published ports with the host ports in use.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// The containers that joined the namespaces above and have not left: added when a
    /// container's init takes the pod's namespaces (before its process exists), removed by
    /// its cleanup. The namespaces are torn down only when none is left, so a member still
    /// in init keeps them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub joined: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct Pod {
    pub config: PodConfig,
    pub state: PodState,
}

impl Pod {
    pub fn id(&self) -> &str {
        &self.config.id
    }
    pub fn name(&self) -> &str {
        &self.config.name
    }
    pub fn shares(&self, kind: &str) -> bool {
        self.config.infra && self.config.shared.iter().any(|s| s == kind)
    }
}

/// How a container joins a pod (worked out at create).
#[derive(Debug, Clone)]
pub struct MemberPlan {
    pub pod_id: String,
    /// The pod was made for this container (`--pod new:NAME`).
    pub new_pod: bool,
    pub shares_net: bool,
    /// The pod's hostname when it shares uts.
    pub hostname: Option<String>,
    /// The pod's volumes (the infra's mounts).
    pub mounts: Vec<crate::volume::MountSpec>,
    pub cgroup_parent: String,
}

/// Podman's pod states, computed from the containers.
pub fn pod_status(containers: &[Container]) -> &'static str {
    if containers.is_empty() {
        return "Created";
    }
    let (mut running, mut paused, mut stopped, mut exited) = (0, 0, 0, 0);
    for c in containers {
        match c.state.status {
            Status::Running | Status::Stopping => running += 1,
            Status::Paused => paused += 1,
            Status::Stopped => stopped += 1,
            Status::Exited => exited += 1,
            _ => {}
        }
    }
    let total = containers.len();
    if running > 0 && running == total {
        "Running"
    } else if running > 0 {
        "Degraded"
    } else if paused == total {
        "Paused"
    } else if stopped + exited == total {
        "Exited"
    } else if stopped + exited > 0 {
        "Stopped"
    } else {
        "Created"
    }
}

/// `--share` as Podman reads it: a list replaces the default, `+list` adds to it, an empty
/// value or `none` shares nothing.
pub fn parse_share(value: Option<&str>) -> crate::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let v = match value {
        None => {
            return Ok(DEFAULT_SHARE.iter().map(|s| s.to_string()).collect());
        }
        Some(v) => v.trim(),
    };
    let list = match v.strip_prefix('+') {
        Some(rest) => {
            out.extend(DEFAULT_SHARE.iter().map(|s| s.to_string()));
            rest
        }
        None => v,
    };
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item {
            "none" => {}
            "cgroup" | "ipc" | "net" | "pid" | "uts" => {
                if !out.iter().any(|o| o == item) {
                    out.push(item.to_string());
                }
            }
            "user" | "mnt" => {
                return Err(crate::Error::invalid(format!(
                    "sharing the {item} namespace in a pod is not supported by peapod: invalid argument"
                )));
            }
            other => {
                return Err(crate::Error::invalid(format!(
                    "invalid kernel namespace to share: {other}. Options are: cgroup, ipc, net, pid, uts or none: invalid argument"
                )));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{ContainerConfig, ContainerState};

    fn ctr(status: Status) -> Container {
        Container {
            config: ContainerConfig::default(),
            state: ContainerState {
                status,
                ..Default::default()
            },
        }
    }

    #[test]
    fn states_as_podman_computes_them() {
        use Status::*;
        let s = |v: &[Status]| pod_status(&v.iter().map(|s| ctr(*s)).collect::<Vec<_>>());
        assert_eq!(s(&[]), "Created");
        assert_eq!(s(&[Created, Created]), "Created");
        assert_eq!(s(&[Running, Running]), "Running");
        assert_eq!(s(&[Running, Exited]), "Degraded");
        assert_eq!(s(&[Running, Created]), "Degraded");
        assert_eq!(s(&[Paused, Paused]), "Paused");
        assert_eq!(s(&[Exited, Stopped]), "Exited");
        assert_eq!(s(&[Exited, Created]), "Stopped");
    }

    #[test]
    fn share_flags() {
        assert_eq!(parse_share(None).unwrap(), ["ipc", "net", "uts"]);
        assert_eq!(
            parse_share(Some("+pid")).unwrap(),
            ["ipc", "net", "pid", "uts"]
        );
        assert_eq!(parse_share(Some("net,cgroup")).unwrap(), ["cgroup", "net"]);
        assert!(parse_share(Some("")).unwrap().is_empty());
        assert!(parse_share(Some("none")).unwrap().is_empty());
        assert!(parse_share(Some("bogus")).is_err());
    }
}
