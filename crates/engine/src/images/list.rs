//! `images` / `image list`: each stored image as a report with the facts Podman's
//! `ImageSummary` holds, filtered by libimage's rules ([`crate::filter::ImageFilters`]).
//!
//! An image's parent is the image it was built on directly: its layers are the child's
//! first layers (the child adding at most one) and its history is the child's but the last
//! entry. An image without names is dangling when no image is built on it, intermediate
//! when one is.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::Engine;
use crate::error::{Error, Result};
use crate::filter::{ImageFacts, ImageFilter, ImageFilters};
use crate::state::ImageRecord;

/// One image in a listing: typed facts; the front end renders them.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: String,
    /// The image this one was built on, when it is in the store.
    pub parent_id: Option<String>,
    /// Names (tags and digests).
    pub names: Vec<String>,
    /// Every name it has had, newest first.
    pub names_history: Vec<String>,
    pub digest: String,
    pub repo_digests: Vec<String>,
    pub created: DateTime<Utc>,
    pub size: u64,
    /// How many containers use it (external ones, a build's, included).
    pub containers: usize,
    /// How many of them are external.
    pub external_containers: usize,
    pub labels: BTreeMap<String, String>,
    pub dangling: bool,
    pub intermediate: bool,
    pub read_only: bool,
    /// A manifest list (`manifest create`).
    pub manifest_list: bool,
}

/// What `images` asks for.
#[derive(Debug, Clone, Default)]
pub struct ImageListRequest {
    /// Intermediate images too (`-a`).
    pub all: bool,
    /// `--filter`s, as given.
    pub filters: Vec<String>,
    /// `images NAME`: Podman adds it as `reference=NAME`.
    pub reference: Option<String>,
}

/// Whether `child` is built directly on `parent` (libimage's parent check).
fn is_child(
    parent: &ImageRecord,
    parent_hist: &[String],
    child: &ImageRecord,
    child_hist: &[String],
) -> bool {
    child.id != parent.id
        && child.layers.starts_with(&parent.layers)
        && child.layers.len() <= parent.layers.len() + 1
        && child_hist.len() == parent_hist.len() + 1
        && child_hist.starts_with(parent_hist)
}

impl Engine {
    /// Each image's history entries, reduced to what the parent check compares.
    fn history_keys(&self, images: &[ImageRecord]) -> Vec<Vec<String>> {
        images
            .iter()
            .map(|i| {
                self.image_config(i)
                    .ok()
                    .and_then(|c| c.history().clone())
                    .unwrap_or_default()
                    .iter()
                    .map(|h| {
                        format!(
                            "{}\n{}\n{}",
                            h.created().clone().unwrap_or_default(),
                            h.created_by().clone().unwrap_or_default(),
                            h.comment().clone().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .collect()
    }

    /// The stored image `child` is built directly on, if any, and whether that parent has
    /// other children (libimage's parent check, as `images` uses it).
    pub(crate) fn parent_image(&self, child: &ImageRecord) -> Result<Option<(ImageRecord, bool)>> {
        let images = self.db.images()?;
        let hist = self.history_keys(&images);
        let Some(ci) = images.iter().position(|i| i.id == child.id) else {
            return Ok(None);
        };
        let Some(pi) =
            (0..images.len()).find(|&p| is_child(&images[p], &hist[p], &images[ci], &hist[ci]))
        else {
            return Ok(None);
        };
        let others = (0..images.len())
            .any(|o| o != ci && is_child(&images[pi], &hist[pi], &images[o], &hist[o]));
        Ok(Some((images[pi].clone(), others)))
    }

    /// Every stored image as a summary, newest first, before filtering.
    fn image_summaries(&self) -> Result<Vec<ImageSummary>> {
        let mut images = self.db.images()?;
        images.sort_by_key(|r| std::cmp::Reverse(r.created));
        let hist = self.history_keys(&images);
        let containers = self.db.containers()?;
        let parent_of = |i: usize| {
            (0..images.len())
                .find(|&p| is_child(&images[p], &hist[p], &images[i], &hist[i]))
                .map(|p| images[p].id.clone())
        };
        let parents: Vec<Option<String>> = (0..images.len()).map(parent_of).collect();
        Ok(images
            .iter()
            .zip(&parents)
            .map(|(img, parent_id)| {
                let has_child = parents.iter().any(|p| p.as_deref() == Some(&img.id));
                let labels = self
                    .image_config(img)
                    .ok()
                    .and_then(|c| c.config().clone())
                    .and_then(|c| c.labels().clone())
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                ImageSummary {
                    id: img.id.clone(),
                    parent_id: parent_id.clone(),
                    names: img.names.clone(),
                    names_history: img.names_history.clone(),
                    digest: img.digest().to_string(),
                    repo_digests: img.repo_digests(),
                    created: img.created,
                    size: img.size,
                    containers: containers
                        .iter()
                        .filter(|c| c.config.image_id == img.id)
                        .count(),
                    external_containers: containers
                        .iter()
                        .filter(|c| c.config.external && c.config.image_id == img.id)
                        .count(),
                    labels,
                    dangling: img.names.is_empty() && !has_child,
                    intermediate: img.names.is_empty() && has_child,
                    read_only: false,
                    manifest_list: crate::manifest::is_list(img),
                }
            })
            .collect())
    }

    /// Parses image `--filter`s; `after`/`since`/`before` name local images.
    pub fn image_filters(&self, filters: &[String]) -> Result<ImageFilters> {
        ImageFilters::parse(filters, &|r| {
            self.resolve_image(r).map(|i| (i.id, i.created))
        })
    }

    /// The images that pass `filters`, newest first.
    pub fn filter_images(&self, filters: &ImageFilters) -> Result<Vec<ImageSummary>> {
        let mut list = self.image_summaries()?;
        list.retain(|s| filters.matches(&facts(s)));
        Ok(list)
    }

    /// `images`: intermediate images only with `all` (or `intermediate=true`), as Podman.
    pub fn list_images(&self, req: &ImageListRequest) -> Result<Vec<ImageSummary>> {
        let mut filters = req.filters.clone();
        if let Some(r) = &req.reference {
            filters.push(format!("reference={r}"));
        }
        let mut filters = self.image_filters(&filters)?;
        if !req.all && !filters.has("intermediate") {
            filters.push("intermediate", ImageFilter::Intermediate(false), false);
        }
        self.filter_images(&filters)
    }

    /// `image prune`'s `--filter`s: checked for their form with prune's own message first.
    pub fn image_prune_filters(&self, filters: &[String]) -> Result<ImageFilters> {
        if let Some(f) = filters.iter().find(|f| !f.contains('=')) {
            return Err(Error::invalid(format!(
                "filter input must be in the form of filter=value: {f} is invalid"
            )));
        }
        self.image_filters(filters)
    }

    /// `image prune`: removes unused dangling images (`all`: every unused image) that match
    /// `filters`, until none is left; returns what each was (id, names, size) in removal
    /// order.
    pub fn prune_images(&self, all: bool, filters: &ImageFilters) -> Result<Vec<ImageSummary>> {
        self.prune_images_with(all, filters, false)
    }

    /// [`Engine::prune_images`]; with `external` (`--external`), images used only by
    /// external containers (a build's working containers) go too, those containers first,
    /// as libimage's `RemoveImages` with `ExternalContainers` removes them.
    pub fn prune_images_with(
        &self,
        all: bool,
        filters: &ImageFilters,
        external: bool,
    ) -> Result<Vec<ImageSummary>> {
        let mut wanted = filters.clone();
        let unused = if external {
            crate::filter::ContainersValue::External
        } else {
            crate::filter::ContainersValue::False
        };
        // Keys of their own, so that they AND with the user's.
        wanted.push("\0unused", ImageFilter::Containers(unused), false);
        if !all {
            wanted.push("\0dangling", ImageFilter::Dangling(true), false);
        }
        let mut removed = Vec::new();
        loop {
            let round = self.filter_images(&wanted)?;
            if round.is_empty() {
                return Ok(removed);
            }
            let mut progress = false;
            for img in round {
                if img.external_containers > 0 {
                    self.remove_external_users(&img.id)?;
                }
                for n in &img.names {
                    self.db.untag_image(n)?;
                    self.emit_image("untag", &img.id, n);
                }
                match self.remove_image(&img.id, false) {
                    Ok(_) => {
                        removed.push(img);
                        progress = true;
                    }
                    Err(Error::NoSuchImage(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if !progress {
                return Ok(removed);
            }
        }
    }
}

fn facts(s: &ImageSummary) -> ImageFacts<'_> {
    ImageFacts {
        id: &s.id,
        names: &s.names,
        created: s.created,
        labels: &s.labels,
        containers: s.containers,
        external_containers: s.external_containers,
        has_child: s.intermediate,
        manifest_list: s.manifest_list,
    }
}

impl Engine {
    /// Removes (forced, at once) the external containers that use image `id`.
    fn remove_external_users(&self, id: &str) -> Result<()> {
        let opts = crate::container::RemoveOptions {
            force: true,
            volumes: true,
            timeout: Some(0),
        };
        for c in self.external_containers()? {
            if c.config.image_id == id {
                match self.remove(c.id(), &opts) {
                    Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}
