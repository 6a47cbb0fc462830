//! One quadlet file to one service unit, as Podman's `pkg/systemd/quadlet` converts it:
//! the file's own groups kept (the quadlet group renamed `X-…` so systemd ignores it),
//! default dependencies, and the `peapod` command lines built from the keys.

use std::collections::BTreeMap;

use super::unit::{UnitFile, escape_words, split_words};
use super::{Kind, Source, Units};

/// The keys each group knows; any other is an error naming the file and the key.
const CONTAINER_KEYS: &[&str] = &[
    "Image",
    "ContainerName",
    "Exec",
    "Environment",
    "EnvironmentFile",
    "PublishPort",
    "ExposeHostPort",
    "Volume",
    "Network",
    "Label",
    "Annotation",
    "User",
    "Group",
    "WorkingDir",
    "PodmanArgs",
    "GlobalArgs",
    "HealthCmd",
    "HealthInterval",
    "HealthOnFailure",
    "HealthRetries",
    "HealthStartPeriod",
    "HealthTimeout",
    "HealthStartupCmd",
    "HealthStartupInterval",
    "HealthStartupRetries",
    "HealthStartupSuccess",
    "HealthStartupTimeout",
    "Notify",
    "ReadOnly",
    "AddCapability",
    "DropCapability",
    "Tmpfs",
    "HostName",
    "StopTimeout",
    "Entrypoint",
    "ServiceName",
    "Pod",
    "StartWithPod",
];
const VOLUME_KEYS: &[&str] = &[
    "VolumeName",
    "Label",
    "Driver",
    "Options",
    "Device",
    "Type",
    "Copy",
    "User",
    "Group",
    "PodmanArgs",
    "GlobalArgs",
    "ServiceName",
];
const NETWORK_KEYS: &[&str] = &[
    "NetworkName",
    "Label",
    "Driver",
    "Options",
    "Subnet",
    "Gateway",
    "IPRange",
    "Internal",
    "DisableDNS",
    "IPv6",
    "DNS",
    "InterfaceName",
    "PodmanArgs",
    "GlobalArgs",
    "ServiceName",
];
/// Health keys and the `--health-…` flag each becomes.
const HEALTH: &[(&str, &str)] = &[
    ("HealthCmd", "cmd"),
    ("HealthInterval", "interval"),
    ("HealthOnFailure", "on-failure"),
    ("HealthRetries", "retries"),
    ("HealthStartPeriod", "start-period"),
    ("HealthTimeout", "timeout"),
    ("HealthStartupCmd", "startup-cmd"),
    ("HealthStartupInterval", "startup-interval"),
    ("HealthStartupRetries", "startup-retries"),
    ("HealthStartupSuccess", "startup-success"),
    ("HealthStartupTimeout", "startup-timeout"),
];

/// A command line being built: the peapod binary, the file's `GlobalArgs=`, then more.
pub(super) struct Cmd(pub(super) Vec<String>);

impl Cmd {
    pub(super) fn new(units: &Units, src: &Source, group: &str) -> Cmd {
        let mut args = vec![units.peapod.clone()];
        args.extend(src.unit.all_words(group, "GlobalArgs"));
        Cmd(args)
    }
    pub(super) fn add(&mut self, args: &[&str]) {
        self.0.extend(args.iter().map(|s| s.to_string()));
    }
    pub(super) fn flag(&mut self, flag: &str, value: &str) {
        self.add(&[flag, value]);
    }
    /// The line for an `Exec…=` key, quoted as quadlet quotes it.
    pub(super) fn line(&self) -> String {
        escape_words(&self.0)
    }
}

/// The service unit of `src`, or Podman's error text.
pub(super) fn convert(units: &Units, src: &Source) -> Result<UnitFile, String> {
    let group = src.kind.group();
    let known: &[&[&str]] = match src.kind {
        Kind::Container => &[CONTAINER_KEYS, super::keys::CONTAINER_KEYS],
        Kind::Volume => &[VOLUME_KEYS],
        Kind::Network => &[NETWORK_KEYS],
        Kind::Kube => &[super::others::KUBE_KEYS],
        Kind::Image => &[super::others::IMAGE_KEYS],
        Kind::Build => &[super::others::BUILD_KEYS],
        Kind::Pod => &[super::pod::POD_KEYS],
    };
    if let Some(k) = src
        .unit
        .keys(group)
        .into_iter()
        .find(|k| !known.iter().any(|list| list.contains(k)))
    {
        return Err(format!(
            "unsupported key '{k}' in group '{group}' in {}",
            src.path.display()
        ));
    }
    let mut service = src.unit.clone();
    translate_dependencies(units, &mut service)?;
    if units.default_dependencies {
        let online = if units.user {
            "podman-user-wait-network-online.service"
        } else {
            "network-online.target"
        };
        service.prepend("Unit", "After", online);
        service.prepend("Unit", "Wants", online);
    }
    service.add("Unit", "SourcePath", &src.path.display().to_string());
    service.add("Unit", "RequiresMountsFor", "%t/containers");
    service.rename_group(group, &format!("X-{group}"));
    match src.kind {
        Kind::Container => container(units, src, &mut service)?,
        Kind::Volume => volume(units, src, &mut service)?,
        Kind::Network => network(units, src, &mut service)?,
        Kind::Kube => super::others::kube(units, src, &mut service)?,
        Kind::Image => super::others::image(units, src, &mut service)?,
        Kind::Build => super::others::build(units, src, &mut service)?,
        Kind::Pod => super::pod::pod(units, src, &mut service)?,
    }
    Ok(service)
}

/// `[Unit]` dependencies on quadlet files (`Requires=db.container`) name their units.
fn translate_dependencies(units: &Units, service: &mut UnitFile) -> Result<(), String> {
    const KEYS: &[&str] = &[
        "After",
        "Before",
        "BindsTo",
        "Conflicts",
        "OnFailure",
        "OnSuccess",
        "PartOf",
        "PropagatesReloadTo",
        "PropagatesStopTo",
        "ReloadPropagatedFrom",
        "Requires",
        "Requisite",
        "StopPropagatedFrom",
        "Upholds",
        "Wants",
    ];
    for key in KEYS {
        let deps = service.all_words("Unit", key);
        let mut translated = false;
        let mut out = Vec::with_capacity(deps.len());
        for d in deps {
            if Kind::from_file_name(&d).is_none() {
                out.push(d);
                continue;
            }
            let Some(s) = units.sources.iter().find(|s| s.file_name == d) else {
                return Err(format!("unable to translate dependency for {d}"));
            };
            out.push(format!("{}.service", s.service_name()));
            translated = true;
        }
        if translated {
            service.set("Unit", key, &out.join(" "));
        }
    }
    Ok(())
}

/// `Key=A=1 B=2` values of every line, later keys winning, in key order.
pub(super) fn key_values(
    unit: &UnitFile,
    group: &str,
    key: &str,
) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for w in unit.all_words(group, key) {
        match w.split_once('=') {
            Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
            None => out.insert(w, None),
        };
    }
    out
}

pub(super) fn add_key_values(cmd: &mut Cmd, unit: &UnitFile, group: &str, key: &str, flag: &str) {
    for (k, v) in key_values(unit, group, key) {
        match v {
            Some(v) => cmd.flag(flag, &format!("{k}={v}")),
            None => cmd.flag(flag, &k),
        }
    }
}

/// A source that names another quadlet file (`NAME.volume`, `NAME.network`): its
/// resource name, with `Requires=`/`After=` on its service.
pub(super) fn resource(
    units: &Units,
    service: &mut UnitFile,
    name: &str,
    kind: Kind,
) -> Result<String, String> {
    let Some(other) = units
        .sources
        .iter()
        .find(|s| s.file_name == name && s.kind == kind)
    else {
        return Err(format!(
            "requested Quadlet {} {name} was not found",
            kind.ext()
        ));
    };
    let svc = format!("{}.service", other.service_name());
    service.add("Unit", "Requires", &svc);
    service.add("Unit", "After", &svc);
    Ok(other.resource_name())
}

fn container(units: &Units, src: &Source, service: &mut UnitFile) -> Result<(), String> {
    let u = &src.unit;
    let g = "Container";
    let Some(mut image) = u.last(g, "Image").filter(|i| !i.is_empty()) else {
        return Err("no Image key specified".into());
    };
    image = super::keys::image_source(units, service, &image)?;
    let name = u
        .last(g, "ContainerName")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            if src.file_name.contains('@') {
                "systemd-%P_%I".into()
            } else {
                "systemd-%N".into()
            }
        });
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    match service.last("Service", "KillMode").as_deref() {
        None => service.set("Service", "KillMode", "mixed"),
        Some("mixed" | "control-group") => {}
        Some(other) => return Err(format!("invalid KillMode '{other}'")),
    }
    let mut stop = Cmd::new(units, src, g);
    stop.add(&["rm", "-v", "-f", "-i", &name]);
    service.add("Service", "ExecStop", &stop.line());
    service.add("Service", "ExecStopPost", &format!("-{}", stop.line()));

    let mut run = Cmd::new(units, src, g);
    run.add(&["run", "--name", &name, "--replace", "--rm"]);
    service.add("Service", "Delegate", "yes");
    // The container's cgroup under the unit's, the monitor in the unit's.
    run.add(&["--cgroups=split"]);
    if let Some(e) = u.last(g, "Entrypoint") {
        run.add(&[&format!("--entrypoint={e}")]);
    }
    for (key, flag) in [
        ("WorkingDir", "--workdir"),
        ("HostName", "--hostname"),
        ("StopTimeout", "--stop-timeout"),
    ] {
        if let Some(v) = u.last(g, key).filter(|v| !v.is_empty()) {
            run.flag(flag, &v);
        }
    }
    for t in u.all(g, "Tmpfs") {
        run.flag("--tmpfs", &t);
    }
    networks(units, src, service, &mut run)?;
    notify(u, service, &mut run)?;
    if service.last("Service", "SyslogIdentifier").is_none() {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    privileges(u, &mut run)?;
    volumes(units, src, service, &mut run)?;
    super::mounts::mounts(units, src, service, &mut run)?;
    for p in u.all(g, "ExposeHostPort") {
        run.flag("--expose", p.trim());
    }
    for p in u.all(g, "PublishPort") {
        run.flag("--publish", p.trim());
    }
    add_key_values(&mut run, u, g, "Environment", "--env");
    add_key_values(&mut run, u, g, "Label", "--label");
    add_key_values(&mut run, u, g, "Annotation", "--annotation");
    for f in u.all_words(g, "EnvironmentFile") {
        run.flag("--env-file", &src.absolute(&f));
    }
    for (key, flag) in HEALTH {
        if let Some(v) = u.last(g, key).filter(|v| !v.is_empty()) {
            run.flag(&format!("--health-{flag}"), &v);
        }
    }
    super::keys::container_keys(src, &mut run)?;
    super::pod::member(units, src, service, &mut run)?;
    run.0.extend(u.all_words(g, "PodmanArgs"));
    run.add(&[&image]);
    if let Some(exec) = u.last(g, "Exec") {
        run.0.extend(split_words(&exec));
    }
    service.add("Service", "ExecStart", &run.line());
    Ok(())
}

/// `Network=`: a `NAME.network` becomes its network's name (options kept after `:`) with
/// `Requires=`/`After=` its unit; anything else is passed as it is.
pub(super) fn networks(
    units: &Units,
    src: &Source,
    service: &mut UnitFile,
    run: &mut Cmd,
) -> Result<(), String> {
    for n in src.unit.all(src.kind.group(), "Network") {
        let (base, opts) = match n.split_once(':') {
            Some((b, o)) => (b.to_string(), Some(o.to_string())),
            None => (n.clone(), None),
        };
        let net = if base.ends_with(".network") {
            let r = resource(units, service, &base, Kind::Network)?;
            match opts {
                Some(o) => format!("{r}:{o}"),
                None => r,
            }
        } else {
            n
        };
        run.flag("--network", &net);
    }
    Ok(())
}

/// `Type=notify` (the default; `oneshot` allowed): `--sdnotify=conmon`, or `container`
/// with `Notify=yes`, and `-d`.
fn notify(u: &UnitFile, service: &mut UnitFile, run: &mut Cmd) -> Result<(), String> {
    match service.last("Service", "Type").as_deref() {
        None | Some("notify") => {
            run.add(&[if u.boolean("Container", "Notify")? == Some(true) {
                "--sdnotify=container"
            } else {
                "--sdnotify=conmon"
            }]);
            service.set("Service", "Type", "notify");
            service.set("Service", "NotifyAccess", "all");
            run.add(&["-d"]);
            Ok(())
        }
        Some("oneshot") => Ok(()),
        Some(other) => Err(format!("invalid service Type '{other}'")),
    }
}

/// Capabilities (lower-cased, drops first), `ReadOnly=`, `User=`/`Group=`.
fn privileges(u: &UnitFile, run: &mut Cmd) -> Result<(), String> {
    let g = "Container";
    for c in u.all_words(g, "DropCapability") {
        run.flag("--cap-drop", &c.to_lowercase());
    }
    for c in u.all_words(g, "AddCapability") {
        run.flag("--cap-add", &c.to_lowercase());
    }
    match u.boolean(g, "ReadOnly")? {
        Some(true) => run.add(&["--read-only"]),
        Some(false) => run.add(&["--read-only=false"]),
        None => {}
    }
    match (
        u.last(g, "User").filter(|s| !s.is_empty()),
        u.last(g, "Group").filter(|s| !s.is_empty()),
    ) {
        (None, Some(_)) => return Err("invalid Group set without User".into()),
        (Some(user), Some(group)) => run.flag("--user", &format!("{user}:{group}")),
        (Some(user), None) => run.flag("--user", &user),
        (None, None) => {}
    }
    Ok(())
}

/// `Volume=[SOURCE:]DEST[:OPTIONS]`: a relative source is made absolute, an absolute one
/// adds `RequiresMountsFor=`, `NAME.volume` becomes its volume's name.
pub(super) fn volumes(
    units: &Units,
    src: &Source,
    service: &mut UnitFile,
    run: &mut Cmd,
) -> Result<(), String> {
    for v in src.unit.all(src.kind.group(), "Volume") {
        let parts: Vec<&str> = v.splitn(3, ':').collect();
        let arg = if parts.len() == 1 {
            parts[0].to_string()
        } else {
            let source = super::mounts::storage_source(units, src, service, parts[0], false)?;
            let opts = parts.get(2).map(|o| format!(":{o}")).unwrap_or_default();
            format!("{source}:{}{opts}", parts[1])
        };
        run.flag("-v", &arg);
    }
    Ok(())
}

/// A oneshot unit running `run` (`RemainAfterExit=yes` when `remain`), the user's own
/// settings kept.
pub(super) fn oneshot(service: &mut UnitFile, run: &Cmd, remain: bool) {
    service.add("Service", "ExecStart", &run.line());
    for (k, v) in [
        ("SyslogIdentifier", "%N"),
        ("Type", "oneshot"),
        ("RemainAfterExit", "yes"),
    ] {
        if (remain || k != "RemainAfterExit") && service.last("Service", k).is_none() {
            service.set("Service", k, v);
        }
    }
}

fn volume(units: &Units, src: &Source, service: &mut UnitFile) -> Result<(), String> {
    let u = &src.unit;
    let g = "Volume";
    let mut run = Cmd::new(units, src, g);
    run.add(&["volume", "create", "--ignore"]);
    if let Some(d) = u.last(g, "Driver") {
        run.flag("--driver", &d);
    }
    let mut o = Vec::new();
    for (key, opt) in [("User", "uid"), ("Group", "gid")] {
        if let Some(v) = u.last(g, key) {
            let n: u32 = v
                .parse()
                .map_err(|_| format!("invalid {key} {v:?}: a number is needed"))?;
            o.push(format!("{opt}={n}"));
        }
    }
    match u.boolean(g, "Copy")? {
        Some(true) => run.flag("--opt", "copy"),
        Some(false) => run.flag("--opt", "nocopy"),
        None => {}
    }
    let device = u.last(g, "Device").filter(|d| !d.is_empty());
    if let Some(d) = &device {
        run.flag("--opt", &format!("device={d}"));
    }
    if let Some(t) = u.last(g, "Type").filter(|t| !t.is_empty()) {
        let Some(d) = &device else {
            return Err("key Type can't be used without Device".into());
        };
        run.flag("--opt", &format!("type={t}"));
        if t == "bind" {
            service.add("Unit", "RequiresMountsFor", d);
        }
    }
    if let Some(m) = u.last(g, "Options").filter(|m| !m.is_empty()) {
        if device.is_none() {
            return Err("key Options can't be used without Device".into());
        }
        o.push(m);
    }
    if !o.is_empty() {
        run.flag("--opt", &format!("o={}", o.join(",")));
    }
    add_key_values(&mut run, u, g, "Label", "--label");
    run.0.extend(u.all_words(g, "PodmanArgs"));
    run.add(&[&src.resource_name()]);
    oneshot(service, &run, true);
    Ok(())
}

fn network(units: &Units, src: &Source, service: &mut UnitFile) -> Result<(), String> {
    let u = &src.unit;
    let g = "Network";
    let mut run = Cmd::new(units, src, g);
    run.add(&["network", "create", "--ignore"]);
    for (key, flag) in [
        ("DisableDNS", "--disable-dns"),
        ("Internal", "--internal"),
        ("IPv6", "--ipv6"),
    ] {
        if u.boolean(g, key)? == Some(true) {
            run.add(&[flag]);
        }
    }
    for (key, flag) in [
        ("Driver", "--driver"),
        ("InterfaceName", "--interface-name"),
    ] {
        if let Some(v) = u.last(g, key).filter(|v| !v.is_empty()) {
            run.flag(flag, &v);
        }
    }
    for d in u.all(g, "DNS") {
        run.flag("--dns", &d);
    }
    let subnets = u.all(g, "Subnet");
    let gateways = u.all(g, "Gateway");
    let ranges = u.all(g, "IPRange");
    if subnets.is_empty() && !(gateways.is_empty() && ranges.is_empty()) {
        return Err("cannot set gateway or range without subnet".into());
    }
    if gateways.len() > subnets.len() {
        return Err("cannot set more gateways than subnets".into());
    }
    if ranges.len() > subnets.len() {
        return Err("cannot set more ranges than subnets".into());
    }
    for (i, s) in subnets.iter().enumerate() {
        run.flag("--subnet", s);
        if let Some(gw) = gateways.get(i) {
            run.flag("--gateway", gw);
        }
        if let Some(r) = ranges.get(i) {
            run.flag("--ip-range", r);
        }
    }
    add_key_values(&mut run, u, g, "Options", "--opt");
    add_key_values(&mut run, u, g, "Label", "--label");
    run.0.extend(u.all_words(g, "PodmanArgs"));
    run.add(&[&src.resource_name()]);
    oneshot(service, &run, true);
    Ok(())
}
