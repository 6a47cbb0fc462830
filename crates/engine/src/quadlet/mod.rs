//! Quadlet: the systemd generator that turns `NAME.container`, `NAME.volume`,
//! `NAME.network`, `NAME.kube`, `NAME.image`, `NAME.build` and `NAME.pod` files into
//! `NAME.service`, `NAME-volume.service`, `NAME-network.service`, `NAME.service`,
//! `NAME-image.service`, `NAME-build.service` and `NAME-pod.service` units running
//! peapod, as Podman 5's quadlet does for podman (`pkg/systemd/quadlet`, `cmd/quadlet`;
//! `podman-systemd.unit(5)`); `ServiceName=` names any of them otherwise.

use std::path::{Path, PathBuf};

mod convert;
mod keys;
mod mounts;
mod others;
mod pod;
pub mod unit;

use unit::UnitFile;

/// The kinds of quadlet file this generator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Volume,
    Network,
    Kube,
    Image,
    Build,
    Pod,
}

impl Kind {
    fn from_file_name(name: &str) -> Option<Kind> {
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "container" => Some(Kind::Container),
            "volume" => Some(Kind::Volume),
            "network" => Some(Kind::Network),
            "kube" => Some(Kind::Kube),
            "image" => Some(Kind::Image),
            "build" => Some(Kind::Build),
            "pod" => Some(Kind::Pod),
            _ => None,
        }
    }
    fn ext(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Volume => "volume",
            Kind::Network => "network",
            Kind::Kube => "kube",
            Kind::Image => "image",
            Kind::Build => "build",
            Kind::Pod => "pod",
        }
    }
    /// The group that holds the file's own keys.
    fn group(self) -> &'static str {
        match self {
            Kind::Container => "Container",
            Kind::Volume => "Volume",
            Kind::Network => "Network",
            Kind::Kube => "Kube",
            Kind::Image => "Image",
            Kind::Build => "Build",
            Kind::Pod => "Pod",
        }
    }
}

/// One quadlet file, its drop-ins merged.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub file_name: String,
    pub kind: Kind,
    pub unit: UnitFile,
}

impl Source {
    fn base(&self) -> &str {
        self.file_name
            .rsplit_once('.')
            .map_or(&self.file_name, |(b, _)| b)
    }

    /// `ServiceName=`, else `NAME` (containers, kube) or `NAME-volume`, `NAME-network`,
    /// `NAME-image`, `NAME-build`, `NAME-pod`.
    pub fn service_name(&self) -> String {
        if let Some(n) = self
            .unit
            .last(self.kind.group(), "ServiceName")
            .filter(|n| !n.is_empty())
        {
            return n;
        }
        // A template (`web@.container`): `web@.service`, `web-volume@.service`.
        let (base, at) = match self.base().strip_suffix('@') {
            Some(b) => (b, "@"),
            None => (self.base(), ""),
        };
        match self.kind {
            Kind::Container | Kind::Kube => format!("{base}{at}"),
            k => format!("{base}-{}{at}", k.ext()),
        }
    }

    /// `web@.container` is a template, `web@one.container` an instance of it: the
    /// template's name (`web@`) for an instance, None for any other file.
    fn template(&self) -> Option<String> {
        let (t, instance) = self.base().split_once('@')?;
        (!instance.is_empty()).then(|| format!("{t}@"))
    }

    /// The default name of a container, volume, network or pod: `systemd-NAME`; of a
    /// template's or an instance's, Podman's `systemd-%P_%I` (containers) or
    /// `systemd-NAME-%i`.
    fn default_resource_name(&self) -> String {
        match self.base().split_once('@') {
            None => format!("systemd-{}", self.base()),
            Some(_) if self.kind == Kind::Container => "systemd-%P_%I".into(),
            Some((t, _)) => format!("systemd-{t}-%i"),
        }
    }

    /// What other files name this one by: the volume's, network's, container's or pod's
    /// name (`VolumeName=`, `NetworkName=`, `ContainerName=`, `PodName=`, else
    /// `systemd-NAME`), an image's `ImageTag=` or `Image=`, a build's first `ImageTag=`.
    fn resource_name(&self) -> String {
        let g = self.kind.group();
        let key = match self.kind {
            Kind::Volume => "VolumeName",
            Kind::Network => "NetworkName",
            Kind::Container => "ContainerName",
            Kind::Pod => "PodName",
            Kind::Image => {
                return self
                    .unit
                    .last(g, "ImageTag")
                    .filter(|n| !n.is_empty())
                    .or_else(|| self.unit.last(g, "Image"))
                    .unwrap_or_default();
            }
            Kind::Build => {
                return self
                    .unit
                    .all(g, "ImageTag")
                    .into_iter()
                    .next()
                    .unwrap_or_default();
            }
            Kind::Kube => return self.base().to_string(),
        };
        self.unit
            .last(g, key)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.default_resource_name())
    }

    /// A path relative to the file's directory made absolute (one starting with a systemd
    /// specifier such as `%h` is left to systemd).
    fn absolute(&self, p: &str) -> String {
        if p.starts_with('/') || (p.starts_with('%') && !p.starts_with("%%")) {
            return p.to_string();
        }
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        let mut out = dir.to_path_buf();
        for c in Path::new(p).components() {
            match c {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        out.display().to_string()
    }
}

/// Every file the generator read, and how the units it writes run peapod.
#[derive(Debug, Clone)]
pub struct Units {
    pub sources: Vec<Source>,
    /// The `peapod` binary the command lines name.
    pub peapod: String,
    /// `-user`: the user generator's dependencies.
    pub user: bool,
    pub default_dependencies: bool,
}

/// A generated unit: `NAME.service` and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedUnit {
    pub file_name: String,
    pub text: String,
    /// `WantedBy=`/`RequiredBy=` of its `[Install]` group: the `.wants`/`.requires`
    /// links a generator makes (systemctl enable cannot run on a generated unit).
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
    /// The name those links have: the unit's, or for a template its `DefaultInstance=`'s
    /// (`web@one.service`); a template without one gets no links.
    pub link_name: Option<String>,
}

/// Podman's search paths: `QUADLET_UNIT_DIRS` (colon-separated) when set, else the
/// system (or with `user`, the user's) directories, the first holding a name winning.
pub fn search_dirs(user: bool) -> Vec<PathBuf> {
    if let Ok(dirs) = std::env::var("QUADLET_UNIT_DIRS")
        && !dirs.is_empty()
    {
        return dirs
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    if !user {
        return [
            "/run/containers/systemd",
            "/etc/containers/systemd",
            "/usr/share/containers/systemd",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
    }
    let mut dirs = Vec::new();
    if let Ok(rt) = std::env::var("XDG_RUNTIME_DIR") {
        dirs.push(Path::new(&rt).join("containers/systemd"));
    }
    let config = std::env::var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".config")));
    if let Ok(c) = config {
        dirs.push(c.join("containers/systemd"));
    }
    let uid = nix::unistd::getuid();
    dirs.push(PathBuf::from(format!(
        "/etc/containers/systemd/users/{uid}"
    )));
    dirs.push(PathBuf::from("/etc/containers/systemd/users"));
    dirs
}

/// The quadlet files of `dirs` (a name's first file wins), each with its
/// `NAME.EXT.d/*.conf` drop-ins from every directory merged in name order. Files that
/// cannot be read or parsed are returned as errors, the others still loaded.
pub fn load(dirs: &[PathBuf]) -> (Vec<Source>, Vec<String>) {
    let mut sources: Vec<Source> = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let Some(kind) = Kind::from_file_name(&name) else {
                continue;
            };
            if sources.iter().any(|s| s.file_name == name) {
                continue;
            }
            let path = dir.join(&name);
            match read_unit(&path) {
                Ok(unit) => sources.push(Source {
                    path,
                    file_name: name,
                    kind,
                    unit,
                }),
                Err(e) => errors.push(e),
            }
        }
    }
    for s in &mut sources {
        // Drop-ins: the file's own `NAME.EXT.d`, an instance's template's `NAME@.EXT.d`,
        // then the kind's `EXT.d`; a name in a more specific place wins.
        let mut places = vec![format!("{}.d", s.file_name)];
        if let Some(t) = s.template() {
            places.push(format!("{t}.{}.d", s.kind.ext()));
        }
        places.push(format!("{}.d", s.kind.ext()));
        let mut confs: Vec<(String, PathBuf)> = Vec::new();
        for place in &places {
            for dir in dirs {
                let Ok(rd) = std::fs::read_dir(dir.join(place)) else {
                    continue;
                };
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.ends_with(".conf") && !confs.iter().any(|(c, _)| *c == n) {
                        confs.push((n, e.path()));
                    }
                }
            }
        }
        confs.sort();
        for (_, p) in confs {
            match read_unit(&p) {
                Ok(u) => s.unit.merge(u),
                Err(e) => errors.push(e),
            }
        }
    }
    (sources, errors)
}

fn read_unit(path: &Path) -> Result<UnitFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("error loading {:?}, {e}", path.display().to_string()))?;
    UnitFile::parse(&text, &path.display().to_string())
        .map_err(|e| format!("error loading {:?}, {e}", path.display().to_string()))
}

impl Units {
    /// Every file's unit; a file that cannot be converted gives an error naming it and
    /// no unit, the others are still generated.
    pub fn generate(&self) -> (Vec<GeneratedUnit>, Vec<String>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for s in &self.sources {
            match convert::convert(self, s) {
                Ok(service) => {
                    let name = s.service_name();
                    let link_name = match name.strip_suffix('@') {
                        Some(t) => service
                            .last("Install", "DefaultInstance")
                            .map(|i| format!("{t}@{i}.service")),
                        None => Some(format!("{name}.service")),
                    };
                    out.push(GeneratedUnit {
                        file_name: format!("{name}.service"),
                        wanted_by: service.all_words("Install", "WantedBy"),
                        required_by: service.all_words("Install", "RequiredBy"),
                        link_name,
                        text: service.render(),
                    })
                }
                Err(e) => errors.push(format!("converting {:?}: {e}", s.file_name)),
            }
        }
        (out, errors)
    }
}

#[cfg(test)]
mod tests;
