//! `generate systemd POD`: the pod's unit (it starts and stops the infra container, and
//! wants its members' units before it) and one unit per member bound to it, as Podman
//! 4.3's `PodUnits`; with `--new` the pod is created afresh from its `pod create` command
//! (`--infra-conmon-pidfile`, `--pod-id-file`, `--exit-policy=stop`, `--replace`) and the
//! members join it through the id file.

use super::command::{drop_flags, escape_arg, format_options};
use super::{
    DEFAULT_RESTART, ENV_VARIABLE, MIN_TIMEOUT_STOP, SystemdOptions, SystemdUnit, header, render,
    service_name, split, user_dependencies,
};
use crate::Engine;
use crate::error::{Error, Result};
use crate::pod::Pod;

impl Engine {
    pub(super) fn pod_units(&self, pod: &Pod, opts: &SystemdOptions) -> Result<Vec<SystemdUnit>> {
        if opts.template {
            return Err(Error::invalid("--template is not supported for pods"));
        }
        if pod.config.infra_id.is_empty() {
            return Err(Error::invalid(format!(
                "generating systemd unit files: Pod {:?} has no infra container",
                pod.name()
            )));
        }
        let infra = self.container(&pod.config.infra_id)?;
        let members: Vec<_> = self
            .pod_containers(pod.id())?
            .into_iter()
            .filter(|c| c.id() != infra.id())
            .collect();
        if members.is_empty() {
            return Err(Error::invalid(format!(
                "generating systemd unit files: Pod {:?} has no containers",
                pod.name()
            )));
        }
        let (pod_name_or_id, infra_name_or_id) = if opts.use_name {
            (pod.name().to_string(), infra.name().to_string())
        } else {
            (pod.id().to_string(), infra.id().to_string())
        };
        let service = service_name(&opts.pod_prefix, &opts.separator, &pod_name_or_id);
        let mut units = Vec::new();
        let mut required = Vec::new();
        for c in &members {
            let unit = self.container_unit(c, opts, Some(&service))?;
            required.push(unit.service.clone());
            units.push(SystemdUnit {
                name: unit.service.clone(),
                content: render(&unit, opts),
            });
        }
        required.sort();
        units.sort_by(|a, b| a.name.cmp(&b.name));
        let stop_timeout = opts.stop_timeout.unwrap_or(infra.config.stop_timeout);
        let global = self.global_command();
        let exe = global
            .first()
            .cloned()
            .unwrap_or_else(|| "/usr/bin/peapod".into());
        let with_store: String = global
            .iter()
            .map(|a| escape_arg(a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut p = PodUnit {
            pid_file: self
                .paths
                .container_run_dir(infra.id())
                .join("conmon.pid")
                .display()
                .to_string(),
            pre: Vec::new(),
            start: format_options(&split(&format!("{with_store} start {infra_name_or_id}"))),
            stop: format_options(&split(&format!(
                "{with_store} stop  -t {stop_timeout} {infra_name_or_id}"
            ))),
            stop_post: format_options(&split(&format!(
                "{with_store} stop  -t {stop_timeout} {infra_name_or_id}"
            ))),
        };
        if opts.new {
            new_pod(&mut p, pod, &service, &exe, stop_timeout)?;
        }
        let run_root = self.paths.runroot.display().to_string();
        let mut s = header(&service, false, &run_root, opts);
        let req: Vec<String> = required.iter().map(|r| format!("{r}.service")).collect();
        s.push_str(&format!(
            "Wants={}\nBefore={}\n",
            req.join(" "),
            req.join(" ")
        ));
        s.push_str(&user_dependencies(opts));
        s.push_str(&format!("\n[Service]\nEnvironment={ENV_VARIABLE}=%n\n"));
        let restart = opts.restart_policy.as_deref().unwrap_or(DEFAULT_RESTART);
        s.push_str(&format!("Restart={restart}\n"));
        if let Some(sec) = opts.restart_sec.filter(|s| *s > 0) {
            s.push_str(&format!("RestartSec={sec}\n"));
        }
        s.push_str(&format!(
            "TimeoutStopSec={}\n",
            MIN_TIMEOUT_STOP + stop_timeout
        ));
        for pre in &p.pre {
            s.push_str(&format!("ExecStartPre={pre}\n"));
        }
        s.push_str(&format!(
            "ExecStart={}\nExecStop={}\nExecStopPost={}\nPIDFile={}\nType=forking\n",
            p.start, p.stop, p.stop_post, p.pid_file
        ));
        s.push_str("\n[Install]\nWantedBy=default.target\n");
        let mut all = vec![SystemdUnit {
            name: service,
            content: s,
        }];
        all.append(&mut units);
        Ok(all)
    }
}

struct PodUnit {
    pid_file: String,
    pre: Vec<String>,
    start: String,
    stop: String,
    stop_post: String,
}

/// `--new`: the pod created from its `pod create` command at every start.
fn new_pod(p: &mut PodUnit, pod: &Pod, service: &str, exe: &str, stop_timeout: u32) -> Result<()> {
    let create = &pod.config.create_command;
    let at = (1..create.len())
        .find(|&i| create[i - 1] == "pod" && create[i] == "create")
        .ok_or_else(|| {
            Error::invalid(format!(
                "pod does not appear to be created via `podman pod create`: {create:?}"
            ))
        })?;
    let pid_file = format!("%t/{service}.pid");
    let id_file = format!("%t/{service}.pod-id");
    let root: Vec<String> = create[1..at - 1].iter().map(|a| escape_arg(a)).collect();
    let mut args = drop_flags(
        &create[at + 1..],
        &["--pod", "--pod-id-file", "--infra-conmon-pidfile"],
    );
    let named = args
        .iter()
        .any(|a| a == "--name" || a.starts_with("--name="));
    let replace = args
        .iter()
        .any(|a| a == "--replace" || a == "--replace=true");
    if named && !replace {
        args.retain(|a| a != "--replace=false");
        args.push("--replace".into());
    }
    let mut start: Vec<String> = vec![exe.to_string()];
    start.extend(root.iter().cloned());
    start.extend(["pod", "create", "--infra-conmon-pidfile"].map(String::from));
    start.push(pid_file.clone());
    start.push("--pod-id-file".into());
    start.push(id_file.clone());
    if !args
        .iter()
        .any(|a| a == "--exit-policy" || a.starts_with("--exit-policy="))
    {
        start.push("--exit-policy=stop".into());
    }
    start.extend(args);
    let start: Vec<String> = start
        .iter()
        .map(|a| {
            if a.starts_with("%t/") {
                a.clone()
            } else {
                escape_arg(a)
            }
        })
        .collect();
    let exe_root = if root.is_empty() {
        exe.to_string()
    } else {
        format!("{exe} {}", root.join(" "))
    };
    p.pid_file = pid_file.clone();
    p.pre = vec![
        format_options(&split(&format!("/bin/rm -f {pid_file} {id_file}"))),
        format_options(&start),
    ];
    p.start = format_options(&split(&format!(
        "{exe_root} pod start --pod-id-file {id_file}"
    )));
    p.stop = format_options(&split(&format!(
        "{exe_root} pod stop --ignore --pod-id-file {id_file}  -t {stop_timeout}"
    )));
    p.stop_post = format_options(&split(&format!(
        "{exe_root} pod rm --ignore -f --pod-id-file {id_file}"
    )));
    Ok(())
}
