//! Reading an ignore file (moby's `ignorefile.ReadAll`) and finding it the way Podman 4.3
//! (Buildah's `ContainerIgnoreFile`) does.

use std::path::{Path, PathBuf};

use crate::build::gopath::go_clean;

/// The patterns of an ignore file: a BOM is dropped; lines starting with `#` are comments
/// (only at column 0: `  # x` is the pattern `# x`); blanks around a line are trimmed;
/// each pattern is `filepath.Clean`ed and loses one leading `/`, after its `!` if any.
pub fn read_all(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut p = String::new();
        if !pattern.is_empty() {
            p = go_clean(pattern);
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
        }
        out.push(if invert { format!("!{p}") } else { p });
    }
    out
}

/// The ignore file for a build: `explicit` (`--ignorefile`) if given; else
/// `<containerfile>.containerignore` or `<containerfile>.dockerignore` next to a
/// Containerfile (the latter winning when both exist, as in Podman); else
/// `.containerignore`, then `.dockerignore`, in the context directory.
pub fn locate(
    context: &Path,
    containerfiles: &[PathBuf],
    explicit: Option<&Path>,
) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    for cf in containerfiles {
        let cf = if cf.is_absolute() {
            cf.clone()
        } else {
            context.join(cf)
        };
        let mut found = None;
        for ext in [".containerignore", ".dockerignore"] {
            let mut name = cf.clone().into_os_string();
            name.push(ext);
            let candidate = PathBuf::from(name);
            if candidate.exists() {
                found = Some(candidate);
            }
        }
        if found.is_some() {
            return found;
        }
    }
    [".containerignore", ".dockerignore"]
        .iter()
        .map(|n| context.join(n))
        .find(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_as_docker_reads_them() {
        let text = "\u{feff}# comment\n\
                    \n\
                    /leading\n\
                    !/negated/leading/\n\
                    ! spaced\n\
                    ./a/../b//c/\n\
                    \t trimmed \r\n\
                    \x20# not a comment\n\
                    /\n\
                    **.md\n\
                    !";
        assert_eq!(
            read_all(text),
            [
                "leading",
                "!negated/leading",
                "!spaced",
                "b/c",
                "trimmed",
                "# not a comment",
                "/",
                "**.md",
                "!",
            ]
        );
    }

    #[test]
    fn where_the_file_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path();
        let none: &[PathBuf] = &[];
        assert_eq!(locate(ctx, none, None), None);
        std::fs::write(ctx.join(".dockerignore"), "x").unwrap();
        assert_eq!(locate(ctx, none, None), Some(ctx.join(".dockerignore")));
        std::fs::write(ctx.join(".containerignore"), "x").unwrap();
        assert_eq!(locate(ctx, none, None), Some(ctx.join(".containerignore")));
        let cfs = [PathBuf::from("build/Containerfile")];
        std::fs::create_dir(ctx.join("build")).unwrap();
        std::fs::write(ctx.join("build/Containerfile.containerignore"), "x").unwrap();
        assert_eq!(
            locate(ctx, &cfs, None),
            Some(ctx.join("build/Containerfile.containerignore"))
        );
        std::fs::write(ctx.join("build/Containerfile.dockerignore"), "x").unwrap();
        assert_eq!(
            locate(ctx, &cfs, None),
            Some(ctx.join("build/Containerfile.dockerignore"))
        );
        let explicit = ctx.join("my.ignore");
        assert_eq!(locate(ctx, &cfs, Some(&explicit)), Some(explicit.clone()));
    }
}
