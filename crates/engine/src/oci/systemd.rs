//! What a container in systemd mode gets in its spec, as Podman 4.3's `setupSystemd`:
//! tmpfs on `/run`, `/run/lock`, `/tmp` and `/var/log/journal` (with `tmpcopyup`: the
//! image's files there are copied in) unless the user mounts something there, and on a
//! cgroup v1 host the host's `name=systemd` hierarchy bound at `/sys/fs/cgroup/systemd`
//! (its `release_agent` masked). On cgroup v2 the cgroup mount is made writable at create
//! (`SecurityConfig::cgroup_rw`).

use std::path::Path;

use nix::sys::statvfs::{FsFlags, statvfs};
use oci_spec::runtime::{Mount, MountBuilder};

use crate::error::{Error, Result};

/// The v1 hierarchy systemd needs to write.
pub const CGROUP_V1_SYSTEMD: &str = "/sys/fs/cgroup/systemd";
/// Masked when [`CGROUP_V1_SYSTEMD`] is bound in.
pub const RELEASE_AGENT: &str = "/sys/fs/cgroup/systemd/release_agent";

fn build(dest: &str, typ: &str, source: &str, opts: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(|e| Error::other(format!("generating OCI spec: {e}")))
}

/// The mounts to add, given the user's (a destination they mount is left to them).
pub fn mounts(user: &[Mount], cgroup_v2: bool) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for dest in ["/run", "/run/lock", "/tmp", "/var/log/journal"] {
        if user.iter().any(|m| m.destination() == Path::new(dest)) {
            continue;
        }
        out.push(build(
            dest,
            "tmpfs",
            "tmpfs",
            &["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"],
        )?);
    }
    if !cgroup_v2 && let Some(m) = cgroup_v1_mount()? {
        out.push(m);
    }
    Ok(out)
}

/// The host's `name=systemd` hierarchy, with the flags it is mounted with on the host;
/// none when the host has no such mount.
fn cgroup_v1_mount() -> Result<Option<Mount>> {
    let mut opts = vec!["bind", "rprivate"];
    match statvfs(CGROUP_V1_SYSTEMD) {
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(_) => opts.extend(["nodev", "noexec", "nosuid"]),
        Ok(st) => {
            let f = st.flags();
            for (flag, opt) in [
                (FsFlags::ST_NODEV, "nodev"),
                (FsFlags::ST_NOEXEC, "noexec"),
                (FsFlags::ST_NOSUID, "nosuid"),
                (FsFlags::ST_RDONLY, "ro"),
            ] {
                if f.contains(flag) {
                    opts.push(opt);
                }
            }
        }
    }
    build(CGROUP_V1_SYSTEMD, "bind", CGROUP_V1_SYSTEMD, &opts).map(Some)
}

/// A privileged container in systemd mode gets no `/dev/tty*` of the host (Podman 15895:
/// systemd would start gettys on them).
pub fn keep_device(path: &Path) -> bool {
    !path.to_string_lossy().starts_with("/dev/tty")
}

/// `--systemd`'s value: in systemd mode or not, for this command (entrypoint + cmd, or the
/// image's).
pub fn wanted(mode: Option<&str>, args: &[String]) -> Result<bool> {
    // Podman lower-cases the value first.
    match mode.unwrap_or("true").to_ascii_lowercase().as_str() {
        "always" => Ok(true),
        "false" => Ok(false),
        "true" | "" => {
            // `podman build`'s `/bin/sh -c` in front is looked past.
            let cmd = match args {
                [sh, c, rest @ ..] if sh == "/bin/sh" && c == "-c" && !rest.is_empty() => rest,
                _ => args,
            };
            Ok(cmd.first().is_some_and(|c| {
                matches!(
                    c.as_str(),
                    "/sbin/init" | "/usr/sbin/init" | "/usr/local/sbin/init"
                ) || Path::new(c).file_name().is_some_and(|b| b == "systemd")
            }))
        }
        other => Err(Error::invalid(format!(
            "invalid value {other:?} systemd option requires 'true, false, always'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn systemd_mode_as_podman_decides_it() {
        assert!(wanted(None, &v(&["/usr/sbin/init"])).unwrap());
        assert!(wanted(Some("true"), &v(&["/lib/systemd/systemd", "--x"])).unwrap());
        assert!(wanted(None, &v(&["/bin/sh", "-c", "/sbin/init"])).unwrap());
        assert!(!wanted(None, &v(&["/bin/sh", "-c"])).unwrap());
        assert!(!wanted(None, &v(&["init"])).unwrap());
        assert!(!wanted(Some("false"), &v(&["/sbin/init"])).unwrap());
        assert!(wanted(Some("always"), &v(&["top"])).unwrap());
        assert!(!wanted(None, &v(&["top"])).unwrap());
        let e = wanted(Some("yes"), &[]).unwrap_err().to_string();
        assert!(e.contains("\"yes\" systemd option requires"), "{e}");
    }

    #[test]
    fn user_mounts_win_and_ttys_are_left_out() {
        let tmp = build("/tmp", "tmpfs", "tmpfs", &["rw"]).unwrap();
        let m = mounts(&[tmp], true).unwrap();
        let dests: Vec<_> = m.iter().map(|m| m.destination().clone()).collect();
        assert_eq!(
            dests,
            ["/run", "/run/lock", "/var/log/journal"].map(std::path::PathBuf::from)
        );
        assert!(!keep_device(Path::new("/dev/tty1")));
        assert!(keep_device(Path::new("/dev/null")));
    }
}
