//! Whole-store operations: `system prune` (what nothing uses), `system reset` (everything),
//! and `system check` (what this store left behind on the machine and no longer knows:
//! the repair after crashes).
//!
//! Podman's `system check` (Podman 5) checks storage for damaged layers and images; ours
//! checks the runtime side, where a crash leaves things: network namespace pins, leases,
//! firewall rules, runtime containers, mounts, cgroups and exit files that belong to no
//! container or pod of this store. `--repair` releases them.

mod check;
mod df;
mod graph_options;
mod info;
mod prune;
mod reset;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use chrono::{DateTime, Utc};

pub use check::{CheckReport, Finding};
pub use df::{DfContainer, DfImage, DfSummary, DfVolume, DiskUsage};
pub use info::{
    API_VERSION, Info, Version, VersionInfo, json_tags, lower_camel, version, version_info,
};
pub use prune::{SystemPruneOptions, SystemPruneReport};

use crate::error::{Error, Result};

/// One `--filter` of `system prune`, as Podman takes them for every kind of object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PruneFilter {
    /// `label=KEY` or `label=KEY=VALUE`.
    Label(String, Option<String>),
    /// `label!=KEY` or `label!=KEY=VALUE`.
    NotLabel(String, Option<String>),
    /// `until=TIME`: created before it (a timestamp, or a duration ago).
    Until(DateTime<Utc>),
}

impl PruneFilter {
    /// Parse one `--filter`, with Podman's message for an unknown one.
    pub fn parse(f: &str) -> Result<PruneFilter> {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("invalid filter {f:?}: must be KEY=VALUE")))?;
        let label = |v: &str| match v.split_once('=') {
            Some((lk, lv)) => (lk.to_string(), Some(lv.to_string())),
            None => (v.to_string(), None),
        };
        Ok(match k {
            "label" => {
                let (lk, lv) = label(v);
                PruneFilter::Label(lk, lv)
            }
            // `label!=x` splits at its `=`: the key ends with `!`.
            "label!" => {
                let (lk, lv) = label(v);
                PruneFilter::NotLabel(lk, lv)
            }
            "until" => PruneFilter::Until(crate::container::logs::parse_time(v)?),
            _ => return Err(Error::invalid(format!("{k} is an invalid filter"))),
        })
    }

    /// Does an object with these labels, created then, pass?
    pub fn matches<'a>(
        &self,
        mut labels: impl FnMut(&str) -> Option<&'a str>,
        created: Option<DateTime<Utc>>,
    ) -> bool {
        let has =
            |k: &str, want: &Option<String>, labels: &mut dyn FnMut(&str) -> Option<&'a str>| {
                labels(k).is_some_and(|have| want.as_ref().is_none_or(|w| w == have))
            };
        match self {
            PruneFilter::Label(k, v) => has(k, v, &mut labels),
            PruneFilter::NotLabel(k, v) => !has(k, v, &mut labels),
            PruneFilter::Until(t) => created.is_some_and(|c| c < *t),
        }
    }
}

/// Every filter passes for an object with a `BTreeMap` of labels.
fn all_match(
    filters: &[PruneFilter],
    labels: &BTreeMap<String, String>,
    created: DateTime<Utc>,
) -> bool {
    filters
        .iter()
        .all(|f| f.matches(|k| labels.get(k).map(String::as_str), Some(created)))
}

/// The same with a `HashMap` (networks, image configs).
fn all_match_hash(
    filters: &[PruneFilter],
    labels: Option<&HashMap<String, String>>,
    created: Option<DateTime<Utc>>,
) -> bool {
    filters.iter().all(|f| {
        f.matches(
            |k| labels.and_then(|l| l.get(k)).map(String::as_str),
            created,
        )
    })
}

/// Bytes of the files under `dir`, not crossing into other filesystems (a mount left
/// inside is not ours to count).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    fn walk(dir: &Path, dev: u64, total: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.dev() != dev {
                continue;
            }
            if m.is_dir() {
                walk(&e.path(), dev, total);
            } else if m.is_file() {
                *total += m.len();
            }
        }
    }
    let Ok(m) = dir.symlink_metadata() else {
        return 0;
    };
    let mut total = 0;
    walk(dir, m.dev(), &mut total);
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_prune_filters() {
        assert_eq!(
            PruneFilter::parse("label=a=b").unwrap(),
            PruneFilter::Label("a".into(), Some("b".into()))
        );
        assert_eq!(
            PruneFilter::parse("label=a").unwrap(),
            PruneFilter::Label("a".into(), None)
        );
        assert_eq!(
            PruneFilter::parse("label!=a=b").unwrap(),
            PruneFilter::NotLabel("a".into(), Some("b".into()))
        );
        assert!(matches!(
            PruneFilter::parse("until=10m").unwrap(),
            PruneFilter::Until(_)
        ));
        assert_eq!(
            PruneFilter::parse("bogus=1").unwrap_err().to_string(),
            "bogus is an invalid filter"
        );
        assert!(PruneFilter::parse("label").is_err());

        let labels: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
        let now = Utc::now();
        let old = now - chrono::Duration::hours(1);
        let f = |s: &str| vec![PruneFilter::parse(s).unwrap()];
        assert!(all_match(&f("label=a"), &labels, now));
        assert!(all_match(&f("label=a=b"), &labels, now));
        assert!(!all_match(&f("label=a=c"), &labels, now));
        assert!(!all_match(&f("label!=a"), &labels, now));
        assert!(all_match(&f("label!=a=c"), &labels, now));
        assert!(all_match(&f("until=10m"), &labels, old));
        assert!(!all_match(&f("until=10m"), &labels, now));
        assert!(!all_match_hash(&f("until=10m"), None, None));
        assert!(all_match_hash(&[], None, None));
    }

    #[test]
    fn sizes_count_files_once() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::fs::write(t.path().join("a/b/f"), vec![0u8; 1000]).unwrap();
        std::fs::write(t.path().join("g"), vec![0u8; 24]).unwrap();
        std::os::unix::fs::symlink("g", t.path().join("link")).unwrap();
        assert_eq!(dir_size(t.path()), 1024);
        assert_eq!(dir_size(&t.path().join("missing")), 0);
    }
}
