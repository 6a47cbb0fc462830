//! `--tz`: which host file becomes the container's /etc/localtime. A zone is a name under
//! /usr/share/zoneinfo (no absolute path, no `..`: the name is the user's, the file the
//! host's); `local` is the host's own /etc/localtime, as Podman resolves them.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The host file for zone `tz`, resolved through symlinks; Podman's error when unknown.
pub(crate) fn zone_file(tz: &str) -> Result<PathBuf> {
    let unknown = || Error::invalid(format!("finding timezone: unknown time zone {tz}"));
    let path = if tz == "local" {
        PathBuf::from("/etc/localtime")
    } else {
        let rel = Path::new(tz);
        if tz.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(unknown());
        }
        Path::new(ZONEINFO).join(rel)
    };
    let real = std::fs::canonicalize(&path).map_err(|_| unknown())?;
    if !real.is_file() {
        return Err(unknown());
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_zoneinfo_are_unknown() {
        for bad in [
            "",
            "/etc/passwd",
            "../../../etc/passwd",
            "Europe/../../../etc/shadow",
            ".",
        ] {
            let e = zone_file(bad).unwrap_err().to_string();
            assert!(e.contains("unknown time zone"), "{bad}: {e}");
        }
        assert!(zone_file("No/Such_Zone").is_err());
    }
}
