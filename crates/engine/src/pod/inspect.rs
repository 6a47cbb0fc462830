//! `pod inspect`: Podman's `InspectPodData`, every field with Podman's name, built from the
//! pod's record and its containers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Pod;
use crate::Engine;
use crate::container::Container;
use crate::container::inspect::{PortBinding, go_time};
use crate::error::Result;

#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct InspectPodContainer {
    pub Id: String,
    pub Name: String,
    pub State: String,
}

/// The infra container's network settings, as Podman's `InspectPodInfraConfig`.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct InspectPodInfraConfig {
    pub PortBindings: BTreeMap<String, Vec<PortBinding>>,
    pub HostNetwork: bool,
    pub StaticIP: String,
    pub StaticMAC: String,
    pub NoManageResolvConf: bool,
    pub DNSServer: Option<Vec<String>>,
    pub DNSSearch: Option<Vec<String>>,
    pub DNSOption: Option<Vec<String>>,
    pub NoManageHosts: bool,
    pub HostAdd: Option<Vec<String>>,
    pub Networks: Vec<String>,
    pub NetworkOptions: Option<BTreeMap<String, Vec<String>>>,
    pub pid_ns: String,
    pub userns: String,
    pub uts_ns: String,
}

/// `pod inspect`: Podman's `InspectPodData`.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct InspectPod {
    pub Id: String,
    pub Name: String,
    pub Namespace: String,
    pub Created: String,
    pub CreateCommand: Vec<String>,
    pub ExitPolicy: String,
    pub State: String,
    pub Hostname: String,
    pub Labels: BTreeMap<String, String>,
    pub CreateCgroup: bool,
    pub CgroupParent: String,
    pub CgroupPath: String,
    pub CreateInfra: bool,
    pub InfraContainerID: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub InfraConfig: Option<InspectPodInfraConfig>,
    pub SharedNamespaces: Vec<String>,
    pub NumContainers: usize,
    pub Containers: Vec<InspectPodContainer>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<String>,
}

fn infra_config(pod: &Pod, infra: &Container) -> InspectPodInfraConfig {
    let ports = if pod.state.ports.is_empty() {
        &infra.config.ports
    } else {
        &pod.state.ports
    };
    let names = &infra.config.names;
    let some = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let servers: Vec<String> = names.dns_servers.iter().map(|x| x.to_string()).collect();
    InspectPodInfraConfig {
        PortBindings: crate::network::ports::bindings(ports),
        HostNetwork: infra.config.network_mode == "host",
        StaticIP: String::new(),
        StaticMAC: String::new(),
        NoManageResolvConf: false,
        DNSServer: some(&servers),
        DNSSearch: some(&names.dns_search),
        DNSOption: some(&names.dns_options),
        NoManageHosts: false,
        HostAdd: some(&names.add_hosts),
        Networks: infra.config.networks.keys().cloned().collect(),
        NetworkOptions: None,
        pid_ns: "private".into(),
        userns: "host".into(),
        uts_ns: "private".into(),
    }
}

impl Engine {
    /// `pod inspect` of one pod.
    pub fn inspect_pod(&self, reference: &str) -> Result<InspectPod> {
        let pod = self.pod(reference)?;
        let ctrs = self.pod_containers(pod.id())?;
        let infra = ctrs.iter().find(|c| c.config.is_infra);
        Ok(InspectPod {
            Id: pod.id().to_string(),
            Name: pod.name().to_string(),
            Namespace: String::new(),
            Created: go_time(Some(pod.config.created)),
            CreateCommand: pod.config.create_command.clone(),
            ExitPolicy: pod.config.exit_policy().to_string(),
            State: super::pod_status(&ctrs).to_string(),
            Hostname: pod.config.hostname.clone(),
            Labels: pod.config.labels.clone(),
            CreateCgroup: true,
            CgroupParent: if pod.config.cgroup_parent.is_empty() {
                "/peapod".into()
            } else {
                pod.config.cgroup_parent.clone()
            },
            CgroupPath: String::new(),
            CreateInfra: pod.config.infra,
            InfraContainerID: pod.config.infra_id.clone(),
            InfraConfig: infra.map(|i| infra_config(&pod, i)),
            SharedNamespaces: pod.config.shared.clone(),
            NumContainers: ctrs.len(),
            Containers: ctrs
                .iter()
                .map(|c| InspectPodContainer {
                    Id: c.id().to_string(),
                    Name: c.name().to_string(),
                    State: c.state.status.to_string(),
                })
                .collect(),
            mounts: infra
                .map(|i| {
                    i.config
                        .mounts
                        .iter()
                        .map(|m| m.destination.clone())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}
