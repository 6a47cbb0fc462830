//! `--filter KEY=VALUE` for containers, pods, networks and images ([`image`]; volumes keep [`crate::volume::VolumeFilter`],
//! which uses the one name matcher here): parsed once into typed filters with Podman's keys
//! and messages, then matched against reports.
//!
//! Podman's rules, followed everywhere: the values given for one key are alternatives (any
//! one matches), different keys must all match, and every `label=` must match (a label
//! filter narrows). `name=` and `id=` are Go regular expressions matched anywhere in the
//! name or id (`^`/`$` anchor them); an invalid expression matches nothing, as in Podman's
//! `StringMatchRegexSlice`.

mod image;

pub use image::{
    ContainersValue, ImageFacts, ImageFilter, ImageFilters, parse_until, reference_matches,
};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::container::{Container, Status};
use crate::error::{Error, Result};

/// The one name/id matcher: `pattern` as a regular expression, found anywhere in `s`.
/// Go's RE2 syntax and Rust's `regex` agree on everything people write here.
pub fn name_matches(pattern: &str, s: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|re| re.is_match(s))
}

fn any_name(patterns: &[String], s: &str) -> bool {
    patterns.iter().any(|p| name_matches(p, s))
}

/// Every `label=KEY` or `label=KEY=VALUE` holds (Podman's `MatchLabelFilters`).
pub fn labels_match(wanted: &[String], labels: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| v.is_empty() || have == v),
        None => labels.contains_key(w.as_str()),
    })
}

/// `--filter` flags grouped by key, in key order; values in the order given.
pub fn group(filters: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            Error::invalid(format!("invalid filter {f:?}: filters must be KEY=VALUE"))
        })?;
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(out)
}

/// One key of `ps --filter`, its values parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum ContainerFilter {
    Id(Vec<String>),
    Name(Vec<String>),
    Label(Vec<String>),
    /// Podman's state names (`stopped` means `exited`).
    Status(Vec<String>),
    Exited(Vec<i32>),
    /// Image id, image name, or a name without its tag for `:latest`.
    Ancestor(Vec<String>),
    /// Created before / after these times (from the named containers).
    Before(DateTime<Utc>),
    Since(DateTime<Utc>),
    Until(DateTime<Utc>),
    /// Pod ids (names resolved first; an unknown pod matches nothing).
    Pod(Vec<String>),
    Network(Vec<String>),
    /// Volume name or `NAME:DEST`, or a bind's source.
    Volume(Vec<String>),
    RestartPolicy(Vec<String>),
    /// `health=healthy|unhealthy|starting`: the healthcheck status (a container without a
    /// check matches none); matched by [`health_matches`], where the status is known.
    Health(Vec<String>),
}

/// The state names Podman accepts in `status=`.
const STATES: &[&str] = &[
    "created",
    "running",
    "paused",
    "exited",
    "stopped",
    "stopping",
    "removing",
    "initialized",
    "unknown",
];

const RESTART_POLICIES: &[&str] = &["", "no", "none", "on-failure", "always", "unless-stopped"];

/// What a filter needs from the store to be parsed: containers and pods by name.
pub trait Lookup {
    fn container_created(&self, reference: &str) -> Result<DateTime<Utc>>;
    fn pod_id(&self, reference: &str) -> Result<Option<String>>;
}

impl ContainerFilter {
    /// Parse every `--filter` of `ps` (or `--filter` of another container listing).
    pub fn parse_all(filters: &[String], lookup: &dyn Lookup) -> Result<Vec<ContainerFilter>> {
        group(filters)?
            .into_iter()
            .map(|(k, v)| ContainerFilter::parse(&k, v, lookup))
            .collect()
    }

    fn parse(key: &str, values: Vec<String>, lookup: &dyn Lookup) -> Result<ContainerFilter> {
        Ok(match key {
            "id" => ContainerFilter::Id(values),
            "name" => ContainerFilter::Name(values),
            "label" => ContainerFilter::Label(values),
            "status" => {
                if let Some(bad) = values.iter().find(|v| !STATES.contains(&v.as_str())) {
                    return Err(Error::invalid(format!("{bad} is not a valid status")));
                }
                ContainerFilter::Status(values)
            }
            "exited" => ContainerFilter::Exited(
                values
                    .iter()
                    .map(|v| {
                        v.parse::<i32>()
                            .map_err(|_| Error::invalid(format!("exited code out of range {v:?}")))
                    })
                    .collect::<Result<_>>()?,
            ),
            "ancestor" => ContainerFilter::Ancestor(values),
            "before" | "since" => {
                let mut times = Vec::new();
                for v in &values {
                    times.push(lookup.container_created(v)?);
                }
                let earliest = times.into_iter().min().expect("a value per key");
                if key == "before" {
                    ContainerFilter::Before(earliest)
                } else {
                    ContainerFilter::Since(earliest)
                }
            }
            "until" => {
                let v = values.last().expect("a value per key");
                ContainerFilter::Until(crate::container::logs::parse_time(v)?)
            }
            "pod" => {
                let mut ids = Vec::new();
                for v in &values {
                    ids.extend(lookup.pod_id(v)?);
                }
                ContainerFilter::Pod(ids)
            }
            "network" => ContainerFilter::Network(values),
            "volume" => ContainerFilter::Volume(values),
            "restart-policy" => {
                let bad: Vec<&str> = values
                    .iter()
                    .map(String::as_str)
                    .filter(|v| !RESTART_POLICIES.contains(v))
                    .collect();
                if !bad.is_empty() {
                    let what = if bad.len() > 1 {
                        "invalid restart policies"
                    } else {
                        "invalid restart policy"
                    };
                    return Err(Error::invalid(format!("{} {what}", bad.join(", "))));
                }
                ContainerFilter::RestartPolicy(values)
            }
            "health" => ContainerFilter::Health(values),
            _ => return Err(Error::invalid(format!("{key} is an invalid filter"))),
        })
    }

    pub fn matches(&self, c: &Container) -> bool {
        match self {
            ContainerFilter::Id(p) => any_name(p, c.id()),
            ContainerFilter::Name(p) => any_name(p, c.name()),
            ContainerFilter::Label(l) => labels_match(l, &c.config.labels),
            ContainerFilter::Status(want) => {
                let have = match c.state.status {
                    Status::Stopped => "exited",
                    Status::Initialized => "created",
                    s => s.as_str(),
                };
                want.iter()
                    .any(|w| (if w == "stopped" { "exited" } else { w.as_str() }) == have)
            }
            ContainerFilter::Exited(codes) => {
                matches!(c.state.status, Status::Exited | Status::Stopped)
                    && codes.contains(&c.state.exit_code)
            }
            ContainerFilter::Ancestor(want) => want.iter().any(|w| ancestor_matches(c, w)),
            ContainerFilter::Before(t) => c.config.created < *t,
            ContainerFilter::Since(t) => c.config.created > *t,
            ContainerFilter::Until(t) => c.config.created < *t,
            ContainerFilter::Pod(ids) => ids.contains(&c.config.pod),
            ContainerFilter::Network(nets) => {
                nets.iter().any(|n| c.config.networks.contains_key(n))
            }
            ContainerFilter::Volume(want) => want.iter().any(|w| volume_matches(c, w)),
            ContainerFilter::RestartPolicy(want) => {
                let have = c.config.restart_policy.as_str();
                want.iter().any(|w| {
                    w == have || (matches!(w.as_str(), "none" | "no" | "") && have.is_empty())
                })
            }
            ContainerFilter::Health(_) => true,
        }
    }
}

/// The `health=` filters hold for a container whose check is in `status` (None: it has no
/// check, or none ran).
pub fn health_matches(filters: &[ContainerFilter], status: Option<&str>) -> bool {
    filters.iter().all(|f| match f {
        ContainerFilter::Health(want) => status.is_some_and(|s| want.iter().any(|w| w == s)),
        _ => true,
    })
}

/// Podman's `ancestor=`: the image's id (or a prefix of it, as peapod always took), its
/// name, or its name without the tag when the tag is `latest`.
fn ancestor_matches(c: &Container, want: &str) -> bool {
    let name = c.config.image_name.as_str();
    let without_latest = name.strip_suffix(":latest");
    (want.len() >= 12 && c.config.image_id.starts_with(want))
        || c.config.image_id == want
        || name == want
        || without_latest == Some(want)
        || without_latest.is_some_and(|n| n.rsplit('/').next() == Some(want))
}

fn volume_matches(c: &Container, want: &str) -> bool {
    let (source, dest) = match want.split_once(':') {
        Some((s, d)) => (s, Some(d)),
        None => (want, None),
    };
    c.config
        .mounts
        .iter()
        .any(|m| m.source == source && dest.is_none_or(|d| m.destination == d))
}

/// All of `filters` hold for `c`.
pub fn container_matches(filters: &[ContainerFilter], c: &Container) -> bool {
    filters.iter().all(|f| f.matches(c))
}

/// One key of `pod ps --filter`, its values parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum PodFilter {
    Id(Vec<String>),
    Name(Vec<String>),
    Label(Vec<String>),
    /// Podman's pod states, lower case.
    Status(Vec<String>),
    CtrIds(Vec<String>),
    CtrNames(Vec<String>),
    CtrStatus(Vec<String>),
    CtrNumber(Vec<usize>),
    Network(Vec<String>),
    Until(DateTime<Utc>),
}

const POD_STATES: &[&str] = &[
    "stopped", "running", "paused", "exited", "dead", "created", "degraded",
];

/// What a pod filter looks at: the pod, its containers, its state and networks.
pub struct PodFacts<'a> {
    pub pod: &'a crate::pod::Pod,
    pub containers: &'a [Container],
    /// Podman's pod state (`Running`, `Degraded`…).
    pub status: &'a str,
    pub networks: &'a [String],
}

impl PodFilter {
    /// Parse every `--filter` of `pod ps`.
    pub fn parse_all(filters: &[String]) -> Result<Vec<PodFilter>> {
        group(filters)?
            .into_iter()
            .map(|(k, v)| PodFilter::parse(&k, v))
            .collect()
    }

    fn parse(key: &str, values: Vec<String>) -> Result<PodFilter> {
        Ok(match key {
            "id" => PodFilter::Id(values),
            "name" => PodFilter::Name(values),
            "label" => PodFilter::Label(values),
            "status" => {
                let values: Vec<String> = values.iter().map(|v| v.to_ascii_lowercase()).collect();
                if let Some(bad) = values.iter().find(|v| !POD_STATES.contains(&v.as_str())) {
                    return Err(Error::invalid(format!("{bad} is not a valid status")));
                }
                PodFilter::Status(values)
            }
            "ctr-ids" => PodFilter::CtrIds(values),
            "ctr-names" => PodFilter::CtrNames(values),
            "ctr-status" => {
                if let Some(bad) = values.iter().find(|v| !STATES.contains(&v.as_str())) {
                    return Err(Error::invalid(format!("{bad} is not a valid status")));
                }
                PodFilter::CtrStatus(values)
            }
            "ctr-number" => PodFilter::CtrNumber(
                values
                    .iter()
                    .map(|v| {
                        v.parse::<usize>()
                            .map_err(|e| Error::invalid(format!("invalid ctr-number {v:?}: {e}")))
                    })
                    .collect::<Result<_>>()?,
            ),
            "network" => PodFilter::Network(values),
            "until" => {
                let v = values.last().expect("a value per key");
                PodFilter::Until(crate::container::logs::parse_time(v)?)
            }
            _ => return Err(Error::invalid(format!("{key} is an invalid filter"))),
        })
    }

    pub fn matches(&self, p: &PodFacts<'_>) -> bool {
        let ctrs = p.containers;
        match self {
            PodFilter::Id(v) => any_name(v, p.pod.id()),
            PodFilter::Name(v) => any_name(v, p.pod.name()),
            PodFilter::Label(v) => labels_match(v, &p.pod.config.labels),
            PodFilter::Status(v) => v.iter().any(|s| *s == p.status.to_ascii_lowercase()),
            PodFilter::CtrIds(v) => ctrs.iter().any(|c| any_name(v, c.id())),
            PodFilter::CtrNames(v) => ctrs.iter().any(|c| any_name(v, c.name())),
            PodFilter::CtrStatus(v) => ctrs.iter().any(|c| {
                let have = exited_is_stopped(crate::container::pause::podman_state(c.state.status));
                v.iter().any(|w| exited_is_stopped(w) == have)
            }),
            PodFilter::CtrNumber(v) => v.contains(&ctrs.len()),
            PodFilter::Network(v) => p.networks.iter().any(|n| v.contains(n)),
            PodFilter::Until(t) => p.pod.config.created < *t,
        }
    }
}

/// Podman counts a stopped container as exited in filters.
fn exited_is_stopped(s: &str) -> &str {
    if s == "stopped" { "exited" } else { s }
}

/// All of `filters` hold for the pod.
pub fn pod_matches(filters: &[PodFilter], p: &PodFacts<'_>) -> bool {
    filters.iter().all(|f| f.matches(p))
}

/// One key of `network ls --filter`, its values parsed (Podman's libnetwork filters).
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkFilter {
    Name(Vec<String>),
    Id(Vec<String>),
    Driver(Vec<String>),
    Label(Vec<String>),
}

impl NetworkFilter {
    pub fn parse_all(filters: &[String]) -> Result<Vec<NetworkFilter>> {
        group(filters)?
            .into_iter()
            .map(|(k, v)| {
                Ok(match k.as_str() {
                    "name" => NetworkFilter::Name(v),
                    "id" => NetworkFilter::Id(v),
                    "driver" => NetworkFilter::Driver(v),
                    "label" => NetworkFilter::Label(v),
                    _ => {
                        return Err(Error::invalid(format!(
                            "invalid filter {k:?}: use name, id, driver or label"
                        )));
                    }
                })
            })
            .collect()
    }

    pub fn matches(&self, n: &crate::network::Network) -> bool {
        match self {
            NetworkFilter::Name(v) => any_name(v, &n.name),
            NetworkFilter::Id(v) => any_name(v, &n.id),
            NetworkFilter::Driver(v) => v.contains(&n.driver),
            NetworkFilter::Label(v) => {
                let labels: BTreeMap<String, String> = n
                    .labels
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                labels_match(v, &labels)
            }
        }
    }
}

#[cfg(test)]
mod tests;
