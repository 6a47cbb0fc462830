//! `info`'s `store.graphOptions`: the storage driver's options in effect, as libpod lists
//! them — a `mount_program` as an object with the program's path, package and version
//! output, anything else as its value.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::config::storage_opts::StorageOpts;

/// The options of `opts` under the keys they were given with.
pub(super) fn graph_options(opts: &StorageOpts) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Some((key, program)) = &opts.mount_program {
        out.insert(
            key.clone(),
            json!({
                "Executable": program.display().to_string(),
                "Package": package_of(program),
                "Version": stdout_of(program, "--version"),
            }),
        );
    }
    out
}

/// What `program ARG` prints on stdout, without the last newline (Podman's
/// `version.Program`; fuse-overlayfs' stderr warnings are not part of it).
fn stdout_of(program: &Path, arg: &str) -> String {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim_end_matches('\n')
                .to_string()
        })
        .unwrap_or_default()
}

/// The Debian package that owns `program`, as `NAME_VERSION_ARCH` (Podman's
/// `version.Package` through dpkg), else `Unknown`.
fn package_of(program: &Path) -> String {
    let owner = Command::new("dpkg")
        .arg("-S")
        .arg(program)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.split(':').next().map(|s| s.trim().to_string())
        });
    let Some(name) = owner.filter(|n| !n.is_empty()) else {
        return "Unknown".into();
    };
    Command::new("dpkg-query")
        .args(["-f", "${Package}_${Version}_${Architecture}", "-W", &name])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_options_none_shown() {
        assert!(graph_options(&StorageOpts::default()).is_empty());
    }

    #[test]
    fn a_mount_program_with_its_output() {
        let t = tempfile::tempdir().unwrap();
        let prog = t.path().join("prog");
        std::fs::write(&prog, "#!/bin/sh\necho one\necho warning >&2\necho two\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let opts = StorageOpts {
            mount_program: Some(("overlay.mount_program".into(), prog.clone())),
        };
        let got = graph_options(&opts);
        let v = &got["overlay.mount_program"];
        assert_eq!(v["Executable"], prog.display().to_string());
        assert_eq!(v["Version"], "one\ntwo");
        assert_eq!(v["Package"], "Unknown");
    }
}
