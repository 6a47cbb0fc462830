//! `system df`: the space images, containers and volumes take, and what removing the
//! unused ones would give back, as facts (bytes, counts, ids); front ends render them.

use chrono::{DateTime, Utc};

use super::dir_size;
use crate::Engine;
use crate::error::Result;

/// One line of the summary: `Images`, `Containers` or `Local Volumes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DfSummary {
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

#[derive(Debug, Clone)]
pub struct DfImage {
    pub id: String,
    /// `REPO:TAG` names (none for a dangling image).
    pub names: Vec<String>,
    pub created: DateTime<Utc>,
    pub size: u64,
    /// Containers made from it.
    pub containers: usize,
}

#[derive(Debug, Clone)]
pub struct DfContainer {
    pub id: String,
    pub image_id: String,
    pub command: String,
    /// Volumes it mounts.
    pub volumes: usize,
    /// Its writable layer.
    pub size: u64,
    pub created: DateTime<Utc>,
    pub status: String,
    pub running: bool,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct DfVolume {
    pub name: String,
    /// Containers that mount it.
    pub links: usize,
    pub size: u64,
    /// Its data directory, as inspect's `Mountpoint`.
    pub mountpoint: String,
}

#[derive(Debug, Clone)]
pub struct DiskUsage {
    pub images: Vec<DfImage>,
    pub containers: Vec<DfContainer>,
    pub volumes: Vec<DfVolume>,
}

impl DiskUsage {
    /// The three summary lines, in Podman's order.
    pub fn summary(&self) -> [DfSummary; 3] {
        let unused = |active: bool, size: u64| if active { 0 } else { size };
        [
            DfSummary {
                kind: "Images",
                total: self.images.len(),
                active: self.images.iter().filter(|i| i.containers > 0).count(),
                size: self.images.iter().map(|i| i.size).sum(),
                reclaimable: self
                    .images
                    .iter()
                    .map(|i| unused(i.containers > 0, i.size))
                    .sum(),
            },
            DfSummary {
                kind: "Containers",
                total: self.containers.len(),
                active: self.containers.iter().filter(|c| c.running).count(),
                size: self.containers.iter().map(|c| c.size).sum(),
                reclaimable: self
                    .containers
                    .iter()
                    .map(|c| unused(c.running, c.size))
                    .sum(),
            },
            DfSummary {
                kind: "Local Volumes",
                total: self.volumes.len(),
                active: self.volumes.iter().filter(|v| v.links > 0).count(),
                size: self.volumes.iter().map(|v| v.size).sum(),
                reclaimable: self
                    .volumes
                    .iter()
                    .map(|v| unused(v.links > 0, v.size))
                    .sum(),
            },
        ]
    }
}

impl Engine {
    /// `system df`.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let containers = self.containers()?;
        let mut images: Vec<DfImage> = self
            .images()?
            .into_iter()
            .map(|r| DfImage {
                containers: containers
                    .iter()
                    .filter(|c| c.config.image_id == r.id)
                    .count(),
                id: r.id,
                names: r.names,
                created: r.created,
                size: r.size,
            })
            .collect();
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        let mut volumes = Vec::new();
        for v in self.volumes()? {
            let data = self.paths.volume_data(&v.name);
            volumes.push(DfVolume {
                links: self.volume_users(&v.name)?.len(),
                size: dir_size(&data),
                mountpoint: data.display().to_string(),
                name: v.name,
            });
        }
        let ctrs = containers
            .iter()
            .map(|c| DfContainer {
                id: c.id().to_string(),
                image_id: c.config.image_id.clone(),
                command: c.config.args.join(" "),
                volumes: c
                    .config
                    .mounts
                    .iter()
                    .filter(|m| {
                        matches!(
                            m.kind,
                            crate::volume::MountKind::Volume | crate::volume::MountKind::Anonymous
                        )
                    })
                    .count(),
                size: dir_size(&self.paths.container_dir(c.id()).join("upper")),
                created: c.config.created,
                status: c.state.status.to_string(),
                running: c.state.status == crate::container::Status::Running,
                name: c.config.name.clone(),
            })
            .collect();
        Ok(DiskUsage {
            images,
            containers: ctrs,
            volumes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_what_is_in_use() {
        let now = Utc::now();
        let du = DiskUsage {
            images: vec![
                DfImage {
                    id: "a".into(),
                    names: vec![],
                    created: now,
                    size: 100,
                    containers: 2,
                },
                DfImage {
                    id: "b".into(),
                    names: vec![],
                    created: now,
                    size: 50,
                    containers: 0,
                },
            ],
            containers: vec![DfContainer {
                id: "c".into(),
                image_id: "a".into(),
                command: "true".into(),
                volumes: 1,
                size: 7,
                created: now,
                status: "exited".into(),
                running: false,
                name: "c1".into(),
            }],
            volumes: vec![
                DfVolume {
                    name: "v1".into(),
                    links: 1,
                    size: 3,
                    mountpoint: "/v/v1/_data".into(),
                },
                DfVolume {
                    name: "v2".into(),
                    links: 0,
                    size: 4,
                    mountpoint: "/v/v2/_data".into(),
                },
            ],
        };
        let [i, c, v] = du.summary();
        assert_eq!((i.total, i.active, i.size, i.reclaimable), (2, 1, 150, 50));
        assert_eq!((c.total, c.active, c.size, c.reclaimable), (1, 0, 7, 7));
        assert_eq!((v.total, v.active, v.size, v.reclaimable), (2, 1, 7, 4));
        assert_eq!(v.kind, "Local Volumes");
    }
}
