//! The storage driver's options: the global `--storage-opt KEY=VALUE` flags, else what
//! storage.conf says, as Podman hands them to containers-storage (flags given replace the
//! file's options; `--storage-opt ''` alone means none).
//!
//! peapod knows one: the overlay's `mount_program` (`overlay.mount_program=PATH`,
//! `overlay2.` or no prefix accepted as c/storage does; empty means none). c/storage's other
//! overlay options are refused as unsupported, anything else in c/storage's words
//! (`overlay: Unknown option KEY`). A program that does not exist is refused before anything
//! is done, in c/storage's words.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The options in effect for a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageOpts {
    /// The overlay's mount program and the key it was given under (`info`'s
    /// `store.graphOptions` shows it under that key).
    pub mount_program: Option<(String, PathBuf)>,
}

/// c/storage's overlay options that peapod does not implement.
const UNSUPPORTED: &[&str] = &[
    "override_kernel_check",
    "mountopt",
    "size",
    "inodes",
    "imagestore",
    "additionalimagestore",
    "additionallayerstore",
    "skip_mount_home",
    "ignore_chown_errors",
    "force_mask",
];

/// The options that apply: `flags` (`--storage-opt`) when any was given, else for an
/// overlay store (`overlay`) storage.conf's `mount_program` (under c/storage's key,
/// `overlay.mount_program`; `[storage.options.overlay]` means nothing to vfs).
pub fn resolve(flags: &[String], overlay: bool) -> Result<StorageOpts> {
    if !flags.is_empty() {
        return parse(flags);
    }
    if !overlay {
        return Ok(StorageOpts::default());
    }
    match super::storage_conf::configured_mount_program()? {
        Some(p) => Ok(StorageOpts {
            mount_program: Some(("overlay.mount_program".into(), checked_program(&p)?)),
        }),
        None => Ok(StorageOpts::default()),
    }
}

/// `--storage-opt` values.
pub fn parse(flags: &[String]) -> Result<StorageOpts> {
    let mut opts = StorageOpts::default();
    for flag in flags.iter().filter(|f| !f.is_empty()) {
        // containers/storage's parsers.ParseKeyValueOpt.
        let Some((key, value)) = flag.split_once('=') else {
            return Err(Error::invalid(format!(
                "unable to parse key/value option: {flag}"
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        let lower = key.to_ascii_lowercase();
        let trimmed = lower
            .strip_prefix("overlay.")
            .or_else(|| lower.strip_prefix("overlay2."))
            .unwrap_or(&lower);
        let trimmed = trimmed.strip_prefix('.').unwrap_or(trimmed);
        match trimmed {
            "mount_program" if value.is_empty() => opts.mount_program = None,
            "mount_program" => {
                opts.mount_program = Some((key.to_string(), checked_program(value)?));
            }
            t if UNSUPPORTED.contains(&t) => {
                return Err(Error::invalid(format!(
                    "storage option {flag:?} is not supported by peapod's store"
                )));
            }
            _ => {
                return Err(Error::invalid(format!("overlay: Unknown option {key}")));
            }
        }
    }
    Ok(opts)
}

/// The program, which must exist (c/storage stats it when the driver starts).
fn checked_program(p: &str) -> Result<PathBuf> {
    match std::fs::metadata(p) {
        Ok(_) => Ok(PathBuf::from(p)),
        Err(e) => Err(Error::invalid(format!(
            "overlay: can't stat program {p:?}: stat {p}: {}",
            go_errno(&e)
        ))),
    }
}

/// An OS error as Go prints it (`no such file or directory`).
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let desc = nix::errno::Errno::from_raw(n).desc();
            let mut c = desc.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
        None => e.to_string(),
    }
}

/// The mount program of a store: the configured one, else (rootless) one an earlier
/// fallback recorded in `record`.
pub(crate) fn effective_program(opts: &StorageOpts, record: Option<&Path>) -> Option<PathBuf> {
    match &opts.mount_program {
        Some((_, p)) => Some(p.clone()),
        None => record.and_then(crate::layer::recorded_program),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: &[&str]) -> Result<StorageOpts> {
        parse(&f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn mount_program_under_every_prefix() {
        for key in [
            "overlay.mount_program",
            "overlay2.mount_program",
            "mount_program",
            ".mount_program",
            "Overlay.Mount_Program",
        ] {
            let o = flags(&[&format!("{key}=/bin/sh")]).unwrap();
            assert_eq!(
                o.mount_program,
                Some((key.to_string(), PathBuf::from("/bin/sh"))),
                "{key}"
            );
        }
    }

    #[test]
    fn empty_values_mean_none() {
        assert_eq!(flags(&[""]).unwrap(), StorageOpts::default());
        assert_eq!(
            flags(&["overlay.mount_program="]).unwrap(),
            StorageOpts::default()
        );
        assert_eq!(
            flags(&["overlay.mount_program=/bin/sh", "overlay.mount_program="]).unwrap(),
            StorageOpts::default()
        );
    }

    #[test]
    fn refusals_in_c_storage_words() {
        let msg = |f: &[&str]| flags(f).unwrap_err().to_string();
        assert_eq!(
            msg(&["overlay.mount_program=/nonexistent/fo"]),
            "overlay: can't stat program \"/nonexistent/fo\": stat /nonexistent/fo: no such file or directory"
        );
        assert_eq!(
            msg(&["overlay.foo=1"]),
            "overlay: Unknown option overlay.foo"
        );
        assert_eq!(msg(&["foo"]), "unable to parse key/value option: foo");
        assert_eq!(
            msg(&["overlay.mountopt=nodev"]),
            "storage option \"overlay.mountopt=nodev\" is not supported by peapod's store"
        );
    }

    #[test]
    fn a_configured_program_wins_over_a_record() {
        let t = tempfile::tempdir().unwrap();
        let rec = t.path().join("rec");
        std::fs::write(&rec, "/bin/sh").unwrap();
        let none = StorageOpts::default();
        assert_eq!(
            effective_program(&none, Some(&rec)),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(effective_program(&none, None), None);
        let set = flags(&["overlay.mount_program=/bin/true"]).unwrap();
        assert_eq!(
            effective_program(&set, Some(&rec)),
            Some(PathBuf::from("/bin/true"))
        );
    }
}
