//! `create`: a database row and the container's directories; nothing runs yet.

use std::collections::BTreeMap;

use chrono::Utc;

use super::spec::LogDriver;
use super::{Container, ContainerConfig, ContainerSpec, ContainerState};
use crate::Engine;
use crate::error::{Error, IoContext, Result};

/// Podman's warning when a rootless container on cgroup v1 asks for limits: it runs
/// without them.
pub const ROOTLESS_V1_LIMITS_WARNING: &str =
    "Resource limits are not supported and ignored on cgroups V1 rootless systems";

impl Engine {
    pub fn create_container(&self, opts: &ContainerSpec) -> Result<Container> {
        self.create_container_warning(opts).map(|(c, _)| c)
    }

    /// `create_container`, with the warnings Podman prints to stderr at create (limits that
    /// a rootless container on cgroup v1 cannot have).
    pub fn create_container_warning(
        &self,
        opts: &ContainerSpec,
    ) -> Result<(Container, Vec<String>)> {
        if opts.replace
            && let Some(name) = &opts.name
        {
            match self.remove(
                name,
                &super::RemoveOptions {
                    force: true,
                    volumes: false,
                    timeout: None,
                },
            ) {
                Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
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
        self.emit_container(&container, "create");
        let mut warnings = Vec::new();
        if !opts.network.publish.is_empty()
            && container.config.ports.is_empty()
            && container.config.pod.is_empty()
        {
            warnings.push(crate::network::PORTS_DISCARDED_WARNING.to_string());
        }
        if rootless_without_cgroups() && opts.resources != super::Resources::default() {
            warnings.push(ROOTLESS_V1_LIMITS_WARNING.to_string());
        }
        Ok((container, warnings))
    }

    fn create_container_in(
        &self,
        opts: &ContainerSpec,
        member: Option<&crate::pod::MemberPlan>,
    ) -> Result<Container> {
        // `--rootfs`: no image, so no image config either.
        let rootfs = opts
            .rootfs
            .as_deref()
            .map(super::RootfsDir::parse)
            .transpose()?;
        let image = match &rootfs {
            Some(_) => None,
            None => Some(self.resolve_image(&opts.image)?),
        };
        let icfg = match &image {
            Some(image) => self
                .image_config(image)?
                .config()
                .clone()
                .unwrap_or_default(),
            None => Default::default(),
        };

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
        let entrypoint = opts.entrypoint.clone().unwrap_or(image_entrypoint);
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
        // `--unsetenv` takes names out (`--unsetenv-all` all of them); then the host's
        // environment (`--env-host`) or else its proxy variables (`--http-proxy`, on by
        // default) win over the image's; then env files, -e.
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
        if opts.env_host {
            base_env.extend(std::env::vars().map(|(k, v)| format!("{k}={v}")));
        } else if opts.http_proxy {
            base_env.extend(super::env::host_proxy_env());
        }
        let env = super::env::build_env(&base_env, &opts.env_files, &opts.env)?;
        super::env::check_exec_size(&args, &env)?;
        let mut labels: BTreeMap<String, String> = icfg
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        crate::names::parse_labels(opts.labels.iter().map(String::as_str), &mut labels)?;
        if image.is_some() {
            super::autoupdate::check_label(
                labels
                    .get(super::autoupdate::AUTO_UPDATE_LABEL)
                    .map(String::as_str),
                opts.raw_image.as_deref().unwrap_or(&opts.image),
            )?;
        }
        let mut annotations = super::annotations::parse(&opts.annotations)?;
        let userns = super::userns::check_userns(
            opts.run_extras.userns.as_deref().unwrap_or(""),
            crate::rootless::is_rootless(),
        )?;
        super::userns::check_id_maps(&opts.run_extras.id_maps)?;
        let keep_groups = super::userns::check_group_add(&opts.run_extras.group_add)?;
        if keep_groups {
            annotations.insert(super::userns::KEEP_GROUPS_ANNOTATION.into(), "1".into());
        }
        let systemd = crate::oci::systemd::wanted(opts.run_extras.systemd.as_deref(), &args)?;
        let stop_signal = match (opts.stop_signal, icfg.stop_signal()) {
            (Some(n), _) => n,
            (None, Some(s)) => crate::signal::parse(s)?,
            // systemd stops on SIGRTMIN+3, as Podman sets it in systemd mode.
            (None, None) if systemd => crate::signal::parse("RTMIN+3")?,
            (None, None) => 15,
        };
        let exposed_ports = icfg.exposed_ports().clone().unwrap_or_default();
        let image_health = match &image {
            Some(image) => self.image_healthcheck(image)?,
            None => None,
        };
        let healthcheck = super::health::resolve(&opts.health, image_health.as_ref())?;
        let startup_healthcheck =
            super::health::startup::resolve(&opts.health, healthcheck.is_some())?;
        let sdnotify = super::sdnotify::check_sdnotify(opts.run_extras.sdnotify.as_deref())?;
        let cgroups_mode = super::sdnotify::check_cgroups(opts.run_extras.cgroups.as_deref())?;
        let net = match member {
            // The pod's namespace: its networks, ports and names are the infra's.
            Some(m) if m.shares_net => crate::network::NetworkPlan {
                mode: "pod".into(),
                ..Default::default()
            },
            _ => self.plan_network(&opts.network, &exposed_ports)?,
        };
        if opts.log.driver == LogDriver::Journald {
            // The monitor does not write to journald yet: refuse rather than accept a
            // driver that would drop every line.
            let why = if std::path::Path::new(JOURNALD_SOCKET).exists() {
                "peapod's monitor cannot write to journald yet".to_string()
            } else {
                format!("journald is not running on this host ({JOURNALD_SOCKET} does not exist)")
            };
            return Err(Error::invalid(format!(
                "invalid log driver: journald: {why}: use k8s-file"
            )));
        }
        if opts.auto_remove && opts.restart.is_some_and(|r| r != super::RestartPolicy::No) {
            return Err(Error::invalid(
                "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"",
            ));
        }
        let mut resources = super::resources::check(&opts.resources)?;
        // A rootless user on cgroup v1 has no cgroup of its own to limit: as Podman, the
        // container runs without limits (no default pids limit either), with a warning
        // when some were asked for.
        if rootless_without_cgroups() {
            resources = super::Resources {
                pids_limit: Some(0),
                ..Default::default()
            };
        }
        let host = super::hostcfg::plan(&opts.host)?;
        let mut user_mounts = opts.mounts.clone();
        user_mounts.extend(self.default_mounts(&opts.mounts)?);
        if opts.host.read_only && opts.host.read_only_tmpfs {
            user_mounts.extend(super::hostcfg::read_only_tmpfs_mounts(&opts.mounts));
        }
        let mut mounts = self.resolve_mounts(&crate::volume::MountRequest {
            mounts: &user_mounts,
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
        let log_path = opts.log.path.clone().unwrap_or_else(|| {
            crate::monitor::default_log_path(&bundle)
                .display()
                .to_string()
        });
        let mut config = ContainerConfig {
            id: id.clone(),
            name: String::new(),
            created: Utc::now(),
            image_id: image.as_ref().map(|i| i.id.clone()).unwrap_or_default(),
            image_name: image
                .as_ref()
                .map(|i| i.names.first().cloned().unwrap_or_else(|| i.id.clone()))
                .unwrap_or_default(),
            rootfs,
            is_service: false,
            external: false,
            service_pods: Vec::new(),
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
            log_driver: opts.log.driver.name().to_string(),
            log_path,
            log_size_max: opts.log.max_size,
            log_max_files: opts.log.max_files,
            tty: opts.tty,
            stdin: opts.interactive,
            create_command: opts.create_command.clone(),
            exposed_ports,
            publish_all: opts.network.publish_all,
            // Inspect's `OCIRuntime`: as given (a full path stays one, as in Podman), else
            // the name of the runtime found.
            runtime: match &self.options().runtime {
                Some(given) => given.clone(),
                None => self.runtime().map(|r| r.name()).unwrap_or_default(),
            },
            restart_policy: opts.restart.map(|r| r.name()).unwrap_or("").to_string(),
            restart_retries: opts.restart.map_or(0, |r| r.max_retries()),
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
            namespaces: self.namespace_modes(opts)?,
            timeout: opts.run_extras.timeout.filter(|t| *t > 0),
            device_cgroup_rules: opts.run_extras.device_cgroup_rules.clone(),
            conmon_pidfile: opts
                .run_extras
                .conmon_pidfile
                .as_ref()
                .map(|p| crate::absolute(p))
                .transpose()?,
            preserve_fds: opts.run_extras.preserve_fds,
            group_add: if keep_groups {
                Vec::new()
            } else {
                opts.run_extras.group_add.clone()
            },
            userns,
            healthcheck,
            startup_healthcheck,
            sdnotify,
            host,
            cgroups_mode,
            requires: opts
                .run_extras
                .requires
                .iter()
                .map(|r| self.db.lookup_container(r).map(|c| c.id().to_string()))
                .collect::<Result<_>>()?,
        };
        crate::monitor::check_preserved(config.preserve_fds)?;
        if config.cgroups_mode == "split" {
            // The starter's cgroup is the parent (a pod member's too, as with Podman's
            // quadlet pods); one that has none of its own is refused now, not at start.
            config.cgroup_parent.clear();
            let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            super::sdnotify::own_cgroup(&text)?;
        }
        if opts.host.init {
            self.add_init(&mut config, opts)?;
        }
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
        if let Some(image_name) = image
            .as_ref()
            .and_then(|i| self.image_display_name(&opts.image, i))
        {
            config.image_name = image_name;
        }
        config.security = Some(self.plan_security(
            &opts.security,
            &super::security::SecurityTarget {
                user: &config.user,
                network_mode: &config.network_mode,
                pod: member.map(|m| m.pod_id.as_str()),
                systemd,
                host_ipc: opts.ipc == Some(super::spec::NamespaceMode::Host),
                host_uts: opts.uts == Some(super::spec::NamespaceMode::Host),
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

    /// `--pid`, `--ipc`, `--uts` as stored: another container named by its id.
    fn namespace_modes(&self, opts: &ContainerSpec) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (kind, mode) in [("pid", &opts.pid), ("ipc", &opts.ipc), ("uts", &opts.uts)] {
            let Some(mode) = mode else { continue };
            let stored = match mode {
                super::spec::NamespaceMode::Container(c) => {
                    let donor = self.db.lookup_container(c)?;
                    if kind == "ipc" {
                        super::namespaces::check_ipc_donor(&donor)?;
                    }
                    format!("container:{}", donor.id())
                }
                m => m.to_config(),
            };
            out.insert(kind.to_string(), stored);
        }
        Ok(out)
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

impl Engine {
    /// `--init`: the init binary (`--init-path`, containers.conf `init_path`, else
    /// peapod-pause, which is catatonit's init as well) mounted at `/run/podman-init` and
    /// run as PID 1 with the command after `--`, as Podman does.
    fn add_init(&self, config: &mut ContainerConfig, opts: &ContainerSpec) -> Result<()> {
        if opts.pid == Some(super::spec::NamespaceMode::Host) {
            return Err(Error::invalid(
                "cannot add init binary as PID 1 (PID namespace isn't private)",
            ));
        }
        let path = match &opts.host.init_path {
            Some(p) => p.clone(),
            None => match crate::config::containers_conf::ContainersConf::load()?
                .containers
                .init_path
            {
                Some(p) => p,
                None => {
                    crate::config::find_helper(self.options().self_exe.as_deref(), "peapod-pause")?
                }
            },
        };
        if let Err(e) = std::fs::metadata(&path) {
            return Err(Error::invalid(format!(
                "container-init binary not found on the host: stat {}: {}",
                path.display(),
                crate::error::go_io_error(&e)
            )));
        }
        config.host.init = Some(path);
        let mut args = vec![super::hostcfg::INIT_PATH.to_string(), "--".to_string()];
        args.append(&mut config.args);
        config.args = args;
        Ok(())
    }
}
