//! A container's `securityContext` (and its pod's) as Podman 4.3's kube play maps it
//! (`setupSecurityContext`): `privileged`, `readOnlyRootFilesystem`,
//! `allowPrivilegeEscalation: false` as no-new-privileges, `capabilities.add`/`drop`, and
//! the pod's `supplementalGroups` as added groups and `sysctls` for every container.
//! `runAsUser`/`runAsGroup` are the container's user (in the plan).

use k8s_openapi::api::core::v1::{PodSecurityContext, SecurityContext};

use crate::container::SecurityFlags;
use crate::container::SecurityOpt;

/// What the contexts ask for beyond the user.
#[derive(Debug, Default)]
pub(super) struct KubeSecurity {
    pub security: SecurityFlags,
    pub read_only: bool,
    pub group_add: Vec<String>,
}

pub(super) fn security(
    sc: Option<&SecurityContext>,
    pod: Option<&PodSecurityContext>,
) -> KubeSecurity {
    let mut out = KubeSecurity::default();
    if let Some(sc) = sc {
        out.security.privileged = sc.privileged == Some(true);
        out.read_only = sc.read_only_root_filesystem == Some(true);
        if sc.allow_privilege_escalation == Some(false) {
            out.security.opts.push(SecurityOpt::NoNewPrivileges(true));
        }
        if let Some(c) = &sc.capabilities {
            out.security.cap_add = c.add.clone().unwrap_or_default();
            out.security.cap_drop = c.drop.clone().unwrap_or_default();
        }
    }
    if let Some(p) = pod {
        out.group_add = p
            .supplemental_groups
            .iter()
            .flatten()
            .map(|g| g.to_string())
            .collect();
        out.security.sysctls = p
            .sysctls
            .iter()
            .flatten()
            .map(|s| format!("{}={}", s.name, s.value))
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_as_podman_maps_them() {
        let sc: SecurityContext = serde_yaml_ng::from_str(
            "privileged: true\nreadOnlyRootFilesystem: true\nallowPrivilegeEscalation: false\ncapabilities: {add: [NET_ADMIN], drop: [ALL]}\n",
        )
        .unwrap();
        let pod: PodSecurityContext = serde_yaml_ng::from_str(
            "supplementalGroups: [10, 20]\nsysctls: [{name: net.ipv4.ip_forward, value: '1'}]\n",
        )
        .unwrap();
        let k = security(Some(&sc), Some(&pod));
        assert!(k.security.privileged && k.read_only);
        assert_eq!(k.security.opts, [SecurityOpt::NoNewPrivileges(true)]);
        assert_eq!(
            (
                k.security.cap_add.as_slice(),
                k.security.cap_drop.as_slice()
            ),
            (&["NET_ADMIN".to_string()][..], &["ALL".to_string()][..])
        );
        assert_eq!(k.group_add, ["10", "20"]);
        assert_eq!(k.security.sysctls, ["net.ipv4.ip_forward=1"]);
        let none = security(None, None);
        assert!(!none.security.privileged && !none.read_only && none.group_add.is_empty());
    }
}
