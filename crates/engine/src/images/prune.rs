//! `image prune` and the image filters it takes (c/common libimage's), parsed and typed.
//!
//! An image is dangling when it has no name and no child: no other image is built on it
//! (its layers are the child's first layers, the child adding at most one, and its history
//! is the child's but the last entry). Prune removes dangling images (every image with
//! `-a`) that no container uses, again and again until nothing more goes: removing a child
//! can leave its parent dangling.

use chrono::{DateTime, Utc};

use crate::Engine;
use crate::error::{Error, Result};
use crate::state::ImageRecord;

/// One `--filter` of `image prune` (and of image listings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFilter {
    /// `dangling=true|false`.
    Dangling(bool),
    /// `label=KEY[=VALUE]`, or `label!=KEY[=VALUE]` when negated.
    Label {
        key: String,
        value: Option<String>,
        negate: bool,
    },
    /// `until=TIME`: created before.
    Until(DateTime<Utc>),
    /// `reference=PATTERN`: a name contains it (`*` matches anything).
    Reference(String),
    /// `id=PREFIX`.
    Id(String),
    /// `containers=true|false`: used by a container or not.
    Containers(bool),
    /// `intermediate=true|false`: nameless and a parent of another image.
    Intermediate(bool),
    /// `readonly=true|false`: no image is read-only here, so `true` matches none.
    ReadOnly(bool),
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::invalid(format!(
            "invalid value {v:?} for filter {key:?}: must be true or false"
        ))),
    }
}

impl ImageFilter {
    /// Parses `KEY=VALUE` with Podman's messages.
    pub fn parse(f: &str) -> Result<ImageFilter> {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            Error::invalid(format!(
                "filter input must be in the form of filter=value: {f} is invalid"
            ))
        })?;
        let (k, negate) = match k.strip_suffix('!') {
            Some(k) => (k, true),
            None => (k, false),
        };
        let filter = match k {
            "label" => {
                let (key, value) = match v.split_once('=') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (v.to_string(), None),
                };
                return Ok(ImageFilter::Label { key, value, negate });
            }
            "dangling" => ImageFilter::Dangling(parse_bool(k, v)?),
            "until" => ImageFilter::Until(parse_until(v)?),
            "reference" => ImageFilter::Reference(v.to_string()),
            "id" => ImageFilter::Id(v.strip_prefix("sha256:").unwrap_or(v).to_string()),
            "containers" => ImageFilter::Containers(parse_bool(k, v)?),
            "intermediate" => ImageFilter::Intermediate(parse_bool(k, v)?),
            "readonly" => ImageFilter::ReadOnly(parse_bool(k, v)?),
            _ => {
                return Err(Error::invalid(format!("unsupported image filter {k:?}")));
            }
        };
        if negate {
            return Err(Error::invalid(format!(
                "unsupported image filter {:?}",
                format!("{k}!")
            )));
        }
        Ok(filter)
    }
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

/// Whether `child` is built directly on `parent` (libimage's parent check).
fn is_child(
    parent: &ImageRecord,
    parent_hist: &[String],
    child: &ImageRecord,
    child_hist: &[String],
) -> bool {
    child.id != parent.id
        && child.layers.starts_with(&parent.layers)
        && child.layers.len() <= parent.layers.len() + 1
        && child_hist.len() == parent_hist.len() + 1
        && child_hist.starts_with(parent_hist)
}

impl Engine {
    /// Each image's history entries, reduced to what the parent check compares.
    fn history_keys(&self, images: &[ImageRecord]) -> Vec<Vec<String>> {
        images
            .iter()
            .map(|i| {
                self.image_config(i)
                    .ok()
                    .and_then(|c| c.history().clone())
                    .unwrap_or_default()
                    .iter()
                    .map(|h| {
                        format!(
                            "{}\n{}\n{}",
                            h.created().clone().unwrap_or_default(),
                            h.created_by().clone().unwrap_or_default(),
                            h.comment().clone().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .collect()
    }

    /// The stored images that match every filter.
    pub fn filter_images(&self, filters: &[ImageFilter]) -> Result<Vec<ImageRecord>> {
        let images = self.db.images()?;
        let hist = self.history_keys(&images);
        let containers = self.db.containers()?;
        let mut out = Vec::new();
        for (i, img) in images.iter().enumerate() {
            let has_child = images
                .iter()
                .zip(&hist)
                .any(|(c, ch)| is_child(img, &hist[i], c, ch));
            let used = containers.iter().any(|c| c.config.image_id == img.id);
            let labels = self
                .image_config(img)
                .ok()
                .and_then(|c| c.config().clone())
                .and_then(|c| c.labels().clone())
                .unwrap_or_default();
            let matches = filters.iter().all(|f| match f {
                ImageFilter::Dangling(d) => *d == (img.names.is_empty() && !has_child),
                ImageFilter::Intermediate(b) => *b == (img.names.is_empty() && has_child),
                ImageFilter::Label { key, value, negate } => {
                    let hit = labels
                        .get(key)
                        .is_some_and(|have| value.as_ref().is_none_or(|w| w == have));
                    hit != *negate
                }
                ImageFilter::Until(t) => img.created < *t,
                ImageFilter::Reference(p) => img.names.iter().any(|n| reference_matches(p, n)),
                ImageFilter::Id(p) => img.id.starts_with(p.as_str()),
                ImageFilter::Containers(b) => *b == used,
                ImageFilter::ReadOnly(b) => !*b,
            });
            if matches {
                out.push(img.clone());
            }
        }
        Ok(out)
    }

    /// `image prune`: removes unused dangling images (`all`: every unused image) that match
    /// `filters`, until none is left; returns their ids in removal order.
    pub fn prune_images(&self, all: bool, filters: &[ImageFilter]) -> Result<Vec<String>> {
        let mut wanted = filters.to_vec();
        wanted.push(ImageFilter::Containers(false));
        if !all {
            wanted.push(ImageFilter::Dangling(true));
        }
        let mut removed = Vec::new();
        loop {
            let round = self.filter_images(&wanted)?;
            if round.is_empty() {
                return Ok(removed);
            }
            let mut progress = false;
            for img in round {
                for n in &img.names {
                    self.db.untag_image(n)?;
                    self.emit_image("untag", &img.id, n);
                }
                match self.remove_image(&img.id, false) {
                    Ok(_) => {
                        removed.push(img.id.clone());
                        progress = true;
                    }
                    Err(Error::NoSuchImage(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if !progress {
                return Ok(removed);
            }
        }
    }
}

/// `reference=`: the pattern matched against the whole name or its repository, `*` as a
/// wildcard; without a wildcard, a substring.
fn reference_matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return name.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            continue;
        }
        match name[pos..].find(p) {
            Some(at) if i > 0 || at == 0 => pos += at + p.len(),
            _ => return false,
        }
    }
    parts
        .last()
        .is_none_or(|l| l.is_empty() || name.ends_with(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_with_podman_s_messages() {
        assert_eq!(
            ImageFilter::parse("dangling=true").unwrap(),
            ImageFilter::Dangling(true)
        );
        assert_eq!(
            ImageFilter::parse("label!=a=b").unwrap(),
            ImageFilter::Label {
                key: "a".into(),
                value: Some("b".into()),
                negate: true
            }
        );
        assert_eq!(
            ImageFilter::parse("bogus=1").unwrap_err().to_string(),
            "unsupported image filter \"bogus\""
        );
        assert_eq!(
            ImageFilter::parse("label").unwrap_err().to_string(),
            "filter input must be in the form of filter=value: label is invalid"
        );
        assert!(ImageFilter::parse("dangling=maybe").is_err());
    }

    #[test]
    fn until_takes_durations_and_times() {
        let t = parse_until("1h30m").unwrap();
        let d = Utc::now() - t;
        assert!((5399..=5401).contains(&d.num_seconds()), "{d}");
        assert_eq!(parse_until("0").unwrap().timestamp(), 0);
        assert_eq!(
            parse_until("2020-01-02").unwrap().to_rfc3339(),
            "2020-01-02T00:00:00+00:00"
        );
        assert!(parse_until("yesterday").is_err());
    }

    #[test]
    fn references_match_like_podman() {
        assert!(reference_matches("bb", "localhost/bb:latest"));
        assert!(reference_matches("localhost/*", "localhost/bb:latest"));
        assert!(reference_matches("*:latest", "localhost/bb:latest"));
        assert!(!reference_matches("docker.io/*", "localhost/bb:latest"));
    }
}
