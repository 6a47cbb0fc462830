//! `--user` resolution against the container's own `/etc/passwd` and `/etc/group`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// Read a file of the container's rootfs, resolving symlinks *inside* the rootfs: an image
/// whose `/etc/passwd` points at a host path reads its own tree, never the host's.
pub fn read_in_root(root: &Path, path: &str) -> std::io::Result<String> {
    let dir = File::open(root)?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(&dir, path.trim_start_matches('/'), how).map_err(std::io::Error::from)?;
    let mut f = File::from(fd);
    let mut s = String::new();
    // /etc/passwd is small; refuse to slurp something absurd planted by an image.
    (&mut f).take(16 << 20).read_to_string(&mut s)?;
    Ok(s)
}

/// Is `path` a directory of the container's rootfs (resolved inside it)?
pub fn dir_in_root(root: &Path, path: &str) -> bool {
    let Ok(dir) = File::open(root) else {
        return false;
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let rel = path.trim_start_matches('/');
    rel.is_empty() || openat2(&dir, rel, how).is_ok()
}

/// Resolve `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`) with the given passwd and
/// group contents, as Podman does: a numeric uid missing from passwd is allowed (gid 0 then),
/// a name missing from passwd is an error.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ResolvedUser> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = passwd.lines().filter_map(parse_passwd).find(|e| {
        if user.chars().all(|c| c.is_ascii_digit()) {
            e.uid.to_string() == user
        } else {
            e.name == user
        }
    });
    let (uid, mut gid, home, name) = match (entry, user.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name.to_string())),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => {
            return Err(Error::invalid(format!(
                "unable to find user {user}: no matching entries in passwd file"
            )));
        }
    };
    if let Some(g) = grp {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .filter_map(parse_group)
                .find(|e| e.0 == g)
                .map(|e| e.1)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let mut additional_gids = Vec::new();
    if let Some(name) = name {
        for (_, g, members) in group.lines().filter_map(parse_group) {
            if g != gid && members.split(',').any(|m| m == name) && !additional_gids.contains(&g) {
                additional_gids.push(g);
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn parse_passwd(line: &str) -> Option<PasswdEntry<'_>> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 || line.starts_with('#') {
        return None;
    }
    Some(PasswdEntry {
        name: f[0],
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        home: f[5],
    })
}

fn parse_group(line: &str) -> Option<(&str, u32, &str)> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 4 || line.starts_with('#') {
        return None;
    }
    Some((f[0], f[2].parse().ok()?, f[3]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:alice\nnogroup:x:65534:\nalice:x:1000:\n";

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            resolve("", PASSWD, GROUP).unwrap(),
            ResolvedUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
                home: "/root".into()
            }
        );
        let n = resolve("nobody", PASSWD, GROUP).unwrap();
        assert_eq!(
            (n.uid, n.gid, n.home.as_str()),
            (65534, 65534, "/nonexistent")
        );
        let a = resolve("alice", PASSWD, GROUP).unwrap();
        assert_eq!(a.additional_gids, vec![10]);
        assert_eq!(resolve("1234", PASSWD, GROUP).unwrap().uid, 1234);
        assert_eq!(resolve("1234:55", PASSWD, GROUP).unwrap().gid, 55);
        assert_eq!(resolve("alice:wheel", PASSWD, GROUP).unwrap().gid, 10);
    }

    #[test]
    fn unknown_names_fail() {
        assert!(
            resolve("mallory", PASSWD, GROUP)
                .unwrap_err()
                .to_string()
                .contains("mallory")
        );
        assert!(
            resolve("alice:nosuch", PASSWD, GROUP)
                .unwrap_err()
                .to_string()
                .contains("nosuch")
        );
    }
}
