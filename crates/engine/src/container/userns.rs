//! `--userns` and `--group-add`: the user-namespace mode a container asks for, checked at
//! create with Podman 4.3's words, and the supplementary groups added to its process.
//!
//! peapod runs a container in the engine's own user namespace (the host's for root, the
//! user's pause namespace rootless: Podman's `host` mode). The modes that give a container
//! a namespace of its own (`keep-id`, `nomap`, `auto`, `private`, `ns:`) are refused: as
//! root with Podman's own errors, rootless as not done by peapod yet.

use crate::error::{Error, Result};

/// The annotation Podman sets for `--group-add keep-groups` (crun keeps the caller's
/// supplementary groups; runc ignores it).
pub const KEEP_GROUPS_ANNOTATION: &str = "run.oci.keep_original_groups";
/// `--group-add`'s special value.
pub const KEEP_GROUPS: &str = "keep-groups";

/// Checks `--userns MODE` for a container made as root (`rootless` false) or by a user;
/// what inspect's `HostConfig.UsernsMode` shows (Podman shows nothing for `host`).
pub fn check_userns(mode: &str, rootless: bool) -> Result<String> {
    let (kind, _opts) = mode.split_once(':').unwrap_or((mode, ""));
    match kind {
        "" | "host" => Ok(String::new()),
        "keep-id" | "nomap" if !rootless => Err(Error::invalid(format!(
            "{kind} is only supported in rootless mode"
        ))),
        "private" if !mode.contains(':') => Err(Error::invalid(
            "must provide at least one UID or GID mapping to configure a user namespace",
        )),
        "keep-id" | "nomap" | "auto" | "ns" | "private" => Err(Error::invalid(format!(
            "--userns={mode}: a user namespace of the container's own is not supported by \
             peapod yet: leave --userns out (the container shares {})",
            if rootless {
                "the user's namespace, where it runs as root mapped to the user"
            } else {
                "the host's user namespace"
            }
        ))),
        _ => Err(Error::invalid(format!(
            "unrecognized namespace mode {mode} passed"
        ))),
    }
}

/// `--uidmap`/`--gidmap` (each as `--uidmap=MAP`) give a container a user namespace of
/// its own: not done.
pub fn check_id_maps(maps: &[String]) -> Result<()> {
    match maps.first() {
        None => Ok(()),
        Some(m) => Err(Error::invalid(format!(
            "{m}: a user namespace of the container's own is not supported by peapod yet: \
             leave --uidmap and --gidmap out"
        ))),
    }
}

/// Checks `--group-add` values: `keep-groups` stands alone, as in Podman. Returns whether
/// it was given (the groups to store are then none).
pub fn check_group_add(groups: &[String]) -> Result<bool> {
    let keep = groups.iter().any(|g| g == KEEP_GROUPS);
    if keep && groups.len() > 1 {
        return Err(Error::invalid(
            "the '--group-add keep-groups' option is not allowed with any other --group-add options",
        ));
    }
    if let Some(bad) = groups.iter().find(|g| g.is_empty() || g.contains(':')) {
        return Err(Error::invalid(format!(
            "invalid group {bad:?} for --group-add: a group name or a gid"
        )));
    }
    Ok(keep)
}

/// The gids of `groups` (numbers, or names looked up in the container's `/etc/group`
/// contents `group`), appended to `gids` without repeats. The error names the group as
/// Podman does, for the caller to prefix with the container.
pub fn add_groups(gids: &mut Vec<u32>, groups: &[String], group: &str) -> Result<()> {
    for g in groups {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "Unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
        if !gids.contains(&gid) {
            gids.push(gid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userns_modes_as_root_and_rootless() {
        assert_eq!(check_userns("", false).unwrap(), "");
        assert_eq!(check_userns("host", true).unwrap(), "");
        for (mode, want) in [
            ("keep-id", "keep-id is only supported in rootless mode"),
            ("nomap", "nomap is only supported in rootless mode"),
            ("bogus", "unrecognized namespace mode bogus passed"),
            (
                "private",
                "must provide at least one UID or GID mapping to configure a user namespace",
            ),
        ] {
            assert_eq!(check_userns(mode, false).unwrap_err().to_string(), want);
        }
        for mode in ["keep-id", "nomap", "auto:size=1000", "ns:/proc/1/ns/user"] {
            let e = check_userns(mode, true).unwrap_err().to_string();
            assert!(
                e.contains(&format!("--userns={mode}")) && e.contains("not supported by peapod"),
                "{e}"
            );
        }
    }

    #[test]
    fn group_add_values() {
        assert!(!check_group_add(&["457".into(), "wheel".into()]).unwrap());
        assert!(check_group_add(&[KEEP_GROUPS.into()]).unwrap());
        let e = check_group_add(&[KEEP_GROUPS.into(), "457".into()]).unwrap_err();
        assert!(e.to_string().starts_with("the '--group-add keep-groups'"));
        assert!(check_group_add(&["a:b".into()]).is_err());
        assert!(check_id_maps(&[]).is_ok());
        let e = check_id_maps(&["--uidmap=0:100000:5000".into()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--uidmap=0:100000:5000: a user namespace")
        );
    }

    #[test]
    fn groups_by_number_and_name() {
        let group = "root:x:0:\n# wheel:x:99:\nwheel:x:10:alice\nusers:x:100:\n";
        let mut gids = vec![10];
        add_groups(
            &mut gids,
            &["457".into(), "wheel".into(), "users".into()],
            group,
        )
        .unwrap();
        assert_eq!(gids, [10, 457, 100]);
        let e = add_groups(&mut gids, &["nosuch".into()], group).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unable to find group nosuch: no matching entries in group file"
        );
    }
}
