//! The storage driver of a store, chosen as Podman chooses it: `--storage-driver`, else
//! `$STORAGE_DRIVER`, else `driver` in `[storage]` of containers-storage.conf(5)
//! (`$CONTAINERS_STORAGE_CONF`, else the user's `$XDG_CONFIG_HOME/containers/storage.conf`
//! when rootless, else `/etc/containers/storage.conf`, else
//! `/usr/share/containers/storage.conf`), else overlay.
//!
//! A store's driver is fixed when it is first opened: it is recorded in the database, as
//! libpod records `graph driver` in its own. A later `--storage-driver` naming another one
//! is refused with libpod's message; a configured one (storage.conf, `$STORAGE_DRIVER`) is
//! overridden by the recorded one with libpod's error-level message, and the command goes
//! on.
//!
//! Only `driver` and the overlay's `mount_program` (see [`super::storage_opts`]) are read
//! from storage.conf: peapod's store is not containers/storage (its `graphroot`/`runroot`
//! are Podman's, not peapod's), so the other keys have no meaning here.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// How a container's rootfs is made from its image's layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageDriver {
    /// An overlay mount of the image's layers under the container's own upper dir.
    #[default]
    Overlay,
    /// A full copy of the image's layers, no mount: works where overlay cannot be
    /// mounted (some nested setups), at the cost of the disk space and time of the copy.
    Vfs,
}

impl StorageDriver {
    /// The driver named `name` (containers/storage's names; `overlay2` is overlay's
    /// alias there too).
    pub fn parse(name: &str, root: &Path) -> Result<StorageDriver> {
        match name {
            "overlay" | "overlay2" => Ok(StorageDriver::Overlay),
            "vfs" => Ok(StorageDriver::Vfs),
            // containers/storage's words for a driver it does not have.
            _ => Err(Error::invalid(format!(
                "failed to GetDriver graph {name} {}: driver not supported",
                root.display()
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StorageDriver::Overlay => "overlay",
            StorageDriver::Vfs => "vfs",
        }
    }
}

/// The key of the recorded driver in the database's `meta` table.
pub(crate) const META_KEY: &str = "graph_driver";

#[derive(Debug, Default, Deserialize)]
struct StorageConfFile {
    #[serde(default)]
    storage: StorageTable,
}

#[derive(Debug, Default, Deserialize)]
struct StorageTable {
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    options: OptionsTable,
}

/// `[storage.options]`: `mount_program` here is the older place c/storage still reads.
#[derive(Debug, Default, Deserialize)]
struct OptionsTable {
    #[serde(default)]
    mount_program: Option<String>,
    #[serde(default)]
    overlay: OverlayTable,
}

/// `[storage.options.overlay]`.
#[derive(Debug, Default, Deserialize)]
struct OverlayTable {
    #[serde(default)]
    mount_program: Option<String>,
}

/// The storage.conf that applies: `$CONTAINERS_STORAGE_CONF` (which must exist when set),
/// else the first of the user's (rootless only) and the system's files that exists.
fn conf_file() -> Result<Option<PathBuf>> {
    if let Some(p) = std::env::var_os("CONTAINERS_STORAGE_CONF") {
        let p = PathBuf::from(p);
        if !p.exists() {
            return Err(Error::invalid(format!(
                "CONTAINERS_STORAGE_CONF {}: no such file or directory",
                p.display()
            )));
        }
        return Ok(Some(p));
    }
    let mut candidates = Vec::new();
    if crate::rootless::is_rootless() {
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        if let Some(c) = config_home {
            candidates.push(c.join("containers/storage.conf"));
        }
    }
    candidates.push(PathBuf::from("/etc/containers/storage.conf"));
    candidates.push(PathBuf::from("/usr/share/containers/storage.conf"));
    Ok(candidates.into_iter().find(|p| p.is_file()))
}

/// The `driver` of a storage.conf's text (None: not set, or empty).
fn driver_of(text: &str, file: &Path) -> Result<Option<String>> {
    let conf: StorageConfFile = toml::from_str(text)
        .map_err(|e| Error::invalid(format!("parsing {}: {e}", file.display())))?;
    Ok(conf.storage.driver.filter(|d| !d.is_empty()))
}

/// The `mount_program` of a storage.conf's text: `[storage.options.overlay]`'s, else
/// `[storage.options]`'s (None: not set, or empty).
fn mount_program_of(text: &str, file: &Path) -> Result<Option<String>> {
    let conf: StorageConfFile = toml::from_str(text)
        .map_err(|e| Error::invalid(format!("parsing {}: {e}", file.display())))?;
    let o = conf.storage.options;
    Ok(o.overlay
        .mount_program
        .filter(|p| !p.is_empty())
        .or(o.mount_program.filter(|p| !p.is_empty())))
}

/// The overlay `mount_program` storage.conf names, if any.
pub fn configured_mount_program() -> Result<Option<String>> {
    let Some(file) = conf_file()? else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io("reading", &file, e))?;
    mount_program_of(&text, &file)
}

/// The storage.conf `info` reports as `store.configFile`: the one that applies, else the
/// one the user would write (containers/storage's default path for root or the user).
pub fn info_conf_file() -> String {
    if let Ok(Some(p)) = conf_file() {
        return p.display().to_string();
    }
    if crate::rootless::is_rootless()
        && let Some(c) = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
    {
        return c.join("containers/storage.conf").display().to_string();
    }
    // containers/storage's default for root, reported even when absent (as Podman).
    "/usr/share/containers/storage.conf".into()
}

/// The driver the configuration asks for (`$STORAGE_DRIVER`, then storage.conf), if any.
pub fn configured_driver() -> Result<Option<String>> {
    if let Some(d) = std::env::var("STORAGE_DRIVER")
        .ok()
        .filter(|d| !d.is_empty())
    {
        return Ok(Some(d));
    }
    let Some(file) = conf_file()? else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io("reading", &file, e))?;
    driver_of(&text, &file)
}

/// What to do given the recorded driver of a store (`recorded`), the one asked for on the
/// command line (`flag`) and the configured one (`conf`): the driver to use, whether it
/// must be recorded now (a store used for the first time), and a message for the user
/// when a configured choice is overridden.
pub(crate) fn decide(
    recorded: Option<&str>,
    flag: Option<&str>,
    conf: Option<&str>,
    root: &Path,
) -> Result<(StorageDriver, bool, Option<String>)> {
    let asked = flag.or(conf);
    let asked_driver = asked.map(|a| StorageDriver::parse(a, root)).transpose()?;
    let Some(recorded) = recorded else {
        return Ok((asked_driver.unwrap_or_default(), true, None));
    };
    let recorded_driver = StorageDriver::parse(recorded, root)?;
    match (asked, asked_driver) {
        (Some(a), Some(d)) if d != recorded_driver => {
            if flag.is_some() {
                // libpod's check of its database against the runtime's configuration.
                return Err(Error::invalid(format!(
                    "database storage graph driver {recorded:?} does not match our storage graph driver {a:?}: database configuration mismatch"
                )));
            }
            Ok((
                recorded_driver,
                false,
                Some(format!(
                    "User-selected graph driver {a:?} overwritten by graph driver {recorded:?} from database - delete libpod local files to resolve.  May prevent use of images created by other tools"
                )),
            ))
        }
        _ => Ok((recorded_driver, false, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/var/lib/peapod";

    #[test]
    fn a_new_store_takes_the_flag_then_the_configuration_then_overlay() {
        let root = Path::new(ROOT);
        let d = |f, c| decide(None, f, c, root).unwrap();
        assert_eq!(
            d(Some("vfs"), Some("overlay")),
            (StorageDriver::Vfs, true, None)
        );
        assert_eq!(d(None, Some("vfs")), (StorageDriver::Vfs, true, None));
        assert_eq!(d(None, None), (StorageDriver::Overlay, true, None));
        assert_eq!(d(Some("overlay2"), None).0, StorageDriver::Overlay);
    }

    #[test]
    fn a_used_store_keeps_its_driver() {
        let root = Path::new(ROOT);
        let err = decide(Some("overlay"), Some("vfs"), None, root).unwrap_err();
        assert_eq!(
            err.to_string(),
            "database storage graph driver \"overlay\" does not match our storage graph driver \"vfs\": database configuration mismatch"
        );
        let (d, record, msg) = decide(Some("vfs"), None, Some("overlay"), root).unwrap();
        assert_eq!((d, record), (StorageDriver::Vfs, false));
        assert!(msg.unwrap().starts_with(
            "User-selected graph driver \"overlay\" overwritten by graph driver \"vfs\" from database"
        ));
        assert_eq!(
            decide(Some("vfs"), Some("vfs"), None, root).unwrap(),
            (StorageDriver::Vfs, false, None)
        );
        assert_eq!(
            decide(Some("overlay"), None, None, root).unwrap(),
            (StorageDriver::Overlay, false, None)
        );
    }

    #[test]
    fn an_unknown_driver_is_refused() {
        let err = decide(None, Some("btrfs"), None, Path::new(ROOT)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to GetDriver graph btrfs /var/lib/peapod: driver not supported"
        );
    }

    #[test]
    fn storage_conf_driver_key() {
        let f = Path::new("storage.conf");
        let text = "[storage]\ndriver = \"vfs\"\ngraphroot = \"/x\"\n[storage.options]\n";
        assert_eq!(driver_of(text, f).unwrap().as_deref(), Some("vfs"));
        assert_eq!(driver_of("[storage]\ndriver = \"\"\n", f).unwrap(), None);
        assert_eq!(driver_of("", f).unwrap(), None);
        assert!(driver_of("[storage\n", f).is_err());
    }

    #[test]
    fn storage_conf_mount_program() {
        let f = Path::new("storage.conf");
        let text = "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\nmountopt = \"nodev\"\n";
        assert_eq!(
            mount_program_of(text, f).unwrap().as_deref(),
            Some("/usr/bin/fuse-overlayfs")
        );
        let older = "[storage]\n[storage.options]\nmount_program = \"/bin/fo\"\n";
        assert_eq!(
            mount_program_of(older, f).unwrap().as_deref(),
            Some("/bin/fo")
        );
        let both = "[storage.options]\nmount_program = \"/a\"\n[storage.options.overlay]\nmount_program = \"/b\"\n";
        assert_eq!(mount_program_of(both, f).unwrap().as_deref(), Some("/b"));
        let empty = "[storage.options.overlay]\nmount_program = \"\"\n";
        assert_eq!(mount_program_of(empty, f).unwrap(), None);
        assert_eq!(mount_program_of("", f).unwrap(), None);
    }
}
