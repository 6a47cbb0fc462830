//! How inspect shows a container's mounts: `Mounts`, `HostConfig.Binds` and
//! `HostConfig.Tmpfs`, as Podman lists them.

use super::flags_for;
use crate::Engine;
use crate::container::Container;
use crate::container::inspect::InspectMount;
use crate::volume::spec::{MountKind, MountSpec, SourceFlags};

impl Engine {
    /// inspect's `Mounts`: volumes first, then binds (tmpfs are under `HostConfig.Tmpfs`),
    /// as Podman lists them.
    pub fn inspect_mounts(&self, c: &Container) -> Vec<InspectMount> {
        let vols = c.config.mounts.iter().filter(|m| m.is_volume());
        let images = c
            .config
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Image);
        let binds = c.config.mounts.iter().filter(|m| m.kind == MountKind::Bind);
        let images: Vec<InspectMount> = images
            .map(|m| InspectMount {
                Type: "image".into(),
                Name: String::new(),
                Source: m.source.clone(),
                Destination: m.destination.clone(),
                Driver: String::new(),
                Mode: String::new(),
                Options: Vec::new(),
                RW: m.options.iter().any(|o| o == "rw"),
                Propagation: String::new(),
            })
            .collect();
        let vols: Vec<InspectMount> = vols.map(|m| self.inspect_mount(m)).collect();
        vols.into_iter()
            .chain(images)
            .chain(binds.map(|m| self.inspect_mount(m)))
            .collect()
    }

    /// inspect's view of a volume or bind mount.
    fn inspect_mount(&self, m: &MountSpec) -> InspectMount {
        let volume = m.is_volume();
        InspectMount {
            Type: if volume { "volume" } else { "bind" }.into(),
            Name: if volume {
                m.source.clone()
            } else {
                String::new()
            },
            Source: if volume {
                self.paths.volume_data(&m.source).display().to_string()
            } else {
                m.source.clone()
            },
            Destination: m.destination.clone(),
            Driver: if volume { "local" } else { "" }.into(),
            // Shown as given; with SELinux off relabelling is a no-op.
            Mode: m.mode().to_string(),
            Options: m.inspect_options(flags_for(m)),
            RW: !m.read_only(),
            Propagation: m.propagation().to_string(),
        }
    }

    /// `HostConfig.Binds`: `SOURCE:DEST:OPTIONS` of every volume and bind.
    pub fn inspect_binds(&self, c: &Container) -> Vec<String> {
        c.config
            .mounts
            .iter()
            .filter(|m| m.kind != MountKind::Tmpfs && m.kind != MountKind::Image)
            .map(|m| {
                format!(
                    "{}:{}:{}",
                    m.source,
                    m.destination,
                    m.config_options(flags_for(m)).join(",")
                )
            })
            .collect()
    }

    /// `HostConfig.Tmpfs`: destination → options.
    pub fn inspect_tmpfs(&self, c: &Container) -> std::collections::BTreeMap<String, String> {
        c.config
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Tmpfs)
            .map(|m| {
                (
                    m.destination.clone(),
                    m.oci_options(SourceFlags::default()).join(","),
                )
            })
            .collect()
    }
}
