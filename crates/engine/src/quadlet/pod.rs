//! `NAME.pod` files (Podman 5's quadlet `ConvertPod`): a forking unit whose `ExecStartPre`
//! creates the pod (its infra's monitor pid in `%t/%N.pid`), `ExecStart` starts it and
//! `ExecStop`/`ExecStopPost` stop and remove it; a `.container` with `Pod=NAME.pod` joins it,
//! is bound to its unit, and (unless `StartWithPod=false`) is started with it.

use super::convert::{Cmd, add_key_values, networks, volumes};
use super::unit::UnitFile;
use super::{Kind, Source, Units};

pub(super) const POD_KEYS: &[&str] = &[
    "PodName",
    "ServiceName",
    "GlobalArgs",
    "PodmanArgs",
    "Network",
    "NetworkAlias",
    "PublishPort",
    "Volume",
    "Label",
    "IP",
    "IP6",
    "DNS",
    "DNSOption",
    "DNSSearch",
    "AddHost",
    "HostName",
    "ExitPolicy",
    "StopTimeout",
];

pub(super) fn pod(units: &Units, src: &Source, service: &mut UnitFile) -> Result<(), String> {
    let u = &src.unit;
    let g = "Pod";
    let name = src.resource_name();
    // The containers that start with it: `Pod=` this file, `StartWithPod=` not false.
    for c in units.sources.iter().filter(|c| c.kind == Kind::Container) {
        if c.unit.last("Container", "Pod").as_deref() == Some(src.file_name.as_str())
            && c.unit.boolean("Container", "StartWithPod")? != Some(false)
        {
            let svc = format!("{}.service", c.service_name());
            service.add("Unit", "Wants", &svc);
            service.add("Unit", "Before", &svc);
        }
    }
    if service.last("Service", "SyslogIdentifier").is_none() {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    let mut start = Cmd::new(units, src, g);
    start.add(&["pod", "start", &name]);
    service.add("Service", "ExecStart", &start.line());
    let mut stop = Cmd::new(units, src, g);
    let timeout = u.last(g, "StopTimeout").unwrap_or_else(|| "10".into());
    stop.add(&[
        "pod",
        "stop",
        "--ignore",
        &format!("--time={timeout}"),
        &name,
    ]);
    service.add("Service", "ExecStop", &stop.line());
    let mut rm = Cmd::new(units, src, g);
    rm.add(&["pod", "rm", "--ignore", "--force", &name]);
    service.add("Service", "ExecStopPost", &rm.line());

    let mut create = Cmd::new(units, src, g);
    create.add(&[
        "pod",
        "create",
        "--infra-conmon-pidfile=%t/%N.pid",
        "--replace",
    ]);
    let policy = u.last(g, "ExitPolicy").unwrap_or_else(|| "stop".into());
    create.flag("--exit-policy", &policy);
    for p in u.all(g, "PublishPort") {
        create.flag("--publish", p.trim());
    }
    add_key_values(&mut create, u, g, "Label", "--label");
    networks(units, src, service, &mut create)?;
    for (key, flag) in [("IP", "--ip"), ("IP6", "--ip6")] {
        if let Some(v) = u.last(g, key).filter(|v| !v.is_empty()) {
            create.flag(flag, &v);
        }
    }
    for (key, flag) in [
        ("NetworkAlias", "--network-alias"),
        ("DNS", "--dns"),
        ("DNSOption", "--dns-option"),
        ("DNSSearch", "--dns-search"),
        ("AddHost", "--add-host"),
        ("HostName", "--hostname"),
    ] {
        for v in u.all(g, key) {
            create.flag(flag, &v);
        }
    }
    volumes(units, src, service, &mut create)?;
    create.flag("--infra-name", &format!("{name}-infra"));
    create.flag("--name", &name);
    create.0.extend(u.all_words(g, "PodmanArgs"));
    service.add("Service", "ExecStartPre", &create.line());
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    for (k, v) in [
        ("Type", "forking"),
        ("Restart", "on-failure"),
        ("PIDFile", "%t/%N.pid"),
    ] {
        service.set("Service", k, v);
    }
    Ok(())
}

/// A container's `Pod=NAME.pod`: `--pod` the pod's name, bound to the pod's unit.
pub(super) fn member(
    units: &Units,
    src: &Source,
    service: &mut UnitFile,
    run: &mut Cmd,
) -> Result<(), String> {
    let Some(pod) = src.unit.last("Container", "Pod").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    if !pod.ends_with(".pod") {
        return Err(format!("pod {pod} is not Quadlet based"));
    }
    let Some(p) = units
        .sources
        .iter()
        .find(|s| s.kind == Kind::Pod && s.file_name == pod)
    else {
        return Err(format!("quadlet pod unit {pod} does not exist"));
    };
    run.flag("--pod", &p.resource_name());
    let svc = format!("{}.service", p.service_name());
    service.add("Unit", "BindsTo", &svc);
    service.add("Unit", "After", &svc);
    Ok(())
}
