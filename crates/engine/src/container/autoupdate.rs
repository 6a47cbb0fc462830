//! The `io.containers.autoupdate` label, checked at create as libpod checks it: `registry`
//! (or its old name `image`) asks for updates from a registry, so the image must be named
//! by a fully-qualified reference of the docker transport, as the user wrote it.

use crate::error::{Error, Result};

/// The label that asks `auto-update` to update a container.
pub const AUTO_UPDATE_LABEL: &str = "io.containers.autoupdate";

/// containers/image's transports (`alltransports`) other than `docker`.
const OTHER_TRANSPORTS: &[&str] = &[
    "containers-storage",
    "dir",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "sif",
    "tarball",
];

/// libpod's `validateAutoUpdateImageReference` for a container whose labels ask for
/// registry updates; `raw_image` is the image as the user named it.
pub fn check_label(value: Option<&str>, raw_image: &str) -> Result<()> {
    if !matches!(value, Some("registry" | "image")) {
        return Ok(());
    }
    if let Some((transport, _)) = raw_image.split_once(':')
        && OTHER_TRANSPORTS.contains(&transport)
    {
        return Err(Error::invalid(format!(
            "auto updates require the docker image transport but image is of transport {transport:?}"
        )));
    }
    let name = raw_image.strip_prefix("docker://").unwrap_or(raw_image);
    if crate::image::parse_reference(name).is_ok_and(|r| r.domain.is_none()) {
        return Err(Error::invalid(format!(
            "short name: auto updates require fully-qualified image reference: {raw_image:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_label;

    #[test]
    fn registry_updates_want_a_full_docker_reference() {
        let reg = Some("registry");
        assert!(check_label(reg, "quay.io/libpod/testimage:20220615").is_ok());
        assert!(check_label(Some("image"), "docker://quay.io/a/b:1").is_ok());
        assert!(check_label(reg, "localhost/x:1").is_ok());
        assert!(check_label(Some("local"), "shortname:latest").is_ok());
        assert!(check_label(None, "shortname:latest").is_ok());
        let e = check_label(reg, "shortname:latest")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("short name: auto updates require fully-qualified image reference: \"shortname:latest\""),
            "{e}"
        );
        let e = check_label(reg, "docker-archive:/tmp/a.tar")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("auto updates require the docker image transport but image is of transport \"docker-archive\""),
            "{e}"
        );
    }
}
