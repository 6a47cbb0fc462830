//! Mount specs: `-v`, `--mount`, `--tmpfs`, `--volumes-from` and the image's `VOLUME`s,
//! parsed into one plain, serializable value ([`MountSpec`]) that a container's config (and,
//! later, a pod's) holds. Parsing is pure: nothing here touches the host, so every check that
//! needs no filesystem happens before anything is created.
//!
//! The option rules and messages are Podman 4.3's (containers/common `ValidateVolumeOpts`
//! for `-v`, libpod's `ProcessOptions` for tmpfs, specgenutil's `--mount` parser), with two
//! deliberate refusals Podman does not make: a relative host path (`./x`, `../x`) and a
//! mount over the container's `/`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod mount_flag;

pub use mount_flag::parse_mount_flag;

/// What is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named volume (created on first use).
    Volume,
    /// A volume with a generated name, removed by `rm -v` / `run --rm`.
    Anonymous,
    /// A tmpfs of the container's own.
    Tmpfs,
    /// An image's content (`--mount type=image`): `source` is the image as the user named
    /// it; read-only unless `rw` is among the options.
    Image,
}

/// One mount of a container, as the user (or the image) asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    pub kind: MountKind,
    /// Bind: the absolute host path. Volume: the volume's name. Anonymous: its generated name
    /// (empty until the container is created). Tmpfs: empty.
    pub source: String,
    /// Absolute, lexically clean path in the container; never `/`.
    pub destination: String,
    /// The user's options, validated, in the order given (`ro`, `U`, `nocopy`, `z`,
    /// propagation, `size=…`, …). Defaults are added by [`MountSpec::oci_options`].
    pub options: Vec<String>,
    /// An image `VOLUME` entry: Podman mounts those `nodev,exec,nosuid`.
    #[serde(default)]
    pub from_image: bool,
}

impl MountSpec {
    /// A mount asked for by fields rather than a flag (kube play, the API): the source and
    /// destination checked as `-v` checks them.
    pub fn new(kind: MountKind, source: &str, destination: &str, read_only: bool) -> Result<Self> {
        let source = match kind {
            MountKind::Bind => host_path(source)?,
            MountKind::Volume => {
                volume_name(source)?;
                source.to_string()
            }
            MountKind::Anonymous | MountKind::Tmpfs => String::new(),
            MountKind::Image => source.to_string(),
        };
        Ok(MountSpec {
            kind,
            source,
            destination: self::destination(destination)?,
            options: if read_only {
                vec!["ro".into()]
            } else {
                Vec::new()
            },
            from_image: false,
        })
    }
}

const PROPAGATIONS: &[&str] = &[
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// Options that are peapod's instructions, never passed to the kernel.
const ENGINE_ONLY: &[&str] = &["U", "z", "Z", "copy", "nocopy", "notmpcopyup"];

/// Flags of the mount a bind source lives on that a bind mount inherits (Podman's
/// `getDefaultMountOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceFlags {
    pub noexec: bool,
    pub nosuid: bool,
    pub nodev: bool,
}

impl MountSpec {
    fn has(&self, o: &str) -> bool {
        self.options.iter().any(|x| x == o)
    }

    pub fn is_volume(&self) -> bool {
        matches!(self.kind, MountKind::Volume | MountKind::Anonymous)
    }

    pub fn read_only(&self) -> bool {
        self.has("ro")
    }

    /// `U`: chown the source to the container's user.
    pub fn chown(&self) -> bool {
        self.has("U")
    }

    /// `nocopy`: never copy the image's content into the volume.
    pub fn nocopy(&self) -> bool {
        self.has("nocopy")
    }

    /// The propagation option, `rprivate` by default.
    pub fn propagation(&self) -> &str {
        self.options
            .iter()
            .find(|o| PROPAGATIONS.contains(&o.as_str()))
            .map(String::as_str)
            .unwrap_or("rprivate")
    }

    /// The options of the OCI mount, Podman's defaults included: `rw` and `rprivate` unless
    /// given; named volumes `nosuid,nodev`; binds the `noexec/nosuid/nodev` of the mount their
    /// source lives on; tmpfs `nosuid,nodev,tmpcopyup`; `rbind` for every bind. peapod's own
    /// instructions (`U`, `z`, `nocopy`, …) are left out.
    pub fn oci_options(&self, source: SourceFlags) -> Vec<String> {
        self.config_options(source)
            .into_iter()
            .filter(|o| !ENGINE_ONLY.contains(&o.as_str()))
            .collect()
    }

    /// The user's options (peapod's own instructions included) and the defaults, as Podman
    /// records them (`HostConfig.Binds`).
    pub fn config_options(&self, source: SourceFlags) -> Vec<String> {
        let given = |a: &str, b: &str| self.has(a) || self.has(b);
        if self.from_image {
            return ["rprivate", "rw", "nodev", "exec", "nosuid", "rbind"]
                .map(String::from)
                .to_vec();
        }
        let mut out: Vec<String> = self.options.clone();
        if !given("rw", "ro") {
            out.push("rw".into());
        }
        if !self
            .options
            .iter()
            .any(|o| PROPAGATIONS.contains(&o.as_str()))
        {
            out.push("rprivate".into());
        }
        let (noexec, nosuid, nodev) = match self.kind {
            MountKind::Tmpfs | MountKind::Volume | MountKind::Anonymous => (false, true, true),
            MountKind::Bind => (source.noexec, source.nosuid, source.nodev),
            MountKind::Image => (false, false, false),
        };
        if noexec && !given("exec", "noexec") {
            out.push("noexec".into());
        }
        if nosuid && !given("suid", "nosuid") {
            out.push("nosuid".into());
        }
        if nodev && !given("dev", "nodev") {
            out.push("nodev".into());
        }
        if self.kind == MountKind::Tmpfs {
            if !given("tmpcopyup", "notmpcopyup") {
                out.push("tmpcopyup".into());
            }
        } else if !given("bind", "rbind") {
            out.push("rbind".into());
        }
        out
    }

    /// inspect's `Options`: the recorded options without `rw`/`ro`, propagation and `z`/`Z`,
    /// which have their own fields (`RW`, `Propagation`, `Mode`).
    pub fn inspect_options(&self, source: SourceFlags) -> Vec<String> {
        self.config_options(source)
            .into_iter()
            .filter(|o| {
                !matches!(o.as_str(), "rw" | "ro" | "z" | "Z")
                    && !PROPAGATIONS.contains(&o.as_str())
            })
            .collect()
    }

    /// inspect's `Mode`: the relabelling asked for (`z` or `Z`), else empty.
    pub fn mode(&self) -> &str {
        self.options
            .iter()
            .find(|o| *o == "z" || *o == "Z")
            .map(String::as_str)
            .unwrap_or("")
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg)
}

/// Lexically clean an absolute path (`.` dropped, `..` pops, never above `/`).
pub fn clean_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// A container path: absolute, cleaned, and not the container's root.
pub fn destination(dest: &str) -> Result<String> {
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "invalid container path {dest:?}, must be an absolute path"
        )));
    }
    let clean = clean_path(dest);
    if clean == "/" {
        // Podman accepts this and the runtime then mounts over the rootfs itself; a mount
        // must never replace the container's root.
        return Err(invalid(format!(
            "invalid container path {dest:?}: cannot mount over the container's root directory"
        )));
    }
    Ok(clean)
}

/// A bind source: an absolute host path (cleaned). Relative paths are refused rather than
/// resolved against the caller's working directory.
pub fn host_path(src: &str) -> Result<String> {
    if !src.starts_with('/') {
        return Err(invalid(format!(
            "invalid host path {src:?}: relative host paths are not allowed, the source must be an absolute path or a volume name"
        )));
    }
    Ok(clean_path(src))
}

/// A volume name, with Podman's rule and message.
pub fn volume_name(name: &str) -> Result<()> {
    if crate::names::valid_name(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "creating named volume {name:?}: running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        )))
    }
}

/// Options of `-v` (containers/common `ValidateVolumeOpts`): at most one of each group.
pub fn validate_volume_options(options: &[String]) -> Result<()> {
    let groups: &[(&[&str], &str)] = &[
        (&["rw", "ro"], "can only specify 1 'rw' or 'ro' option"),
        (
            PROPAGATIONS,
            "can only specify 1 '[r]shared', '[r]private', '[r]slave' or '[r]unbindable' option",
        ),
        (&["bind", "rbind"], "can only specify 1 '[r]bind' option"),
        (&["z", "Z"], "can only specify 1 'z', 'Z', or 'O' option"),
        (&["U"], "can only specify 1 'U' option"),
        (
            &["copy", "nocopy"],
            "can only specify 1 'copy' or 'nocopy' option",
        ),
        (
            &["exec", "noexec"],
            "can only specify 1 'noexec' or 'exec' option",
        ),
        (
            &["dev", "nodev"],
            "can only specify 1 'nodev' or 'dev' option",
        ),
        (
            &["suid", "nosuid"],
            "can only specify 1 'nosuid' or 'suid' option",
        ),
    ];
    let joined = options.join(", ");
    let mut counts = vec![0usize; groups.len()];
    for o in options {
        if o == "O" || o.starts_with("idmap") || o.starts_with("upperdir=") {
            return Err(invalid(format!(
                "invalid option type {o:?}: overlay and idmapped volumes are not supported by peapod"
            )));
        }
        let Some(g) = groups.iter().position(|(set, _)| set.contains(&o.as_str())) else {
            return Err(invalid(format!("invalid option type {o:?}")));
        };
        counts[g] += 1;
        if counts[g] > 1 {
            return Err(invalid(format!(
                "invalid options {joined:?}, {}",
                groups[g].1
            )));
        }
    }
    Ok(())
}

/// Options of a tmpfs (libpod's `ProcessOptions` with tmpfs allowed).
pub fn validate_tmpfs_options(options: &[String]) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for o in options {
        let (key, value) = match o.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (o.as_str(), None),
        };
        let group = match key {
            "rw" | "ro" => "rw",
            "exec" | "noexec" => "exec",
            "suid" | "nosuid" => "suid",
            "dev" | "nodev" => "dev",
            "tmpcopyup" | "notmpcopyup" => "tmpcopyup",
            k if PROPAGATIONS.contains(&k) => "propagation",
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" => key,
            "bind" | "rbind" | "z" | "Z" | "U" => {
                return Err(invalid(format!(
                    "the {key:?} option is not allowed with tmpfs mounts: invalid mount option"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "unknown mount option {o:?}: invalid mount option"
                )));
            }
        };
        let needs_value = matches!(
            key,
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks"
        );
        match (needs_value, value) {
            (true, Some(v)) if valid_tmpfs_value(key, v) => {}
            (false, None) => {}
            _ => {
                return Err(invalid(format!(
                    "invalid tmpfs option {o:?}: invalid mount option"
                )));
            }
        }
        if seen.contains(&group) {
            return Err(invalid(format!(
                "duplicate tmpfs option {o:?}: duplicate mount option passed"
            )));
        }
        seen.push(group);
    }
    Ok(())
}

fn valid_tmpfs_value(key: &str, v: &str) -> bool {
    match key {
        "mode" => !v.is_empty() && v.chars().all(|c| ('0'..='7').contains(&c)),
        "size" => {
            let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
            !digits.is_empty()
                && digits.len() + 1 >= v.len()
                && digits.chars().all(|c| c.is_ascii_digit())
        }
        _ => !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()),
    }
}

/// `-v [SOURCE:]DEST[:OPTIONS]`.
pub fn parse_volume_flag(v: &str) -> Result<MountSpec> {
    let parts: Vec<&str> = v.split(':').collect();
    if parts.len() > 3 || v.is_empty() {
        return Err(invalid(format!(
            "incorrect volume format {v:?}, should be [host-dir:]ctr-dir[:option]"
        )));
    }
    let options: Vec<String> = match parts.get(2) {
        Some(o) => o.split(',').map(str::to_string).collect(),
        None => Vec::new(),
    };
    validate_volume_options(&options)?;
    if parts.len() == 1 {
        return Ok(MountSpec {
            kind: MountKind::Anonymous,
            source: String::new(),
            destination: destination(parts[0])?,
            options,
            from_image: false,
        });
    }
    let (src, dest) = (parts[0], parts[1]);
    if src.is_empty() {
        return Err(invalid(format!(
            "host directory cannot be empty in volume {v:?}"
        )));
    }
    let destination = destination(dest)?;
    if src.starts_with('/') || src.starts_with('.') {
        return Ok(MountSpec {
            kind: MountKind::Bind,
            source: host_path(src)?,
            destination,
            options,
            from_image: false,
        });
    }
    volume_name(src)?;
    Ok(MountSpec {
        kind: MountKind::Volume,
        source: src.to_string(),
        destination,
        options,
        from_image: false,
    })
}

/// `--tmpfs DEST[:OPTIONS]`.
pub fn parse_tmpfs_flag(t: &str) -> Result<MountSpec> {
    let (dest, opts) = match t.split_once(':') {
        Some((d, o)) => (d, o.split(',').map(str::to_string).collect::<Vec<_>>()),
        None => (t, Vec::new()),
    };
    let destination = destination(dest)?;
    validate_tmpfs_options(&opts)?;
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        source: String::new(),
        destination,
        options: opts,
        from_image: false,
    })
}

/// `--volumes-from CTR[:OPTIONS]`: the container and `ro`/`rw` (None: keep each mount's).
pub fn parse_volumes_from(v: &str) -> Result<(String, Option<bool>)> {
    let (ctr, opts) = match v.split_once(':') {
        Some((c, o)) => (c, Some(o)),
        None => (v, None),
    };
    if ctr.is_empty() {
        return Err(invalid(format!(
            "invalid --volumes-from {v:?}: no container given"
        )));
    }
    let mut ro = None;
    if let Some(opts) = opts {
        for o in opts.split(',') {
            match o {
                "ro" => ro = Some(true),
                "rw" => ro = Some(false),
                "z" => {}
                _ => {
                    return Err(invalid(format!(
                        "invalid option {o:?} specified - volumes from another container can only use z,ro,rw options"
                    )));
                }
            }
        }
    }
    Ok((ctr.to_string(), ro))
}

/// A mount taken from another container by `--volumes-from`, with `ro`/`rw` forced when
/// asked. Tmpfs mounts are not shared (Podman warns and skips them).
pub fn inherit(m: &MountSpec, ro: Option<bool>) -> Option<MountSpec> {
    if m.kind == MountKind::Tmpfs {
        return None;
    }
    let mut m = m.clone();
    if let Some(ro) = ro {
        m.options.retain(|o| o != "ro" && o != "rw");
        m.options.insert(0, if ro { "ro" } else { "rw" }.into());
    }
    // The volume stays the other container's: `U` and copy-up already happened there.
    m.options.retain(|o| o != "U");
    m.from_image = false;
    Some(m)
}

/// Refuse two different mounts on one destination. The same mount given twice (same
/// source, kind and options) is one mount, as Podman takes it: the repeat is dropped.
pub fn check_duplicates(mounts: &mut Vec<MountSpec>) -> Result<()> {
    let mut kept: Vec<MountSpec> = Vec::with_capacity(mounts.len());
    for m in mounts.drain(..) {
        match kept.iter().find(|o| o.destination == m.destination) {
            Some(o) if *o == m => {}
            Some(_) => {
                return Err(invalid(format!(
                    "{}: duplicate mount destination",
                    m.destination
                )));
            }
            None => kept.push(m),
        }
    }
    *mounts = kept;
    Ok(())
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
