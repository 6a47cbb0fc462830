//! `generate systemd`: systemd units that run a container, as Podman 4.3's
//! (`pkg/systemd/generate`) writes them, line for line: a unit that starts and stops the
//! existing container (`Type=forking`, the monitor's pid file), or with `--new` one that
//! creates it afresh from its create command (`Type=notify`, `--cidfile`, `--rm`,
//! `--replace`, `--sdnotify=conmon`, `--cgroups=no-conmon`).

use crate::Engine;
use crate::container::Container;
use crate::error::{Error, Result};

mod command;
mod pod;

pub use command::{escape_arg, format_options};

/// Podman's default `Restart=` and the policies systemd knows.
const DEFAULT_RESTART: &str = "on-failure";
const RESTART_POLICIES: &[&str] = &[
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];
/// Added to the stop timeout for `TimeoutStopSec=` (Podman's minTimeoutStopSec).
const MIN_TIMEOUT_STOP: u32 = 60;
/// The variable every unit sets to its own name (auto-update reads it).
const ENV_VARIABLE: &str = "PODMAN_SYSTEMD_UNIT";

/// What `generate systemd` asks for.
#[derive(Debug, Clone)]
pub struct SystemdOptions {
    /// `--name`: the container's name in commands and the unit's name, not its id.
    pub use_name: bool,
    pub new: bool,
    pub template: bool,
    pub no_header: bool,
    pub restart_policy: Option<String>,
    pub restart_sec: Option<u32>,
    pub start_timeout: Option<u32>,
    pub stop_timeout: Option<u32>,
    pub container_prefix: String,
    pub pod_prefix: String,
    pub separator: String,
    pub wants: Vec<String>,
    pub after: Vec<String>,
    pub requires: Vec<String>,
    /// `-e KEY=VALUE` for the unit's environment.
    pub env: Vec<String>,
    /// The flags of `run`/`create` that take no value (from the front end's flag table),
    /// so the create command's image and command are found exactly.
    pub bool_flags: Vec<String>,
}

impl Default for SystemdOptions {
    fn default() -> Self {
        SystemdOptions {
            use_name: false,
            new: false,
            template: false,
            no_header: false,
            restart_policy: None,
            restart_sec: None,
            start_timeout: None,
            stop_timeout: None,
            container_prefix: "container".into(),
            pod_prefix: "pod".into(),
            separator: "-".into(),
            wants: Vec::new(),
            after: Vec::new(),
            requires: Vec::new(),
            env: Vec::new(),
            bool_flags: Vec::new(),
        }
    }
}

/// One generated unit: its service name (without `.service`) and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemdUnit {
    pub name: String,
    pub content: String,
}

/// `prefix` + `separator` + `name`, or `name` alone without a prefix.
fn service_name(prefix: &str, separator: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}{separator}{name}")
    }
}

/// The parts of a container unit, filled before it is written.
struct ContainerUnit {
    service: String,
    restart: String,
    start_limit_burst: Option<String>,
    stop_timeout: u32,
    pid_file: Option<String>,
    run_root: String,
    extra_envs: Vec<String>,
    exec_start_pre: Option<String>,
    exec_start: String,
    exec_stop: String,
    exec_stop_post: String,
    notify: bool,
    identify: bool,
    /// A pod member's: the pod's service, which it is bound to.
    bound_to: Option<String>,
    /// A pod member's with `--new`: the pod's id file (`--pod-id-file`).
    pod_id_file: Option<String>,
}

impl Engine {
    /// The unit of a container (`reference`).
    pub fn generate_systemd(
        &self,
        reference: &str,
        opts: &SystemdOptions,
    ) -> Result<Vec<SystemdUnit>> {
        if let Some(p) = &opts.restart_policy
            && !RESTART_POLICIES.contains(&p.as_str())
        {
            return Err(Error::invalid(format!("{p} is not a valid restart policy")));
        }
        if opts.template && !opts.new {
            return Err(Error::invalid("--template cannot be set"));
        }
        let c = match self.container(reference) {
            Ok(c) => c,
            Err(Error::NoSuchContainer(_)) => {
                if let Ok(p) = self.pod(reference) {
                    return self.pod_units(&p, opts);
                }
                return Err(Error::invalid(format!(
                    "{reference} does not refer to a container or pod: no pod with name or ID {reference} found: no such pod: no container with name or ID \"{reference}\" found: no such container"
                )));
            }
            Err(e) => return Err(e),
        };
        let unit = self.container_unit(&c, opts, None)?;
        Ok(vec![SystemdUnit {
            name: unit.service.clone(),
            content: render(&unit, opts),
        }])
    }

    /// `pod`: the service of the pod the container is generated with (its member's unit).
    fn container_unit(
        &self,
        c: &Container,
        opts: &SystemdOptions,
        pod: Option<&str>,
    ) -> Result<ContainerUnit> {
        let name_or_id = if opts.use_name {
            c.name().to_string()
        } else {
            c.id().to_string()
        };
        let service = service_name(&opts.container_prefix, &opts.separator, &name_or_id);
        let stop_timeout = opts.stop_timeout.unwrap_or(c.config.stop_timeout);
        let exe = self
            .global_command()
            .first()
            .cloned()
            .unwrap_or_else(|| "/usr/bin/peapod".into());
        // The existing container's unit names the store it lives in (Podman's does not,
        // and finds nothing when the container is in another store).
        let with_store = self
            .global_command()
            .iter()
            .map(|a| command::escape_arg(a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut unit = ContainerUnit {
            service,
            restart: opts
                .restart_policy
                .clone()
                .unwrap_or_else(|| DEFAULT_RESTART.into()),
            start_limit_burst: None,
            stop_timeout,
            pid_file: Some(
                self.paths
                    .container_run_dir(c.id())
                    .join("conmon.pid")
                    .display()
                    .to_string(),
            ),
            run_root: self.paths.runroot.display().to_string(),
            extra_envs: Vec::new(),
            exec_start_pre: None,
            exec_start: format!("{with_store} start {name_or_id}"),
            exec_stop: format_options(&split(&format!(
                "{with_store} stop  -t {stop_timeout} {name_or_id}"
            ))),
            exec_stop_post: format_options(&split(&format!(
                "{with_store} stop  -t {stop_timeout} {name_or_id}"
            ))),
            notify: false,
            identify: false,
            bound_to: None,
            pod_id_file: None,
        };
        if let Some(p) = pod {
            unit.bound_to = Some(p.to_string());
            if opts.new {
                unit.pod_id_file = Some(format!("%t/{p}.pod-id"));
            }
        }
        if !opts.new {
            if !matches!(c.config.restart_policy.as_str(), "" | "no") {
                tracing::warn!(
                    "Container {} has restart policy {:?} which can lead to issues on shutdown: consider recreating the container without a restart policy and use systemd's restart mechanism instead",
                    c.id(),
                    c.config.restart_policy
                );
            }
            return Ok(unit);
        }
        command::new_unit(&mut unit, c, &exe, opts)?;
        Ok(unit)
    }
}

/// Podman's `strings.Split(cmd, " ")` of a command written with single spaces.
fn split(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

/// Podman's header template: the name, the stamp, `[Unit]` up to `RequiresMountsFor=`.
fn header(service: &str, identify: bool, run_root: &str, opts: &SystemdOptions) -> String {
    let mut s = String::new();
    let at = if identify { "@" } else { "" };
    s.push_str(&format!("# {service}{at}.service\n"));
    if !opts.no_header {
        s.push_str(&format!(
            "# autogenerated by peapod {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        // Go's time.UnixDate; chrono names no zone but UTC.
        let now = chrono::Local::now();
        let stamp = if now.offset().local_minus_utc() == 0 {
            now.with_timezone(&chrono::Utc)
                .format("%a %b %e %H:%M:%S UTC %Y")
                .to_string()
        } else {
            now.format("%a %b %e %H:%M:%S %z %Y").to_string()
        };
        s.push_str(&format!("# {stamp}\n"));
    }
    s.push_str("\n[Unit]\n");
    let for_i = if identify { " for %I" } else { "" };
    s.push_str(&format!("Description=Podman {service}.service{for_i}\n"));
    s.push_str("Documentation=man:podman-generate-systemd(1)\n");
    s.push_str("Wants=network-online.target\nAfter=network-online.target\n");
    s.push_str(&format!("RequiresMountsFor={run_root}\n"));
    s
}

/// The `# User-defined dependencies` block of `--wants`, `--after`, `--requires`.
fn user_dependencies(opts: &SystemdOptions) -> String {
    let mut s = String::new();
    if !opts.wants.is_empty() || !opts.after.is_empty() || !opts.requires.is_empty() {
        s.push_str("\n# User-defined dependencies\n");
    }
    for (key, list) in [
        ("Wants", &opts.wants),
        ("After", &opts.after),
        ("Requires", &opts.requires),
    ] {
        if !list.is_empty() {
            s.push_str(&format!("{key}={}\n", list.join(" ")));
        }
    }
    s
}

/// The unit's text, as Podman's container template writes it.
fn render(u: &ContainerUnit, opts: &SystemdOptions) -> String {
    let mut s = header(&u.service, u.identify, &u.run_root, opts);
    if let Some(p) = &u.bound_to {
        s.push_str(&format!("BindsTo={p}.service\nAfter={p}.service\n"));
    }
    s.push_str(&user_dependencies(opts));
    s.push_str("\n[Service]\n");
    let i = if u.identify { "-%i" } else { "" };
    s.push_str(&format!("Environment={ENV_VARIABLE}=%n{i}\n"));
    if !u.extra_envs.is_empty() {
        s.push_str(&format!("Environment={}\n", u.extra_envs.join(" ")));
    }
    for e in &opts.env {
        s.push_str(&format!("Environment={}\n", escape_arg(e)));
    }
    s.push_str(&format!("Restart={}\n", u.restart));
    if let Some(sec) = opts.restart_sec {
        s.push_str(&format!("RestartSec={sec}\n"));
    }
    if let Some(b) = &u.start_limit_burst {
        s.push_str(&format!("StartLimitBurst={b}\n"));
    }
    if let Some(t) = opts.start_timeout.filter(|t| *t != 0) {
        s.push_str(&format!("TimeoutStartSec={t}\n"));
    }
    s.push_str(&format!(
        "TimeoutStopSec={}\n",
        MIN_TIMEOUT_STOP + u.stop_timeout
    ));
    if let Some(pre) = &u.exec_start_pre {
        s.push_str(&format!("ExecStartPre={pre}\n"));
    }
    s.push_str(&format!("ExecStart={}\n", u.exec_start));
    s.push_str(&format!("ExecStop={}\n", u.exec_stop));
    s.push_str(&format!("ExecStopPost={}\n", u.exec_stop_post));
    if let Some(p) = &u.pid_file {
        s.push_str(&format!("PIDFile={p}\n"));
    }
    if u.notify {
        s.push_str("Type=notify\nNotifyAccess=all\n");
    } else {
        s.push_str("Type=forking\n");
    }
    s.push_str("\n[Install]\nWantedBy=default.target\n");
    s
}
