//! `pod create`, the pause image, and how `create --pod` joins a pod.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;

use super::{MemberPlan, Pod, PodConfig, PodState};
use crate::Engine;
use crate::container::ContainerSpec;
use crate::error::{Error, IoContext, Result};

/// The image the infra container runs by default: built here on first use, named as Podman
/// names its own, `localhost/podman-pause:<version>-<built>` (`version`'s `Server.Version`
/// and `Server.Built`, which is 0 for peapod), so scripts that find or remove the infra
/// image by that name work.
pub const PAUSE_IMAGE: &str = concat!("localhost/podman-pause:", env!("CARGO_PKG_VERSION"), "-0");

/// Where the pause binary lives in that image.
const PAUSE_PATH: &str = "/peapod-pause";

/// A `pod create` request, as plain values.
#[derive(Debug, Clone, Default)]
pub struct PodCreateOptions {
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub labels: Vec<String>,
    pub label_files: Vec<PathBuf>,
    /// `--share`, as given (None: the default ipc,net,uts).
    pub share: Option<String>,
    pub infra: bool,
    pub infra_image: Option<String>,
    /// `--infra-command`: a JSON array, or words separated by commas or spaces.
    pub infra_command: Option<String>,
    pub infra_name: Option<String>,
    /// `--infra-conmon-pidfile`: the infra's monitor pid written there at every start.
    pub infra_conmon_pidfile: Option<PathBuf>,
    pub cgroup_parent: Option<String>,
    /// `--network`, `-p`, `--add-host`, `--dns`, … for the pod's namespace.
    pub network: crate::network::NetworkSpec,
    /// `-v`, parsed: the pod's volumes, mounted into every member.
    pub volumes: Vec<crate::volume::spec::MountSpec>,
    pub create_command: Vec<String>,
    /// `--exit-policy`: continue (default) or stop.
    pub exit_policy: Option<String>,
    /// `--replace`: a pod of the same name is removed (forcibly) first.
    pub replace: bool,
}

fn parse_command(s: &str) -> Result<Vec<String>> {
    let t = s.trim();
    if t.starts_with('[') {
        return serde_json::from_str(t)
            .map_err(|e| Error::invalid(format!("invalid --infra-command {s:?}: {e}")));
    }
    let words: Vec<String> = t
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    if words.is_empty() {
        return Err(Error::invalid("--infra-command must not be empty"));
    }
    Ok(words)
}

impl Engine {
    /// The default infra image, imported from a tarball holding only the pause binary.
    pub fn pause_image(&self) -> Result<String> {
        if self.db.image_by_name(PAUSE_IMAGE)?.is_some() {
            return Ok(PAUSE_IMAGE.to_string());
        }
        let bin = crate::config::find_helper(self.options().self_exe.as_deref(), "peapod-pause")?;
        let data = std::fs::read(&bin).ctx("reading", &bin)?;
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &PAUSE_PATH[1..], data.as_slice())
            .ctx("building the pause image from", &bin)?;
        let bytes = tar
            .into_inner()
            .ctx("building the pause image from", &bin)?;
        self.import_image(
            bytes.as_slice(),
            Some(PAUSE_IMAGE),
            &[format!("ENTRYPOINT [\"{PAUSE_PATH}\", \"-P\"]")],
            Some("peapod's infra image: the pause process".into()),
        )?;
        Ok(PAUSE_IMAGE.to_string())
    }

    /// The infra image when none is given: containers.conf's `[engine] infra_image` (pulled
    /// when missing, as Podman does), else the pause image built here.
    pub(crate) fn default_infra_image(&self) -> Result<String> {
        match crate::config::containers_conf::ContainersConf::load()?
            .engine
            .infra_image
        {
            Some(image) => self.ensure_image(
                &image,
                crate::registry::PullPolicy::Missing,
                &Default::default(),
                &crate::image::registry::Silent,
            ),
            None => self.pause_image(),
        }
    }

    /// `pod create`: the pod's row and its infra container (not started).
    pub fn create_pod(&self, opts: &PodCreateOptions) -> Result<Pod> {
        if let Some(n) = &opts.name
            && !crate::names::valid_name(n)
        {
            return Err(Error::invalid(format!(
                "invalid name \"{n}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
            )));
        }
        let shared = super::parse_share(opts.share.as_deref())?;
        let exit_policy = super::parse_exit_policy(opts.exit_policy.as_deref())?;
        let has_net = opts.infra && shared.iter().any(|s| s == "net");
        if !opts.infra {
            if !opts.network.publish.is_empty() {
                return Err(Error::invalid(
                    "you must have an infra container to publish port bindings to the host",
                ));
            }
            if !opts.volumes.is_empty() {
                return Err(Error::invalid(
                    "cannot add volumes to a pod without an infra container",
                ));
            }
            if opts.infra_image.is_some()
                || opts.infra_command.is_some()
                || opts.infra_name.is_some()
            {
                return Err(Error::invalid(
                    "cannot set infra options (--infra-image, --infra-command, --infra-name) when not creating an infra container",
                ));
            }
        } else if matches!(opts.network.mode, crate::network::NetworkMode::Container(_)) {
            // As Podman: a pod's infra cannot borrow a container's network namespace.
            return Err(Error::invalid(
                "pods presently do not support network mode container",
            ));
        } else if !has_net && !opts.network.publish.is_empty() {
            return Err(Error::invalid(
                "you must share the net namespace to publish port bindings to the host",
            ));
        }
        let mut labels = BTreeMap::new();
        for f in &opts.label_files {
            // Read as Podman reads it: a line holds at most 64 KiB.
            let lines = crate::kvfile::entries(f)
                .map_err(|e| Error::invalid(format!("reading label file {}: {e}", f.display())))?;
            crate::names::parse_labels(lines.iter().map(|l| l.trim_end()), &mut labels)?;
        }
        crate::names::parse_labels(opts.labels.iter().map(String::as_str), &mut labels)?;
        let infra_command = opts
            .infra_command
            .as_deref()
            .map(parse_command)
            .transpose()?;
        let id = crate::names::new_id();
        let name = opts.name.clone().unwrap_or_default();
        let mut pod = Pod {
            config: PodConfig {
                id: id.clone(),
                name: name.clone(),
                created: Utc::now(),
                hostname: opts.hostname.clone().unwrap_or_else(|| name.clone()),
                labels,
                create_command: opts.create_command.clone(),
                shared,
                infra: opts.infra,
                infra_id: String::new(),
                cgroup_parent: opts.cgroup_parent.clone().unwrap_or_default(),
                exit_policy,
                service_container: String::new(),
            },
            state: PodState::default(),
        };
        // `--replace`: the pod of that name goes first, with its containers (as `pod rm -f`).
        if opts.replace
            && let Some(n) = &opts.name
        {
            match self.remove_pod(n, true, None) {
                Ok(_) | Err(Error::NoSuchPod(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // The name is checked where it is inserted: nothing exists yet that a taken name
        // would have to undo.
        self.insert_pod_named(&mut pod, opts.name.is_some(), opts.hostname.is_none())?;
        if !opts.infra {
            self.emit_pod(&pod, "create");
            return Ok(pod);
        }
        let infra = (|| -> Result<crate::container::Container> {
            let image = match &opts.infra_image {
                Some(i) => i.clone(),
                None => self.default_infra_image()?,
            };
            self.create_container(&ContainerSpec {
                image,
                name: Some(
                    opts.infra_name
                        .clone()
                        .unwrap_or_else(|| format!("{}-infra", &id[..12])),
                ),
                entrypoint: infra_command.clone(),
                hostname: Some(pod.config.hostname.clone()),
                // Not sharing net, the infra still takes `--network host` (inspect's
                // InfraConfig.HostNetwork says so, as Podman's).
                network: if has_net {
                    opts.network.clone()
                } else if opts.network.mode == crate::network::NetworkMode::Host {
                    crate::network::NetworkSpec {
                        mode: crate::network::NetworkMode::Host,
                        ..Default::default()
                    }
                } else {
                    crate::network::NetworkSpec::default()
                },
                mounts: opts.volumes.clone(),
                create_command: opts.create_command.clone(),
                infra_of: Some(id.clone()),
                run_extras: crate::container::RunExtras {
                    conmon_pidfile: opts.infra_conmon_pidfile.clone(),
                    ..Default::default()
                },
                ..Default::default()
            })
        })();
        let infra = match infra {
            Ok(c) => c,
            Err(e) => {
                let _ = self.db.delete_pod(&id);
                return Err(e);
            }
        };
        pod.config.infra_id = infra.id().to_string();
        if let Err(e) = self.db.update_pod_config(&id, &pod.config) {
            let _ = self.remove_pod(&id, true, Some(0));
            return Err(e);
        }
        self.emit_pod(&pod, "create");
        Ok(pod)
    }

    /// Insert the pod's row; without a name given, under a generated one (another on a
    /// collision), which is also its hostname unless one was given.
    fn insert_pod_named(&self, pod: &mut Pod, named: bool, hostname_from_name: bool) -> Result<()> {
        if named {
            return self.db.insert_pod(pod);
        }
        for attempt in 0.. {
            pod.config.name = crate::names::random_name(attempt);
            if hostname_from_name {
                pod.config.hostname = pod.config.name.clone();
            }
            match self.db.insert_pod(pod) {
                Err(Error::PodNameInUse(_)) if attempt < 50 => continue,
                other => return other,
            }
        }
        unreachable!()
    }

    /// How a container being created joins its pod (`--pod`), making the pod for
    /// `--pod new:NAME`. None without `--pod`.
    pub(crate) fn pod_member_plan(&self, opts: &ContainerSpec) -> Result<Option<MemberPlan>> {
        if let Some(kind) = &opts.init_ctr {
            if !matches!(kind.as_str(), "always" | "once") {
                return Err(Error::invalid(format!(
                    "init-ctr value must be 'always' or 'once', not {kind:?}: invalid argument"
                )));
            }
            if opts.pod.is_none() {
                return Err(Error::invalid(
                    "must specify pod value with init-ctr: invalid argument",
                ));
            }
        }
        let Some(reference) = opts.pod.as_deref().filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let (pod, new_pod) = match reference.strip_prefix("new:") {
            Some(name) => {
                // Podman gives the container's --hostname to the new pod (whose uts
                // namespace the container shares).
                let pod = self.create_pod(&PodCreateOptions {
                    name: Some(name.to_string()),
                    hostname: opts.hostname.clone(),
                    infra: true,
                    network: opts.network.clone(),
                    create_command: opts.create_command.clone(),
                    ..Default::default()
                })?;
                (pod, true)
            }
            None => (self.db.lookup_pod(reference)?, false),
        };
        let shares_net = pod.shares("net");
        if pod.shares("uts") && !new_pod && opts.hostname.is_some() {
            return Err(Error::invalid(
                "invalid config provided: cannot set hostname when joining the pod UTS namespace: invalid configuration",
            ));
        }
        if shares_net && !new_pod {
            let n = &opts.network;
            if !n.publish.is_empty() || n.publish_all {
                return Err(Error::invalid(
                    "invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod",
                ));
            }
            if n.mode != crate::network::NetworkMode::Default
                || n.ip.is_some()
                || n.mac_address.is_some()
                || !n.aliases.is_empty()
            {
                return Err(Error::invalid(
                    "invalid config provided: networks must be defined when the pod is created: network cannot be configured when it is shared with a pod",
                ));
            }
        }
        let mounts = if pod.config.infra {
            self.db
                .container(&pod.config.infra_id)?
                .map(|c| c.config.mounts)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Some(MemberPlan {
            pod_id: pod.id().to_string(),
            new_pod,
            shares_net,
            hostname: pod.shares("uts").then(|| pod.config.hostname.clone()),
            mounts,
            cgroup_parent: pod.config.cgroup_parent.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_image_named_as_podman_names_it() {
        let v = crate::system::version(false).Client;
        assert_eq!(
            PAUSE_IMAGE,
            format!("localhost/podman-pause:{}-{}", v.Version, v.Built)
        );
    }

    #[test]
    fn infra_commands() {
        assert_eq!(
            parse_command("/usr/bin/catatonit,-P").unwrap(),
            ["/usr/bin/catatonit", "-P"]
        );
        assert_eq!(parse_command("/pause -P").unwrap(), ["/pause", "-P"]);
        assert_eq!(parse_command(r#"["/a b","-x"]"#).unwrap(), ["/a b", "-x"]);
        assert!(parse_command(" ").is_err());
    }
}
