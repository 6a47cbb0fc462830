//! `NAME.kube` (`kube play` with a service container, `kube down` after), `NAME.image`
//! (`image pull`, a oneshot unit) and `NAME.build` (`build`, a oneshot unit), as Podman 5's
//! quadlet converts them. Keys whose flags peapod lacks (`ExitCodePropagation`,
//! `KubeDownForce`, kube `PublishPort`, `DecryptionKey`, `Policy`, `Retry`, user namespace
//! remapping) stay unknown: an error names the file and the key.

use super::convert::{Cmd, add_key_values, networks, oneshot, volumes};
use super::unit::UnitFile;
use super::{Source, Units};

pub(super) const KUBE_KEYS: &[&str] = &[
    "Yaml",
    "ServiceName",
    "GlobalArgs",
    "PodmanArgs",
    "Network",
    "ConfigMap",
    "LogDriver",
    "AutoUpdate",
    "SetWorkingDirectory",
];

pub(super) const IMAGE_KEYS: &[&str] = &[
    "Image",
    "ImageTag",
    "ServiceName",
    "GlobalArgs",
    "PodmanArgs",
    "AllTags",
    "Arch",
    "AuthFile",
    "CertDir",
    "Creds",
    "OS",
    "TLSVerify",
    "Variant",
];

pub(super) const BUILD_KEYS: &[&str] = &[
    "ImageTag",
    "ServiceName",
    "GlobalArgs",
    "PodmanArgs",
    "File",
    "SetWorkingDirectory",
    "Annotation",
    "Arch",
    "AuthFile",
    "BuildArg",
    "DNS",
    "DNSOption",
    "DNSSearch",
    "Environment",
    "ForceRM",
    "IgnoreFile",
    "Label",
    "Network",
    "Pull",
    "Secret",
    "Target",
    "TLSVerify",
    "Variant",
    "Volume",
];

/// `KEY=VALUE` keys to `FLAG VALUE` (the last value), and booleans to `FLAG=BOOL`.
fn strings_and_bools(
    u: &UnitFile,
    g: &str,
    strings: &[(&str, &str)],
    bools: &[(&str, &str)],
    run: &mut Cmd,
) -> Result<(), String> {
    for (key, flag) in strings {
        if let Some(v) = u.last(g, key).filter(|v| !v.is_empty()) {
            run.flag(flag, &v);
        }
    }
    for (key, flag) in bools {
        if let Some(b) = u.boolean(g, key)? {
            run.add(&[&format!("{flag}={b}")]);
        }
    }
    Ok(())
}

/// `SetWorkingDirectory=yaml|unit` (and, for builds, `file` or a context path): the
/// service's `WorkingDirectory=` unless it sets one; returns a build's context argument.
fn working_directory(src: &Source, service: &mut UnitFile) -> Result<Option<String>, String> {
    let g = src.kind.group();
    let Some(set) = src
        .unit
        .last(g, "SetWorkingDirectory")
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let mut context = None;
    let relative_to = match set.to_lowercase().as_str() {
        "yaml" if g == "Kube" => {
            let yamls = src.unit.all_words(g, "Yaml");
            if yamls.len() != 1 {
                return Err(
                    "SetWorkingDirectory=yaml is only supported when a single Yaml key is provided"
                        .into(),
                );
            }
            src.absolute(&yamls[0])
        }
        "file" if g == "Build" => {
            let Some(f) = src.unit.last(g, "File") else {
                return Err("no File key specified".into());
            };
            src.absolute(&f)
        }
        "unit" => src.path.display().to_string(),
        _ if g == "Build" => {
            context = Some(set.clone());
            if set.starts_with('/') {
                return Ok(context);
            }
            src.path.display().to_string()
        }
        _ => {
            return Err(format!("unsupported value for WorkingDirectory: {set} "));
        }
    };
    if src.unit.last("Service", "WorkingDirectory").is_none() {
        let dir = std::path::Path::new(&relative_to)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/".into());
        service.add("Service", "WorkingDirectory", &dir);
    }
    Ok(context)
}

pub(super) fn kube(units: &Units, src: &Source, service: &mut UnitFile) -> Result<(), String> {
    let u = &src.unit;
    let g = "Kube";
    let yamls: Vec<String> = u
        .all_words(g, "Yaml")
        .iter()
        .map(|y| src.absolute(y))
        .collect();
    if yamls.is_empty() {
        return Err("no Yaml key specified".into());
    }
    match service.last("Service", "KillMode").as_deref() {
        None => service.set("Service", "KillMode", "mixed"),
        Some("mixed" | "control-group") => {}
        Some(other) => return Err(format!("invalid KillMode '{other}'")),
    }
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    match service.last("Service", "Type").as_deref() {
        None | Some("notify") => {
            service.set("Service", "Type", "notify");
            service.set("Service", "NotifyAccess", "all");
        }
        Some("oneshot") => {}
        Some(other) => return Err(format!("invalid service Type '{other}'")),
    }
    if service.last("Service", "SyslogIdentifier").is_none() {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    let mut play = Cmd::new(units, src, g);
    play.add(&["kube", "play", "--replace", "--service-container=true"]);
    if let Some(d) = u.last(g, "LogDriver") {
        play.flag("--log-driver", &d);
    }
    networks(units, src, service, &mut play)?;
    // `AutoUpdate=registry` or `AutoUpdate=CONTAINER/registry`.
    for a in u.all_words(g, "AutoUpdate") {
        let annotation = match a.split_once('/') {
            Some((ctr, typ)) => format!("--annotation=io.containers.autoupdate/{ctr}={typ}"),
            None => format!("--annotation=io.containers.autoupdate={a}"),
        };
        play.add(&[&annotation]);
    }
    for c in u.all_words(g, "ConfigMap") {
        play.flag("--configmap", &src.absolute(&c));
    }
    play.0.extend(u.all_words(g, "PodmanArgs"));
    play.0.extend(yamls.iter().cloned());
    service.add("Service", "ExecStart", &play.line());
    let mut down = Cmd::new(units, src, g);
    down.add(&["kube", "down"]);
    down.0.extend(yamls.iter().cloned());
    service.add("Service", "ExecStopPost", &down.line());
    working_directory(src, service)?;
    Ok(())
}

pub(super) fn image(units: &Units, src: &Source, service: &mut UnitFile) -> Result<(), String> {
    let u = &src.unit;
    let g = "Image";
    let Some(image) = u.last(g, "Image").filter(|i| !i.is_empty()) else {
        return Err("no Image key specified".into());
    };
    let mut pull = Cmd::new(units, src, g);
    pull.add(&["image", "pull"]);
    strings_and_bools(
        u,
        g,
        &[
            ("Arch", "--arch"),
            ("AuthFile", "--authfile"),
            ("CertDir", "--cert-dir"),
            ("Creds", "--creds"),
            ("OS", "--os"),
            ("Variant", "--variant"),
        ],
        &[("AllTags", "--all-tags"), ("TLSVerify", "--tls-verify")],
        &mut pull,
    )?;
    pull.0.extend(u.all_words(g, "PodmanArgs"));
    pull.add(&[&image]);
    oneshot(service, &pull, true);
    Ok(())
}

pub(super) fn build(units: &Units, src: &Source, service: &mut UnitFile) -> Result<(), String> {
    let u = &src.unit;
    let g = "Build";
    let tags = u.all(g, "ImageTag");
    if tags.is_empty() {
        return Err("no ImageTag key specified".into());
    }
    let mut run = Cmd::new(units, src, g);
    run.add(&["build"]);
    if let Some(p) = u.last(g, "Pull").filter(|p| !p.is_empty()) {
        run.add(&[&format!("--pull={p}")]);
    }
    strings_and_bools(
        u,
        g,
        &[
            ("Arch", "--arch"),
            ("AuthFile", "--authfile"),
            ("IgnoreFile", "--ignorefile"),
            ("Target", "--target"),
            ("Variant", "--variant"),
        ],
        &[("TLSVerify", "--tls-verify"), ("ForceRM", "--force-rm")],
        &mut run,
    )?;
    for (key, flag) in [
        ("DNS", "--dns"),
        ("DNSOption", "--dns-option"),
        ("DNSSearch", "--dns-search"),
    ] {
        for v in u.all(g, key) {
            run.flag(flag, &v);
        }
    }
    for t in &tags {
        run.flag("--tag", t);
    }
    for (key, flag) in [
        ("BuildArg", "--build-arg"),
        ("Environment", "--env"),
        ("Label", "--label"),
        ("Annotation", "--annotation"),
    ] {
        add_key_values(&mut run, u, g, key, flag);
    }
    networks(units, src, service, &mut run)?;
    for s in u.all_words(g, "Secret") {
        run.flag("--secret", &s);
    }
    volumes(units, src, service, &mut run)?;
    let context = working_directory(src, service)?;
    let workdir = service.last("Service", "WorkingDirectory");
    let file = u.last(g, "File").filter(|f| !f.is_empty());
    if workdir.is_none() && file.is_none() && context.is_none() {
        return Err("neither SetWorkingDirectory, nor File key specified".into());
    }
    if let Some(f) = &file {
        run.flag("--file", f);
    }
    run.0.extend(u.all_words(g, "PodmanArgs"));
    match (context, &file) {
        (Some(c), _) => run.add(&[&c]),
        (None, Some(f)) if !f.starts_with('/') && !f.starts_with('%') && !f.contains("://") => {
            let Some(w) = workdir else {
                return Err(
                    "relative path in File key requires SetWorkingDirectory key to be set".into(),
                );
            };
            run.add(&[&w]);
        }
        _ => {}
    }
    oneshot(service, &run, false);
    Ok(())
}
