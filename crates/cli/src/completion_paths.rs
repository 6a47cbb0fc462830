//! Completion of paths inside an image (`create`/`run IMAGE …`) or a container
//! (`cp CONTAINER:…`), as Podman's `getPathCompletion`: the tree is mounted for the
//! request, and the typed path is resolved inside it (symlinks and `..` never leave it).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{Mode, SFlag, fstatat};

use super::completion::{Answer, NO_SPACE};

/// Opens `path` (resolved inside `root`) as a directory.
fn open_dir_in(root: &Path, path: &str) -> Option<OwnedFd> {
    let dir = std::fs::File::open(root).ok()?;
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(&dir, rel, how).ok()
}

/// The directory's entries (name, is a directory), sorted by name.
fn entries(fd: OwnedFd) -> Vec<(String, bool)> {
    let Ok(mut d) = nix::dir::Dir::from_fd(fd) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ent in d.iter().flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let is_dir = match ent.file_type() {
            Some(t) => t == nix::dir::Type::Directory,
            None => false,
        };
        out.push((name, is_dir));
    }
    out.sort();
    out
}

/// `p1` and `p2` joined with one `/`, without cleaning what the user typed.
fn join(p1: &str, p2: &str) -> String {
    if p1.is_empty() || p1.ends_with('/') {
        format!("{p1}{p2}")
    } else {
        format!("{p1}/{p2}")
    }
}

/// Candidates for `to_complete` in the tree at `root`: a directory's entries (directories
/// with a trailing `/`), or the entries of its parent that start with the last component.
/// No space after the word when more than one candidate (or a directory) is offered; a
/// lone empty directory is offered with its `/` and no space. Nothing when the path is
/// not there (the shell's own completion then).
pub fn path_answer(root: &Path, to_complete: &str) -> Answer {
    let mut to_complete = if to_complete.is_empty() {
        "/".to_string()
    } else {
        to_complete.to_string()
    };
    let mut base = String::new();
    let fd = match open_dir_in(root, &to_complete) {
        Some(fd) => fd,
        None => {
            let cut = to_complete.rfind('/').map_or(0, |i| i + 1);
            base = to_complete[cut..].to_string();
            to_complete.truncate(cut);
            match open_dir_in(root, &to_complete) {
                Some(fd) => fd,
                None => return Answer::default(),
            }
        }
    };
    let dir_fd = fd.try_clone().ok();
    let list = entries(fd);
    if list.is_empty() {
        if !to_complete.ends_with('/') {
            to_complete.push('/');
        }
        return Answer {
            candidates: vec![(to_complete, String::new())],
            directive: NO_SPACE,
        };
    }
    let mut count = 0;
    let mut candidates = Vec::new();
    for (name, typed_dir) in list {
        if !name.starts_with(&base) {
            continue;
        }
        let is_dir = typed_dir
            || dir_fd.as_ref().is_some_and(|d| {
                fstatat(d, name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(
                    |st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR,
                )
            });
        let suffix = if is_dir {
            count += 1;
            "/"
        } else {
            ""
        };
        candidates.push((
            join(&to_complete, &format!("{name}{suffix}")),
            String::new(),
        ));
        count += 1;
    }
    Answer {
        candidates,
        directive: if count > 1 { NO_SPACE } else { 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_root() {
        let root = std::env::temp_dir().join(format!("peapod-comp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("etc/os-release"), "x").unwrap();
        std::fs::write(root.join("etc/hosts"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        let names = |a: &Answer| a.candidates.iter().map(|c| c.0.clone()).collect::<Vec<_>>();
        let a = path_answer(&root, "");
        assert_eq!(names(&a), ["/empty/", "/etc/", "/link"]);
        assert_eq!(a.directive, NO_SPACE);
        let a = path_answer(&root, "/etc/os-");
        assert_eq!(names(&a), ["/etc/os-release"]);
        assert_eq!(a.directive, 0);
        assert_eq!(
            names(&path_answer(&root, "/etc")),
            ["/etc/hosts", "/etc/os-release"]
        );
        // `..` stops at the root; the text typed is kept.
        assert_eq!(
            names(&path_answer(&root, "../../")),
            ["../../empty/", "../../etc/", "../../link"]
        );
        let a = path_answer(&root, "/empty");
        assert_eq!(
            (names(&a), a.directive),
            (vec!["/empty/".to_string()], NO_SPACE)
        );
        assert_eq!(path_answer(&root, "/nowhere/x"), Answer::default());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
