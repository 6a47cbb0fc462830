//! The `[Container]` keys beyond the basic ones, each to the `run` flag Podman 5's quadlet
//! writes for it, and `Image=` naming a `.image` or `.build` file.

use super::convert::{Cmd, resource};
use super::unit::UnitFile;
use super::{Kind, Source, Units};

/// Keys handled here (the basic ones are in [`super::convert`]).
pub(super) const CONTAINER_KEYS: &[&str] = &[
    "IP",
    "IP6",
    "ShmSize",
    "Timezone",
    "PidsLimit",
    "Pull",
    "LogDriver",
    "StopSignal",
    "Memory",
    "SeccompProfile",
    "DNS",
    "DNSSearch",
    "DNSOption",
    "Ulimit",
    "Sysctl",
    "AddDevice",
    "LogOpt",
    "NetworkAlias",
    "AddHost",
    "GroupAdd",
    "Mask",
    "Unmask",
    "Mount",
    "RunInit",
    "NoNewPrivileges",
    "ReadOnlyTmpfs",
    "VolatileTmp",
    "AutoUpdate",
];

/// One value (the last) to `FLAG VALUE`.
const SINGLE: &[(&str, &str)] = &[
    ("IP", "--ip"),
    ("IP6", "--ip6"),
    ("ShmSize", "--shm-size"),
    ("Timezone", "--tz"),
    ("PidsLimit", "--pids-limit"),
    ("Pull", "--pull"),
    ("LogDriver", "--log-driver"),
    ("StopSignal", "--stop-signal"),
    ("Memory", "--memory"),
];

/// Every line to `FLAG VALUE`.
const EVERY_LINE: &[(&str, &str)] = &[
    ("DNS", "--dns"),
    ("DNSSearch", "--dns-search"),
    ("DNSOption", "--dns-option"),
    ("Ulimit", "--ulimit"),
    ("NetworkAlias", "--network-alias"),
    ("AddHost", "--add-host"),
    ("GroupAdd", "--group-add"),
];

/// Every word of every line to `FLAG WORD`.
const EVERY_WORD: &[(&str, &str)] = &[("Sysctl", "--sysctl"), ("LogOpt", "--log-opt")];

/// The label `podman auto-update` reads (`AutoUpdate=registry|local`).
const AUTO_UPDATE_LABEL: &str = "io.containers.autoupdate";

/// `Image=NAME.image` or `NAME.build`: that file's image, with `Requires=`/`After=` its
/// unit; any other value as it is.
pub(super) fn image_source(
    units: &Units,
    service: &mut UnitFile,
    image: &str,
) -> Result<String, String> {
    let kind = if image.ends_with(".image") {
        Kind::Image
    } else if image.ends_with(".build") {
        Kind::Build
    } else {
        return Ok(image.to_string());
    };
    if !units
        .sources
        .iter()
        .any(|s| s.file_name == image && s.kind == kind)
    {
        return Err(format!("requested Quadlet image {image} was not found"));
    }
    resource(units, service, image, kind)
}

/// The flags of [`CONTAINER_KEYS`].
pub(super) fn container_keys(src: &Source, run: &mut Cmd) -> Result<(), String> {
    let u = &src.unit;
    let g = "Container";
    for (key, flag) in SINGLE {
        if let Some(v) = u.last(g, key).filter(|v| !v.is_empty()) {
            run.flag(flag, &v);
        }
    }
    for (key, flag) in EVERY_LINE {
        for v in u.all(g, key) {
            run.flag(flag, &v);
        }
    }
    for (key, flag) in EVERY_WORD {
        for v in u.all_words(g, key) {
            run.flag(flag, &v);
        }
    }
    if let Some(p) = u.last(g, "SeccompProfile") {
        run.flag("--security-opt", &format!("seccomp={p}"));
    }
    for m in u.all_words(g, "Mask") {
        run.flag("--security-opt", &format!("mask={m}"));
    }
    for m in u.all_words(g, "Unmask") {
        run.flag("--security-opt", &format!("unmask={m}"));
    }
    // A device whose name starts with `-` is optional: left out when the host lacks it.
    for d in u.all_words(g, "AddDevice") {
        let (optional, d) = match d.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, d),
        };
        let host = d.split(':').next().unwrap_or_default();
        if optional && !std::path::Path::new(host).exists() {
            continue;
        }
        run.add(&[&format!("--device={d}")]);
    }
    if u.boolean(g, "RunInit")? == Some(true) {
        run.add(&["--init"]);
    }
    if u.boolean(g, "NoNewPrivileges")? == Some(true) {
        run.add(&["--security-opt=no-new-privileges"]);
    }
    if let Some(b) = u.boolean(g, "ReadOnlyTmpfs")? {
        run.add(&[&format!("--read-only-tmpfs={b}")]);
    }
    if u.boolean(g, "VolatileTmp")? == Some(true) && u.boolean(g, "ReadOnly")? != Some(true) {
        run.flag("--tmpfs", "/tmp:rw,size=512M,mode=1777");
    }
    if let Some(a) = u.last(g, "AutoUpdate").filter(|a| !a.is_empty()) {
        run.flag("--label", &format!("{AUTO_UPDATE_LABEL}={a}"));
    }
    Ok(())
}
