//! init, start, stop, kill, restart, wait and cleanup.

use super::stop::bad_state;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use chrono::Utc;

use super::reconcile::process_start_time;
use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::monitor::{MonitorRequest, log_arg};
use crate::oci::spec::SpecInput;
use crate::state::{Holder, Resource};

/// A container started with its output attached: read the socket until EOF, then
/// [`Engine::wait_exit_code`].
pub struct StartedAttached {
    pub container: Container,
    pub socket: Option<UnixStream>,
}

impl Engine {
    /// Look up a container and reconcile it with what the monitor and the runtime say (and
    /// finish a start that was interrupted, if nobody else is at it).
    pub fn container(&self, reference: &str) -> Result<Container> {
        let mut c = self.db.lookup_container(reference)?;
        self.reconcile(&mut c)?;
        self.repair_if_abandoned(&mut c);
        Ok(c)
    }

    /// Every container, reconciled; external ones (a build's) are not among them.
    pub fn containers(&self) -> Result<Vec<Container>> {
        let mut all = self.db.containers()?;
        all.retain(|c| !c.config.external);
        for c in &mut all {
            self.reconcile(c)?;
            self.repair_if_abandoned(c);
        }
        Ok(all)
    }

    /// The external containers (a build's working containers), reconciled.
    pub fn external_containers(&self) -> Result<Vec<Container>> {
        let mut all = self.db.containers()?;
        all.retain(|c| c.config.external);
        for c in &mut all {
            self.reconcile(c)?;
        }
        Ok(all)
    }

    /// A container whose lock the caller holds, reconciled and repaired.
    pub(crate) fn container_locked(&self, id: &str) -> Result<Container> {
        let mut c = self
            .db
            .container(id)?
            .ok_or_else(|| Error::NoSuchContainer(id.to_string()))?;
        self.reconcile(&mut c)?;
        if let Err(e) = self.repair_interrupted(&mut c) {
            // What could not be released is released (and reported) again by whatever the
            // caller does next: start, cleanup and removal all go through the ledger.
            tracing::warn!(id, error = %e, "repairing an interrupted start");
        }
        Ok(c)
    }

    pub(super) fn save(&self, c: &Container) -> Result<()> {
        self.db.update_state(c.id(), &c.state)
    }

    /// Start a container (a no-op if it runs). With `attach`, connect to its output before
    /// it starts so nothing is missed.
    pub fn start(&self, reference: &str, attach: bool) -> Result<StartedAttached> {
        let found = self.db.lookup_container(reference)?;
        // A pod's member needs the pod's namespaces: the infra container runs first.
        self.pod_start_infra_for(&found)?;
        self.start_requirements(&found)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container_locked(found.id())?;
        match c.state.status {
            Status::Running => {
                return Ok(StartedAttached {
                    container: c,
                    socket: None,
                });
            }
            Status::Paused => return Err(bad_state(&c, "unpause it first")),
            Status::Removing | Status::Stopping => {
                return Err(bad_state(&c, "cannot start it now"));
            }
            Status::Stopped => self.cleanup_locked(&mut c)?,
            Status::Created | Status::Exited | Status::Initialized => {}
        }
        // A start by the user begins a new count for the restart policy, as in Podman.
        c.state.restart_count = 0;
        if c.state.status != Status::Initialized {
            self.init(&mut c)?;
        }
        let socket = if attach && c.config.log_driver != "passthrough" {
            match self.attach_socket(c.id()) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.abort_init(&mut c);
                    return Err(e);
                }
            }
        } else {
            None
        };
        if socket.is_some() {
            self.emit_container(&c, "attach");
        }
        self.run_initialized(&mut c)?;
        Ok(StartedAttached {
            container: c,
            socket,
        })
    }

    /// `--requires`: each container this one needs is started first (theirs before them); one
    /// that cannot start stops this start.
    fn start_requirements(&self, c: &Container) -> Result<()> {
        for dep in &c.config.requires {
            let d = self.db.lookup_container(dep)?;
            if d.state.status != Status::Running {
                self.start(dep, false).map_err(|e| {
                    Error::other(format!(
                        "starting dependency {dep} of container {}: {e}",
                        c.id()
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// `init CTR`: everything `start` does but the start itself (rootfs, network, the
    /// runtime's container with its process waiting): the container is `initialized`, and
    /// a later `start` only lets it run. Already initialized: nothing to do.
    pub fn init_container(&self, reference: &str) -> Result<String> {
        let found = self.db.lookup_container(reference)?;
        self.pod_start_infra_for(&found)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container_locked(found.id())?;
        match c.state.status {
            Status::Initialized => {}
            Status::Created | Status::Exited => self.init(&mut c)?,
            Status::Stopped => {
                self.cleanup_locked(&mut c)?;
                self.init(&mut c)?;
            }
            _ => {
                return Err(bad_state(
                    &c,
                    "it has already been created in runtime: container state improper",
                ));
            }
        }
        Ok(c.id().to_string())
    }

    /// `runtime start` of an initialized container, recorded as Running; on failure the
    /// init is undone. The one way a container starts (by the user or by its restart policy).
    pub(super) fn run_initialized(&self, c: &mut Container) -> Result<()> {
        let started = if super::sdnotify::proxied(c) {
            // The runtime waits for the container's READY=1 and passes it on.
            self.runtime()?.start_notifying(c.id())
        } else {
            self.runtime()?.start(c.id())
        };
        if let Err(e) = started {
            self.abort_init(c);
            return Err(e);
        }
        c.state.status = Status::Running;
        c.state.started_at = Some(Utc::now());
        c.state.stopped_by_user = false;
        self.save(c)?;
        self.emit_container(c, "start");
        self.sd_notify_started(c);
        Ok(())
    }

    /// Undo a half-done init: everything the ledger says the container holds (its monitor,
    /// the runtime's container, its cgroup, network and mounts) is released; back to Created.
    pub(crate) fn abort_init(&self, c: &mut Container) {
        // Best effort: the error that made init fail is the one to report; what could not
        // be released stays in the ledger for the next start or removal.
        for e in self.release_held(c) {
            tracing::warn!(id = c.id(), error = %e, "undoing a failed start");
        }
        let _ = std::fs::remove_file(self.paths.exit_file(c.id()));
        c.state.status = Status::Created;
        c.state.pid = 0;
        c.state.pid_start = 0;
        c.state.conmon_pid = 0;
        c.state.conmon_start = 0;
        let _ = self.save(c);
    }

    /// Mount the rootfs, write the name files and config.json, and have the monitor create
    /// the container in the runtime. On failure nothing stays mounted or running.
    pub(super) fn init(&self, c: &mut Container) -> Result<()> {
        let id = c.id().to_string();
        // Whatever an earlier start left (it was killed half-way, or its cleanup failed)
        // goes first: a namespace still pinned or a lease still held would fail this one.
        Error::collect(self.release_all(&Holder::container(&id)))?;
        let _ = std::fs::remove_file(self.paths.exit_file(&id));
        let _ = std::fs::remove_dir_all(self.paths.persist_dir(&id));
        let run_dir = self.paths.container_run_dir(&id);
        std::fs::create_dir_all(&run_dir).ctx("creating", &run_dir)?;
        std::fs::create_dir_all(self.paths.exit_dir()).ctx("creating", self.paths.exit_dir())?;
        std::fs::create_dir_all(self.paths.persist_dir(&id))
            .ctx("creating", self.paths.persist_dir(&id))?;
        let result = self.init_inner(c);
        if let Err(e) = result {
            self.abort_init(c);
            return Err(e);
        }
        self.emit_container(c, "init");
        Ok(())
    }

    pub(super) fn init_inner(&self, c: &mut Container) -> Result<()> {
        let id = c.id().to_string();
        let rootfs = self.mount_rootfs(c)?;
        let passwd = super::user::read_in_root(&rootfs, "/etc/passwd").unwrap_or_default();
        let group = super::user::read_in_root(&rootfs, "/etc/group").unwrap_or_default();
        let mut user = super::user::resolve(&c.config.user, &passwd, &group)?;
        super::userns::add_groups(&mut user.additional_gids, &c.config.group_add, &group).map_err(
            |e| {
                Error::invalid(format!(
                    "looking up supplemental groups for container {id}: {e}"
                ))
            },
        )?;
        // A working directory that is (or is inside) a mount exists once the mounts are made;
        // one that holds a mount's destination is made by the runtime for that mount.
        let workdir = c.config.workdir.trim_end_matches('/');
        let on_a_mount = c.config.mounts.iter().any(|m| {
            let d = m.destination.trim_end_matches('/');
            workdir == d
                || workdir.starts_with(&format!("{d}/"))
                || d.starts_with(&format!("{workdir}/"))
        });
        if !c.config.create_workdir
            && !on_a_mount
            && !super::user::dir_in_root(&rootfs, &c.config.workdir)
        {
            return Err(Error::Command {
                message: format!(
                    "workdir {:?} does not exist on container {}",
                    c.config.workdir, id
                ),
                code: crate::error::exit::CANNOT_INVOKE,
            });
        }

        let holder = Holder::container(&id);
        // Volumes may be mounted (those with a mount of their own), and images (`--mount
        // type=image`): held as a whole.
        let user_mounts = if !c.config.mounts.is_empty() {
            self.hold(&holder, Resource::Volumes, |_| {
                self.prepare_mounts(c, &rootfs, &user)
            })?
        } else {
            self.prepare_mounts(c, &rootfs, &user)?
        };
        let run_dir = self.paths.container_run_dir(&id);
        // The network helper's setup may run on while the monitor has the runtime create the
        // container (both recorded in the ledger before they start); it is waited for below,
        // before anything can start the container. An early return waits for it too.
        let (netns, network) = self.network_setup(c)?;
        // Saved at once: whatever fails next, cleanup finds the namespace and leases.
        self.save(c)?;
        let mut joins = self.pod_joins(c)?;
        let modes = self.namespace_plan(c)?;
        joins.retain(|(t, _)| !modes.overrides(t));
        joins.extend(modes.joins.iter().cloned());
        let files = self.write_name_files(c, &run_dir)?;
        let mut bind_files: Vec<(PathBuf, &str)> =
            files.iter().map(|(p, d)| (p.clone(), *d)).collect();
        if let Some(shm) = self.pod_shm(c)? {
            bind_files.push((shm, "/dev/shm"));
        }

        let mut env = c.config.env.clone();
        let mut add_default = |k: &str, v: &str| {
            if !env
                .iter()
                .any(|e| e.split_once('=').map(|(ek, _)| ek) == Some(k))
            {
                env.push(format!("{k}={v}"));
            }
        };
        // container=podman and TERM come with the defaults at create (`--unsetenv` may drop them).
        add_default("HOME", &user.home);
        add_default("HOSTNAME", &c.config.hostname);
        if c.config.tty {
            add_default("TERM", "xterm");
        }
        let security = (c.config.security.clone())
            .unwrap_or_else(|| super::SecurityConfig::legacy(user.uid == 0));
        if security.systemd {
            add_default("container_uuid", &id[..32]);
        }
        env.extend(super::sdnotify::listen_env());
        c.state.cgroups_path = if c.config.cgroups_mode == "split" {
            super::sdnotify::split_cgroup(&id)?
        } else {
            String::new()
        };
        let cgroups_path = c.cgroups_path();
        let spec = crate::oci::spec::generate(&SpecInput {
            args: &c.config.args,
            env: &env,
            cwd: &c.config.workdir,
            user: &user,
            hostname: &c.config.hostname,
            tty: c.config.tty,
            rootfs: &rootfs,
            bind_files: &bind_files,
            cgroups_path: &cgroups_path,
            netns,
            annotations: &c.config.annotations,
            resources: if super::create::rootless_without_cgroups() {
                None
            } else {
                Some(
                    c.config
                        .resources
                        .to_oci(super::resources::swap_supported())?,
                )
            },
            mounts: &user_mounts,
            joins: &joins,
            host_namespaces: &modes.host,
            shm: modes.shm,
            security: &security,
            rootless: crate::rootless::spec_facts(),
            device_rules: &c.config.device_cgroup_rules,
            host: &c.config.host,
        })?;
        let bundle = self.paths.bundle(&id);
        std::fs::create_dir_all(&bundle).ctx("creating", &bundle)?;
        let config_json = bundle.join("config.json");
        let json = serde_json::to_vec_pretty(&spec).map_err(|e| Error::other(e.to_string()))?;
        std::fs::write(&config_json, json).ctx("writing", &config_json)?;

        let runtime = self.runtime()?.clone();
        let monitor = self.monitor_path()?;
        let pidfile = run_dir.join("pidfile");
        let conmon_pidfile = run_dir.join("conmon.pid");
        let _ = std::fs::remove_file(&pidfile);
        let _ = std::fs::remove_file(&conmon_pidfile);
        let log_path = PathBuf::from(&c.config.log_path);
        // The monitor makes three things at once: itself, the runtime's container and (through
        // the runtime) its cgroup. All three are recorded before it starts.
        let cgroup = Resource::Cgroup {
            path: cgroups_path.clone(),
        };
        let in_runtime = Resource::Runtime { id: id.clone() };
        let mut monitor_row = Resource::Monitor {
            id: id.clone(),
            pidfile: conmon_pidfile.clone(),
            pid: 0,
            start: 0,
        };
        let rows = self.db.record_all(
            &holder,
            &[cgroup.clone(), in_runtime.clone(), monitor_row.clone()],
        )?;
        // The exit pipe of a slirp4netns network: the monitor holds it from now on.
        let hold = crate::network::slirp::take_monitor_fd(&id);
        let spawned = crate::monitor::spawn(&MonitorRequest {
            monitor: &monitor,
            runtime: &runtime,
            id: &id,
            uuid: &id,
            name: &c.config.name,
            bundle: &bundle,
            pidfile: &pidfile,
            conmon_pidfile: &conmon_pidfile,
            exit_dir: &self.paths.exit_dir(),
            persist_dir: &self.paths.persist_dir(&id),
            log: log_arg(&c.config.log_driver, &log_path),
            log_size_max: c.config.log_size_max,
            log_max_files: c.config.log_max_files,
            no_sync_log: c.config.auto_remove
                && log_path == crate::monitor::default_log_path(&bundle),
            tty: c.config.tty,
            stdin: c.config.stdin,
            log_level: self.options().log_level.as_deref().unwrap_or("warning"),
            exit_command: self.exit_command(c),
            timeout: c.config.timeout,
            exec: None,
            hold: hold.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
            preserve_fds: super::sdnotify::preserved_fds(c.config.preserve_fds),
            health: self.health_monitor_args(c, &monitor),
            notify_socket: super::sdnotify::proxied(c),
        })?;
        drop(hold);
        self.health_reset(c)?;
        c.state.status = Status::Initialized;
        c.state.pid = spawned.pid;
        c.state.pid_start = process_start_time(spawned.pid).unwrap_or(0);
        c.state.conmon_pid = spawned.conmon_pid;
        c.state.conmon_start = process_start_time(spawned.conmon_pid).unwrap_or(0);
        if let Some(path) = &c.config.conmon_pidfile {
            std::fs::write(path, c.state.conmon_pid.to_string()).ctx("writing", path)?;
        }
        if let Resource::Monitor { pid, start, .. } = &mut monitor_row {
            *pid = c.state.conmon_pid;
            *start = c.state.conmon_start;
        }
        self.db.confirm_all(&[
            (rows[0], &cgroup),
            (rows[1], &in_runtime),
            (rows[2], &monitor_row),
        ])?;
        if let Some(pending) = network {
            self.network_setup_end(c, pending)?;
        }
        c.state.exit_code = 0;
        c.state.finished_at = None;
        c.state.oom_killed = false;
        c.state.error.clear();
        if c.config.runtime.is_empty() {
            c.config.runtime = runtime.name();
        }
        self.save(c)?;
        // A pod's infra: pin the namespaces only its process can hold (pid, cgroup).
        self.pod_pin_process_namespaces(c)?;
        Ok(())
    }

    /// `peapod [global flags] container cleanup --stopped-only [--rm] ID`, run by the monitor.
    pub(super) fn exit_command(&self, c: &Container) -> Vec<String> {
        let mut v = self.global_command();
        v.extend([
            "container".into(),
            "cleanup".into(),
            "--stopped-only".into(),
        ]);
        if c.config.auto_remove {
            v.push("--rm".into());
        }
        v.push(c.id().to_string());
        v
    }

    /// `peapod` with the global flags this engine was opened with, for the monitor to call
    /// back.
    pub(crate) fn global_command(&self) -> Vec<String> {
        let exe = self
            .options()
            .self_exe
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "peapod".into());
        let mut v = vec![
            exe,
            "--root".into(),
            self.paths.root.display().to_string(),
            "--runroot".into(),
            self.paths.runroot.display().to_string(),
        ];
        if let Some(rt) = &self.options().runtime {
            v.extend(["--runtime".into(), rt.clone()]);
        }
        if let Some(m) = &self.options().conmon {
            v.extend(["--conmon".into(), m.display().to_string()]);
        }
        if let Some(dir) = self.options().netsetup.as_ref().and_then(|n| n.parent()) {
            v.extend(["--helper-binaries-dir".into(), dir.display().to_string()]);
        }
        if let Some(b) = &self.options().events_backend {
            v.extend(["--events-backend".into(), b.clone()]);
        }
        if let Some(p) = &self.paths.volume_path {
            v.extend(["--volumepath".into(), p.display().to_string()]);
        }
        // The storage options (a mount program): a restart by the exit command mounts too.
        for o in &self.options().storage_opts {
            v.extend(["--storage-opt".into(), o.clone()]);
        }
        v
    }

    /// The files bind-mounted into the container: /etc/hostname, /etc/hosts,
    /// /etc/resolv.conf and /run/.containerenv.
    pub(super) fn write_name_files(
        &self,
        c: &Container,
        run_dir: &std::path::Path,
    ) -> Result<Vec<(PathBuf, &'static str)>> {
        let mut files = Vec::new();
        let hostname = run_dir.join("hostname");
        std::fs::write(&hostname, format!("{}\n", c.config.hostname)).ctx("writing", &hostname)?;
        files.push((hostname, "/etc/hostname"));
        // A member of a pod sharing the network uses the pod's hosts and resolv.conf.
        let (hosts, resolv) = match self.pod_name_files(c)? {
            Some(shared) => shared,
            None => {
                let hosts = run_dir.join("hosts");
                let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                std::fs::write(&hosts, crate::network::files::hosts(c, &host_hosts))
                    .ctx("writing", &hosts)?;
                let resolv = run_dir.join("resolv.conf");
                let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                std::fs::write(&resolv, crate::network::files::resolv_conf(c, &host_resolv))
                    .ctx("writing", &resolv)?;
                (hosts, resolv)
            }
        };
        files.push((hosts, "/etc/hosts"));
        files.push((resolv, "/etc/resolv.conf"));
        // As Podman: the file tells a process it runs in a container; what container, only
        // a privileged one learns (the others stay unaware of their host's names).
        let env = run_dir.join(".containerenv");
        let privileged = c.config.security.as_ref().is_some_and(|s| s.privileged);
        let content = if privileged {
            format!(
                "engine=\"peapod-{}\"\nname=\"{}\"\nid=\"{}\"\nimage=\"{}\"\nimageid=\"{}\"\nrootless={}\n",
                env!("CARGO_PKG_VERSION"),
                c.config.name,
                c.id(),
                c.config.image_name,
                c.config.image_id,
                u8::from(crate::rootless::is_rootless())
            )
        } else {
            String::new()
        };
        std::fs::write(&env, content).ctx("writing", &env)?;
        files.push((env, "/run/.containerenv"));
        if let Some(tz) = &c.config.timezone {
            let localtime = run_dir.join("localtime");
            let zone = super::timezone::zone_file(tz)?;
            std::fs::copy(&zone, &localtime).ctx("copying", &zone)?;
            files.push((localtime, "/etc/localtime"));
        }
        Ok(files)
    }
}
