//! `registries.conf` (containers-registries.conf(5), version 2) and short-name resolution as
//! Podman does it.
//!
//! Files, in c/image's order: the main file is `$CONTAINERS_REGISTRIES_CONF` when set, else
//! the per-user `~/.config/containers/registries.conf` when it exists (then only the per-user
//! drop-in dir is read), else `/etc/containers/registries.conf`. Drop-ins (`*.conf` in
//! `/etc/containers/registries.conf.d/`, then `~/.config/containers/registries.conf.d/`) are
//! applied in name order: a drop-in that sets `unqualified-search-registries` or
//! `short-name-mode` replaces it, `[[registry]]` entries replace those with the same prefix,
//! `[aliases]` are merged (the last file wins, and is the one messages name).
//!
//! Departures from Podman: `short-name-mode = "enforcing"` with several search registries
//! never prompts (it errors as Podman does without a TTY); the short-name alias cache
//! (`short-name-aliases.conf`) is neither read nor written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::RegistryError;
use crate::image::parse_reference;

/// The system-wide main file.
pub const SYSTEM_CONF: &str = "/etc/containers/registries.conf";
/// The system-wide drop-in directory.
pub const SYSTEM_CONF_DIR: &str = "/etc/containers/registries.conf.d";

/// `short-name-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShortNameMode {
    #[default]
    Enforcing,
    Permissive,
    Disabled,
}

/// A `[[registry.mirror]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub location: String,
    pub insecure: bool,
    /// `pull-from-mirror`: `all` (default), `digest-only`, `tag-only`.
    pub pull_from: String,
}

/// A `[[registry]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    pub prefix: String,
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    pub mirror_by_digest_only: bool,
    pub mirrors: Vec<Mirror>,
}

/// Everything read from the main file and its drop-ins.
#[derive(Debug, Clone, Default)]
pub struct RegistriesConf {
    /// The main file (named in the short-name error even when it does not exist).
    pub path: PathBuf,
    pub search: Vec<String>,
    /// The file that set `unqualified-search-registries` (named in "Resolving … using …").
    pub search_origin: PathBuf,
    pub mode: ShortNameMode,
    pub registries: Vec<Registry>,
    /// Short name → (fully-qualified repository, the file that defined it).
    pub aliases: BTreeMap<String, (String, PathBuf)>,
    /// The signature policy a pull is checked against (`policy.json`; empty: none).
    pub policy: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileMirror {
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    pull_from_mirror: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileRegistry {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<FileMirror>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileConf {
    #[serde(default)]
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<FileRegistry>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

/// Where the files are, for one process: from the environment and the home directory.
#[derive(Debug, Clone)]
pub struct ConfPaths {
    pub main: PathBuf,
    pub dirs: Vec<PathBuf>,
}

impl ConfPaths {
    /// c/image's choice (see the module doc).
    pub fn from_env() -> ConfPaths {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let user_file = home
            .as_ref()
            .map(|h| h.join(".config/containers/registries.conf"));
        let user_dir = home
            .as_ref()
            .map(|h| h.join(".config/containers/registries.conf.d"));
        if let Some(p) = std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|p| !p.is_empty()) {
            let mut dirs = vec![PathBuf::from(SYSTEM_CONF_DIR)];
            dirs.extend(user_dir);
            return ConfPaths {
                main: PathBuf::from(p),
                dirs,
            };
        }
        if let Some(f) = user_file.filter(|f| f.is_file()) {
            return ConfPaths {
                main: f,
                dirs: user_dir.into_iter().collect(),
            };
        }
        let mut dirs = vec![PathBuf::from(SYSTEM_CONF_DIR)];
        dirs.extend(user_dir);
        ConfPaths {
            main: PathBuf::from(SYSTEM_CONF),
            dirs,
        }
    }
}

impl RegistriesConf {
    /// Reads the main file (a missing one is empty) and the drop-ins.
    pub fn load(paths: &ConfPaths) -> Result<RegistriesConf, RegistryError> {
        let mut conf = RegistriesConf {
            path: paths.main.clone(),
            search_origin: paths.main.clone(),
            policy: super::trust::default_policy_path(),
            ..Default::default()
        };
        let mut files = vec![paths.main.clone()];
        for dir in &paths.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
                .collect();
            names.sort();
            files.extend(names);
        }
        for f in files {
            let text = match std::fs::read_to_string(&f) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(RegistryError::Config {
                        path: f,
                        detail: e.to_string(),
                    });
                }
            };
            conf.merge_text(&f, &text)?;
        }
        Ok(conf)
    }

    /// Applies one file's content on top of what was read before.
    pub fn merge_text(&mut self, path: &Path, text: &str) -> Result<(), RegistryError> {
        let bad = |detail: String| RegistryError::Config {
            path: path.to_path_buf(),
            detail,
        };
        let file: FileConf = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if let Some(s) = file.unqualified_search_registries {
            self.search = s;
            self.search_origin = path.to_path_buf();
        }
        if let Some(m) = file.short_name_mode {
            self.mode = match m.as_str() {
                "enforcing" => ShortNameMode::Enforcing,
                "permissive" => ShortNameMode::Permissive,
                "disabled" => ShortNameMode::Disabled,
                other => return Err(bad(format!("invalid short-name-mode {other:?}"))),
            };
        }
        for r in file.registry {
            let location = r.location.unwrap_or_default();
            let prefix = r.prefix.unwrap_or_else(|| location.clone());
            if prefix.is_empty() {
                return Err(bad("a [[registry]] needs a prefix or a location".into()));
            }
            let reg = Registry {
                prefix: prefix.clone(),
                location,
                insecure: r.insecure,
                blocked: r.blocked,
                mirror_by_digest_only: r.mirror_by_digest_only,
                mirrors: r
                    .mirror
                    .into_iter()
                    .map(|m| Mirror {
                        location: m.location,
                        insecure: m.insecure,
                        pull_from: m.pull_from_mirror.unwrap_or_else(|| "all".into()),
                    })
                    .collect(),
            };
            match self.registries.iter_mut().find(|x| x.prefix == prefix) {
                Some(existing) => *existing = reg,
                None => self.registries.push(reg),
            }
        }
        for (k, v) in file.aliases {
            self.aliases.insert(k, (v, path.to_path_buf()));
        }
        Ok(())
    }

    /// The `[[registry]]` whose prefix matches `name` (a repository with its host, and maybe
    /// a tag or digest) the longest.
    pub fn registry_for(&self, name: &str) -> Option<&Registry> {
        self.registries
            .iter()
            .filter(|r| prefix_matches(&r.prefix, name))
            .max_by_key(|r| r.prefix.len())
    }

    /// Where to fetch `name` from: mirrors first, then the registry's location (or the name
    /// itself when no `[[registry]]` matches). Each endpoint is a full reference.
    pub fn endpoints(&self, name: &FullName) -> Result<Vec<Endpoint>, RegistryError> {
        let repo = name.repository();
        let Some(reg) = self.registry_for(&repo) else {
            return Ok(vec![Endpoint {
                repository: repo.clone(),
                insecure: false,
            }]);
        };
        if reg.blocked {
            return Err(RegistryError::Blocked {
                registry: name.domain.clone(),
                conf: self.path.clone(),
            });
        }
        let rewrite = |location: &str| -> String {
            let rest = &repo[wildcard_len(&reg.prefix, &repo)..];
            if location.is_empty() {
                repo.clone()
            } else {
                format!("{location}{rest}")
            }
        };
        let by_digest = name.digest.is_some();
        let mut out = Vec::new();
        for m in &reg.mirrors {
            let allowed = match m.pull_from.as_str() {
                "digest-only" => by_digest,
                "tag-only" => !by_digest,
                _ => !reg.mirror_by_digest_only || by_digest,
            };
            if allowed {
                out.push(Endpoint {
                    repository: rewrite(&m.location),
                    insecure: m.insecure,
                });
            }
        }
        out.push(Endpoint {
            repository: rewrite(&reg.location),
            insecure: reg.insecure,
        });
        Ok(out)
    }

    /// Whether the registry `host` (`HOST[:PORT]`) is marked insecure.
    pub fn insecure_host(&self, host: &str) -> bool {
        self.registry_for(host).is_some_and(|r| {
            r.insecure && (r.location.is_empty() || r.location.split('/').next() == Some(host))
        }) || self.registries.iter().any(|r| {
            r.insecure && r.location.split('/').next() == Some(host)
                || r.mirrors
                    .iter()
                    .any(|m| m.insecure && m.location.split('/').next() == Some(host))
        })
    }
}

/// How many leading bytes of `name` the prefix stands for (a `*.example.com` prefix matches a
/// whole host).
fn wildcard_len(prefix: &str, name: &str) -> usize {
    if prefix.starts_with("*.") {
        name.find(['/', ':', '@']).unwrap_or(name.len())
    } else {
        prefix.len()
    }
}

fn prefix_matches(prefix: &str, name: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next().unwrap_or("");
        return host.ends_with(&format!(".{domain}"));
    }
    match name.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with(['/', ':', '@']),
        None => false,
    }
}

/// One place to fetch from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `HOST[:PORT]/PATH`.
    pub repository: String,
    pub insecure: bool,
}

impl Endpoint {
    pub fn host(&self) -> &str {
        self.repository.split('/').next().unwrap_or("")
    }

    pub fn path(&self) -> &str {
        self.repository
            .split_once('/')
            .map(|(_, p)| p)
            .unwrap_or("")
    }
}

/// A fully-qualified image name: `domain/path` plus a tag or a digest (or both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl FullName {
    /// `domain/path`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, or `latest` when neither tag nor digest was given.
    pub fn tag_or_latest(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// What the registry is asked for: the digest when given, else the tag.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for FullName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        } else if self.digest.is_none() {
            f.write_str(":latest")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Normalises `docker.io` names: `index.docker.io` → `docker.io`, one-component paths get
/// `library/`.
fn qualify(domain: &str, path: &str, tag: Option<String>, digest: Option<String>) -> FullName {
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    FullName {
        domain: domain.to_string(),
        path,
        tag,
        digest,
    }
}

/// How a name was resolved, for the line Podman prints before pulling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Fully qualified already: nothing printed.
    Qualified,
    /// `Resolved "NAME" as an alias (FILE)`.
    Alias { name: String, file: PathBuf },
    /// `Resolving "NAME" using unqualified-search registries (FILE)`.
    Search { name: String, file: PathBuf },
}

impl Resolution {
    /// Podman's line, if any.
    pub fn message(&self) -> Option<String> {
        match self {
            Resolution::Qualified => None,
            Resolution::Alias { name, file } => Some(format!(
                "Resolved \"{name}\" as an alias ({})",
                file.display()
            )),
            Resolution::Search { name, file } => Some(format!(
                "Resolving \"{name}\" using unqualified-search registries ({})",
                file.display()
            )),
        }
    }
}

/// The names to try, in order, for what the user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    pub resolution: Resolution,
    pub names: Vec<FullName>,
}

impl RegistriesConf {
    /// Resolves `input` as Podman's pull does (see the module doc).
    pub fn candidates(&self, input: &str) -> Result<Candidates, RegistryError> {
        let r = parse_reference(input)?;
        if let Some(domain) = &r.domain {
            return Ok(Candidates {
                resolution: Resolution::Qualified,
                names: vec![qualify(domain, &r.path, r.tag, r.digest)],
            });
        }
        if let Some((target, file)) = self.aliases.get(&r.path) {
            let t = parse_reference(target)?;
            let domain = t.domain.unwrap_or_else(|| "docker.io".to_string());
            return Ok(Candidates {
                resolution: Resolution::Alias {
                    name: r.path.clone(),
                    file: file.clone(),
                },
                names: vec![qualify(&domain, &t.path, r.tag.or(t.tag), r.digest)],
            });
        }
        if self.search.is_empty() {
            return Err(RegistryError::ShortName {
                name: input.to_string(),
                conf: self.path.clone(),
            });
        }
        if self.search.len() > 1 && self.mode == ShortNameMode::Enforcing {
            return Err(RegistryError::ShortNameAmbiguous {
                name: input.to_string(),
            });
        }
        let names = self
            .search
            .iter()
            .map(|reg| qualify(reg, &r.path, r.tag.clone(), r.digest.clone()))
            .collect();
        Ok(Candidates {
            resolution: Resolution::Search {
                name: input.to_string(),
                file: self.search_origin.clone(),
            },
            names,
        })
    }
}

#[cfg(test)]
#[path = "conf_tests.rs"]
mod tests;
