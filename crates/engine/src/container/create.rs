//! `create`: a database row and the container's directories; nothing runs yet.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;

use super::{Container, ContainerConfig, ContainerState};
use crate::Engine;
use crate::error::{Error, IoContext, Result};

/// A create request, as plain values (the CLI fills it from flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    pub name: Option<String>,
    /// The command after the image name.
    pub command: Vec<String>,
    /// `--entrypoint`: a string or a JSON array; `Some("")` clears the image's.
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    /// `--http-proxy` (Podman's default: on): the host's proxy variables go into the
    /// container's environment, below the image's and the user's.
    pub http_proxy: bool,
    /// `--unsetenv NAME`: a default or image variable left out.
    pub unsetenv: Vec<String>,
    /// `--unsetenv-all`: no default or image variable at all.
    pub unsetenv_all: bool,
    /// `--tz`: a zone name (`Europe/Paris`) or `local`.
    pub timezone: Option<String>,
    pub workdir: Option<String>,
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub labels: Vec<String>,
    /// `--annotation KEY=VALUE` (and a kube pod's annotations).
    pub annotations: Vec<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    pub auto_remove: bool,
    /// `--network`, `--ip`, `-p`, `--dns`, … (see [`crate::network::NetworkFlags`]).
    pub network: crate::network::NetworkFlags,
    pub tty: bool,
    pub interactive: bool,
    pub log_driver: Option<String>,
    pub log_opts: Vec<String>,
    pub create_command: Vec<String>,
    /// `--restart`.
    pub restart: Option<String>,
    /// `-m`, `--memory-swap`, `--cpus`, `--cpu-shares`, `--pids-limit`.
    pub resources: super::ResourceFlags,
    /// `-v`, `--mount`, `--tmpfs`, `--volumes-from` as given.
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub volumes_from: Vec<String>,
    /// `--pod NAME|ID|new:NAME`.
    pub pod: Option<String>,
    /// `--init-ctr always|once` (needs `--pod`).
    pub init_ctr: Option<String>,
    /// Set by `pod create` only: this is the infra container of that pod (its id).
    pub infra_of: Option<String>,
    /// `--privileged`, `--cap-add`, `--cap-drop`, `--security-opt`.
    pub security: super::SecurityFlags,
    /// `--timeout`, `--device-cgroup-rule` (issue 15's run flags).
    pub run_extras: RunExtras,
}

/// More of `run`/`create`'s flags, grouped.
#[derive(Debug, Clone, Default)]
pub struct RunExtras {
    /// `--timeout N`: the monitor kills the container after N seconds (exit code -1).
    pub timeout: Option<u32>,
    /// `--device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS'`: device access allowed in the
    /// container's device cgroup.
    pub device_cgroup_rules: Vec<String>,
    /// `--conmon-pidfile PATH`: the monitor's pid written there at every start.
    pub conmon_pidfile: Option<PathBuf>,
}

/// Podman's warning when a rootless container on cgroup v1 asks for limits: it runs
/// without them.
pub const ROOTLESS_V1_LIMITS_WARNING: &str =
    "Resource limits are not supported and ignored on cgroups V1 rootless systems";

impl Engine {
    pub fn create_container(&self, opts: &CreateOptions) -> Result<Container> {
        self.create_container_warning(opts).map(|(c, _)| c)
    }

    /// `create_container`, with the warnings Podman prints to stderr at create (limits that
    /// a rootless container on cgroup v1 cannot have).
    pub fn create_container_warning(
        &self,
        opts: &CreateOptions,
    ) -> Result<(Container, Vec<String>)> {
        let member = self.pod_member_plan(opts)?;
        let result = self.create_container_in(opts, member.as_ref());
        if result.is_err()
            && let Some(m) = &member
            && m.new_pod
        {
            // `--pod new:NAME` made the pod for this container: nothing stays half-made.
            let _ = self.remove_pod(&m.pod_id, true, Some(0));
        }
        let container = result?;
        let mut warnings = Vec::new();
        if !opts.network.publish.is_empty()
            && container.config.ports.is_empty()
            && container.config.pod.is_empty()
        {
            warnings.push(crate::network::PORTS_DISCARDED_WARNING.to_string());
        }
        if rootless_without_cgroups() && !opts.resources.is_empty() {
            warnings.push(ROOTLESS_V1_LIMITS_WARNING.to_string());
        }
        Ok((container, warnings))
    }

    fn create_container_in(
        &self,
        opts: &CreateOptions,
        member: Option<&crate::pod::MemberPlan>,
    ) -> Result<Container> {
        let image = self.resolve_image(&opts.image)?;
        let image_config = self.image_config(&image)?;
        let icfg = image_config.config().clone().unwrap_or_default();

        if let Some(n) = &opts.name
            && !crate::names::valid_name(n)
        {
            return Err(Error::invalid(format!(
                "invalid name \"{n}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
            )));
        }

        // Entrypoint and command, as Podman combines them.
        let image_entrypoint = icfg.entrypoint().clone().unwrap_or_default();
        let image_cmd = icfg.cmd().clone().unwrap_or_default();
        let entrypoint = match &opts.entrypoint {
            None => image_entrypoint,
            Some(e) if e.is_empty() => Vec::new(),
            Some(e) if e.trim_start().starts_with('[') => serde_json::from_str::<Vec<String>>(e)
                .map_err(|err| Error::invalid(format!("invalid --entrypoint {e:?}: {err}")))?,
            Some(e) => vec![e.clone()],
        };
        let cmd = if !opts.command.is_empty() {
            opts.command.clone()
        } else if opts.entrypoint.is_some() {
            // A new entrypoint drops the image's CMD (Docker and Podman do the same).
            Vec::new()
        } else {
            image_cmd
        };
        let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
        if args.is_empty() {
            return Err(Error::invalid(
                "no command or entrypoint provided, and no CMD or ENTRYPOINT from image",
            ));
        }

        // Podman's order: its defaults, the host's proxy variables, the image's; then
        // `--unsetenv` takes names out (`--unsetenv-all` all of them); then env files, -e.
        let mut base_env = Vec::new();
        if !opts.unsetenv_all {
            base_env.extend(super::env::default_env());
            if opts.http_proxy {
                base_env.extend(super::env::host_proxy_env());
            }
            base_env.extend(icfg.env().iter().flatten().cloned());
        }
        base_env.retain(|e| {
            let name = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            !opts.unsetenv.iter().any(|u| u == name)
        });
        let env = super::env::build_env(&base_env, &opts.env_files, &opts.env)?;
        super::env::check_exec_size(&args, &env)?;
        let mut labels: BTreeMap<String, String> = icfg
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        crate::names::parse_labels(opts.labels.iter().map(String::as_str), &mut labels)?;
        let annotations = super::annotations::parse(&opts.annotations)?;
        let stop_signal = match opts
            .stop_signal
            .as_deref()
            .or(icfg.stop_signal().as_deref())
        {
            Some(s) => crate::signal::parse(s)?,
            None => 15,
        };
        let exposed_ports = icfg.exposed_ports().clone().unwrap_or_default();
        let net = match member {
            // The pod's namespace: its networks, ports and names are the infra's.
            Some(m) if m.shares_net => crate::network::NetworkPlan {
                mode: "pod".into(),
                ..Default::default()
            },
            _ => self.plan_network(&opts.network, &exposed_ports)?,
        };
        let log_driver = match opts.log_driver.as_deref() {
            None | Some("") | Some("k8s-file") | Some("json-file") => "k8s-file",
            Some("none") => "none",
            Some("passthrough") => "passthrough",
            Some("journald") => {
                // The monitor does not write to journald yet: refuse rather than accept a
                // driver that would drop every line.
                let why = if std::path::Path::new(JOURNALD_SOCKET).exists() {
                    "peapod's monitor cannot write to journald yet".to_string()
                } else {
                    format!(
                        "journald is not running on this host ({JOURNALD_SOCKET} does not exist)"
                    )
                };
                return Err(Error::invalid(format!(
                    "invalid log driver: journald: {why}: use k8s-file"
                )));
            }
            Some(other) => {
                return Err(Error::invalid(format!(
                    "invalid log driver: {other}: invalid argument"
                )));
            }
        };
        let mut log_size_max = None;
        let mut log_max_files = None;
        let mut log_path_opt = None;
        for o in &opts.log_opts {
            match o.split_once('=') {
                Some(("max-size", v)) => {
                    log_size_max = Some(
                        super::resources::from_human_size(v)
                            .and_then(|n| u64::try_from(n).ok())
                            .ok_or_else(|| {
                                Error::invalid(format!("invalid log option {o:?}: invalid size"))
                            })?,
                    )
                }
                Some(("path", v)) => log_path_opt = Some(v.to_string()),
                Some(("max-file", v)) => {
                    log_max_files = Some(v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        Error::invalid(format!("invalid log option {o:?}: max-file must be a whole number of at least 1"))
                    })?)
                }
                // journald only; accepted as Podman does.
                Some(("tag", _)) => {}
                _ => {
                    return Err(Error::invalid(format!(
                        "invalid log option {o:?}: invalid argument"
                    )));
                }
            }
        }

        let restart = super::restart::parse(opts.restart.as_deref().unwrap_or(""))?;
        if opts.auto_remove && !matches!(restart.name.as_str(), "" | "no") {
            return Err(Error::invalid(
                "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"",
            ));
        }
        let mut resources = super::resources::parse(&opts.resources)?;
        // A rootless user on cgroup v1 has no cgroup of its own to limit: as Podman, the
        // container runs without limits (no default pids limit either), with a warning
        // when some were asked for.
        if rootless_without_cgroups() {
            resources = super::Resources {
                pids_limit: Some(0),
                ..Default::default()
            };
        }
        let mut mounts = self.resolve_mounts(&crate::volume::MountRequest {
            volumes: &opts.volumes,
            mounts: &opts.mounts,
            tmpfs: &opts.tmpfs,
            volumes_from: &opts.volumes_from,
            pod_mounts: member.map(|m| m.mounts.as_slice()).unwrap_or_default(),
            image_volumes: icfg.volumes().as_deref().unwrap_or(&[]),
        })?;

        let id = crate::names::new_id();
        let hostname = member
            .and_then(|m| m.hostname.clone())
            .or_else(|| opts.hostname.clone())
            .unwrap_or_else(|| id[..12].to_string());
        let bundle = self.paths.bundle(&id);
        let log_path = log_path_opt.unwrap_or_else(|| {
            crate::monitor::default_log_path(&bundle)
                .display()
                .to_string()
        });
        let mut config = ContainerConfig {
            id: id.clone(),
            name: String::new(),
            created: Utc::now(),
            image_id: image.id.clone(),
            image_name: image
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| image.id.clone()),
            args,
            entrypoint,
            cmd,
            env,
            create_workdir: opts.workdir.is_none(),
            timezone: match &opts.timezone {
                Some(tz) => {
                    super::timezone::zone_file(tz)?;
                    Some(tz.clone())
                }
                None => None,
            },
            workdir: opts
                .workdir
                .clone()
                .or_else(|| icfg.working_dir().clone().filter(|w| !w.is_empty()))
                .unwrap_or_else(|| "/".into()),
            user: opts
                .user
                .clone()
                .or_else(|| icfg.user().clone())
                .unwrap_or_default(),
            hostname,
            labels,
            annotations,
            stop_signal,
            stop_timeout: opts.stop_timeout.unwrap_or(10),
            auto_remove: opts.auto_remove,
            network_mode: net.mode,
            log_driver: log_driver.to_string(),
            log_path,
            log_size_max,
            log_max_files,
            tty: opts.tty,
            stdin: opts.interactive,
            create_command: opts.create_command.clone(),
            exposed_ports,
            // Inspect's `OCIRuntime`: as given (a full path stays one, as in Podman), else
            // the name of the runtime found.
            runtime: match &self.options().runtime {
                Some(given) => given.clone(),
                None => self.runtime().map(|r| r.name()).unwrap_or_default(),
            },
            restart_policy: restart.name,
            restart_retries: restart.max_retries,
            resources,
            networks: net.networks,
            ports: net.ports,
            names: net.names,
            mounts: Vec::new(),
            volumes_from: opts.volumes_from.clone(),
            pod: member.map(|m| m.pod_id.clone()).unwrap_or_default(),
            is_infra: false,
            init_ctr: opts.init_ctr.clone().unwrap_or_default(),
            cgroup_parent: member.map(|m| m.cgroup_parent.clone()).unwrap_or_default(),
            security: None,
            timeout: opts.run_extras.timeout.filter(|t| *t > 0),
            device_cgroup_rules: opts.run_extras.device_cgroup_rules.clone(),
            conmon_pidfile: opts
                .run_extras
                .conmon_pidfile
                .as_ref()
                .map(|p| crate::absolute(p))
                .transpose()?,
        };
        for rule in &config.device_cgroup_rules {
            crate::oci::devices::parse_cgroup_rule(rule)?;
        }
        if let Some(pod_id) = &opts.infra_of {
            let pod = self
                .db
                .pod(pod_id)?
                .ok_or_else(|| Error::NoSuchPod(pod_id.clone()))?;
            config.pod = pod_id.clone();
            config.is_infra = true;
            config.cgroup_parent = pod.config.cgroup_parent.clone();
        }
        if !config.workdir.starts_with('/') {
            return Err(Error::invalid(format!(
                "workdir {:?} must be an absolute path",
                config.workdir
            )));
        }
        if let Some(image_name) = self.image_display_name(&opts.image, &image) {
            config.image_name = image_name;
        }
        config.security = Some(self.plan_security(
            &opts.security,
            &super::security::SecurityTarget {
                user: &config.user,
                network_mode: &config.network_mode,
                pod: member.map(|m| m.pod_id.as_str()),
            },
        )?);

        // Last, as nothing else can fail after it but the insert: the volumes stay locked
        // until the row exists (no prune or rm in between), and the ones made here are
        // removed again if the container cannot be recorded.
        let held_volumes = self.hold_mount_volumes(&mut mounts)?;
        config.mounts = mounts;
        let dir = self.paths.container_dir(&id);
        let mut container = Container {
            config,
            state: ContainerState::default(),
        };
        let result = std::fs::create_dir_all(&bundle)
            .ctx("creating container directory", &bundle)
            .and_then(|()| self.insert_with_name(&mut container, opts.name.as_deref()));
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&dir);
            self.forget_created_volumes(held_volumes);
            return Err(e);
        }
        drop(held_volumes);
        Ok(container)
    }

    /// Insert the row, generating a name when none was given (retrying on collisions).
    fn insert_with_name(&self, c: &mut Container, name: Option<&str>) -> Result<()> {
        if let Some(n) = name {
            c.config.name = n.to_string();
            return self.db.insert_container(c);
        }
        for attempt in 0.. {
            c.config.name = crate::names::random_name(attempt);
            match self.db.insert_container(c) {
                Err(Error::NameInUse { .. }) if attempt < 50 => continue,
                other => return other,
            }
        }
        unreachable!()
    }
}

/// A rootless user on a cgroup v1 host: no cgroup to put limits in.
pub(crate) fn rootless_without_cgroups() -> bool {
    crate::rootless::is_rootless() && !crate::config::cgroup_unified()
}

/// Where journald listens for native-protocol datagrams.
const JOURNALD_SOCKET: &str = "/run/systemd/journal/socket";
