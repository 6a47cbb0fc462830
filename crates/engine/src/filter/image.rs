//! `--filter` of `images` and `image prune`: c/common libimage's keys, values and messages.
//!
//! libimage's rules: the filters of one key are alternatives (any one matches), different
//! keys must all match; `KEY!=VALUE` negates one filter; a boolean key given twice with
//! different values is refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// One image filter, its value parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFilter {
    /// `after=IMAGE` / `since=IMAGE`: created after that image.
    Since(DateTime<Utc>),
    /// `before=IMAGE`: created before that image.
    Before(DateTime<Utc>),
    /// `until=TIME`: created before the time.
    Until(DateTime<Utc>),
    /// `containers=true|false|external`: used by a container or not; `external`: used by
    /// external containers only (a build's), or by none.
    Containers(ContainersValue),
    /// `dangling=BOOL`: nameless and no image is built on it.
    Dangling(bool),
    /// `id=ID`: the full id.
    Id(String),
    /// `intermediate=BOOL`: nameless and another image is built on it.
    Intermediate(bool),
    /// `label=KEY[=VALUE]`.
    Label(String),
    /// `readonly=BOOL`: no image in a peapod store is read-only.
    ReadOnly(bool),
    /// `manifest=BOOL`: the image is a manifest list.
    Manifest(bool),
    /// `reference=PATTERN`: Go's `path.Match` on a name's forms (with and without domain,
    /// path and tag), or the image the pattern names (an id, a short name), as Podman 5.
    Reference {
        pattern: String,
        names: Option<String>,
    },
}

/// Gives the id and creation time of the local image a reference names.
pub type ImageLookup<'a> = &'a dyn Fn(&str) -> Result<(String, DateTime<Utc>)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainersValue {
    True,
    False,
    External,
}

/// What a filter looks at, for one image.
#[derive(Debug, Clone, Copy)]
pub struct ImageFacts<'a> {
    pub id: &'a str,
    pub names: &'a [String],
    pub created: DateTime<Utc>,
    pub labels: &'a BTreeMap<String, String>,
    pub containers: usize,
    /// How many of `containers` are external (a build's working containers).
    pub external_containers: usize,
    /// Another image is built directly on this one.
    pub has_child: bool,
    /// A manifest list.
    pub manifest_list: bool,
}

impl ImageFacts<'_> {
    pub fn dangling(&self) -> bool {
        self.names.is_empty() && !self.has_child
    }

    pub fn intermediate(&self) -> bool {
        self.names.is_empty() && self.has_child
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    filter: ImageFilter,
    negate: bool,
}

/// Parsed `--filter`s: groups by key, in the order keys first appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilters {
    groups: Vec<(String, Vec<Term>)>,
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl ImageFilters {
    /// Parses every `KEY=VALUE` / `KEY!=VALUE`. `lookup` gives the id and creation time of
    /// the local image a reference names (an error when there is none).
    pub fn parse(filters: &[String], lookup: ImageLookup<'_>) -> Result<ImageFilters> {
        let mut out = ImageFilters::default();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for f in filters {
            let (key, value, negate) = match f.split_once("!=") {
                Some((k, v)) => (k, v, true),
                None => match f.split_once('=') {
                    Some((k, v)) => (k, v, false),
                    None => {
                        return Err(Error::invalid(format!(
                            "invalid image filter {f:?}: must be in the format \"filter=value or filter!=value\""
                        )));
                    }
                },
            };
            let mut once = |key: &str| -> Result<()> {
                match seen.get(key) {
                    Some(before) if before != value => Err(Error::invalid(format!(
                        "specifying {key:?} filter more than once with different values is not supported"
                    ))),
                    _ => {
                        seen.insert(key.to_string(), value.to_string());
                        Ok(())
                    }
                }
            };
            let boolean = |key: &str| {
                go_bool(value).ok_or_else(|| {
                    // libimage wraps the value and key the other way round.
                    Error::invalid(format!(
                        "non-boolean value {key:?} for {value} filter: strconv.ParseBool: parsing {value:?}: invalid syntax"
                    ))
                })
            };
            let time_of = |key: &str| {
                lookup(value).map(|(_, t)| t).map_err(|e| {
                    Error::invalid(format!(
                        "could not find local image for filter filter {key:?}={value:?}: {e}"
                    ))
                })
            };
            let (group, filter) = match key {
                "after" | "since" => ("since", ImageFilter::Since(time_of(key)?)),
                "before" => ("before", ImageFilter::Before(time_of(key)?)),
                "until" => ("until", ImageFilter::Until(parse_until(value)?)),
                "containers" => {
                    once(key)?;
                    let v = match value {
                        "true" => ContainersValue::True,
                        "false" => ContainersValue::False,
                        "external" => ContainersValue::External,
                        _ => {
                            return Err(Error::invalid(format!(
                                "unsupported value {value:?} for containers filter"
                            )));
                        }
                    };
                    ("containers", ImageFilter::Containers(v))
                }
                "dangling" | "intermediate" | "readonly" | "manifest" => {
                    once(key)?;
                    let b = boolean(key)?;
                    let filter = match key {
                        "dangling" => ImageFilter::Dangling(b),
                        "intermediate" => ImageFilter::Intermediate(b),
                        "readonly" => ImageFilter::ReadOnly(b),
                        _ => ImageFilter::Manifest(b),
                    };
                    (key, filter)
                }
                "id" => (
                    "id",
                    ImageFilter::Id(value.strip_prefix("sha256:").unwrap_or(value).to_string()),
                ),
                "label" => ("label", ImageFilter::Label(value.to_string())),
                "reference" => (
                    "reference",
                    ImageFilter::Reference {
                        pattern: value.to_string(),
                        names: lookup(value).ok().map(|(id, _)| id),
                    },
                ),
                _ => {
                    return Err(Error::invalid(format!("unsupported image filter {key:?}")));
                }
            };
            out.push(group, filter, negate);
        }
        Ok(out)
    }

    /// Adds one filter (ANDed with the others unless its key is already there).
    pub fn push(&mut self, key: &str, filter: ImageFilter, negate: bool) {
        let term = Term { filter, negate };
        match self.groups.iter_mut().find(|(k, _)| k == key) {
            Some((_, terms)) => terms.push(term),
            None => self.groups.push((key.to_string(), vec![term])),
        }
    }

    /// Whether a filter of this key is there.
    pub fn has(&self, key: &str) -> bool {
        self.groups.iter().any(|(k, _)| k == key)
    }

    pub fn matches(&self, img: &ImageFacts<'_>) -> bool {
        self.groups
            .iter()
            .all(|(_, terms)| terms.iter().any(|t| t.filter.matches(img) != t.negate))
    }
}

impl ImageFilter {
    pub fn matches(&self, img: &ImageFacts<'_>) -> bool {
        match self {
            ImageFilter::Since(t) => img.created > *t,
            ImageFilter::Before(t) | ImageFilter::Until(t) => img.created < *t,
            ImageFilter::Containers(ContainersValue::True) => img.containers > 0,
            ImageFilter::Containers(ContainersValue::False) => img.containers == 0,
            // libimage: every container of the image is an external one.
            ImageFilter::Containers(ContainersValue::External) => {
                img.containers == img.external_containers
            }
            ImageFilter::Dangling(b) => *b == img.dangling(),
            ImageFilter::Intermediate(b) => *b == img.intermediate(),
            ImageFilter::Id(id) => img.id == id,
            ImageFilter::Label(l) => {
                crate::filter::labels_match(std::slice::from_ref(l), img.labels)
            }
            ImageFilter::ReadOnly(b) => !*b,
            ImageFilter::Manifest(b) => *b == img.manifest_list,
            ImageFilter::Reference { pattern, names } => {
                names.as_deref() == Some(img.id)
                    || img.names.iter().any(|n| reference_matches(pattern, n))
            }
        }
    }
}

/// `reference=`: Go's `path.Match` of the pattern against a name's forms, as libimage
/// builds them: the full name, the path without domain and tag, the last component with its
/// tag, and, for a tagged or digested name, the same three without the tag or digest.
pub fn reference_matches(pattern: &str, name: &str) -> bool {
    // The tag or digest starts at the `@`, or at the last `:` after the last `/`.
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let cut = name
        .find('@')
        .or_else(|| name[slash..].rfind(':').map(|i| slash + i))
        .unwrap_or(name.len());
    let (trimmed, tag) = name.split_at(cut);
    // A name's first component is a domain (peapod stores names fully qualified).
    let path = trimmed.split_once('/').map_or(trimmed, |(_, p)| p);
    let mut candidates = vec![
        name.to_string(),
        path.to_string(),
        name[name.rfind('/').map_or(0, |i| i + 1)..].to_string(),
    ];
    if !tag.is_empty() {
        candidates.push(trimmed.to_string());
        candidates.push(format!("{path}{tag}"));
        candidates.push(trimmed[trimmed.rfind('/').map_or(0, |i| i + 1)..].to_string());
    }
    candidates
        .iter()
        .any(|c| crate::build::go_match(pattern, c).unwrap_or(false))
}

/// `until=`: a Go duration back from now (`24h`, `1h30m`, `90s`), a Unix time, an RFC 3339
/// time or a date (`2006-01-02`), as Podman's `ComputeUntilTimestamp` takes them.
pub fn parse_until(v: &str) -> Result<DateTime<Utc>> {
    let bad = || Error::invalid(format!("invalid until filter value {v:?}"));
    if let Some(d) = go_duration(v) {
        return Ok(Utc::now() - d);
    }
    if let Ok(secs) = v.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0).ok_or_else(bad);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc());
    }
    Err(bad())
}

/// A Go `time.Duration` string: numbers with `h`, `m`, `s`, `ms`, `us`, `ns` units.
fn go_duration(v: &str) -> Option<chrono::Duration> {
    let mut total = 0f64;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += num * secs;
        rest = &rest[u..];
    }
    Some(chrono::Duration::milliseconds((total * 1000.0) as i64))
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
