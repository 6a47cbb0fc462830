//! Overlay mounts a build needs besides its RUN containers: a writable view of a step's
//! parent for COPY/ADD (its upper dir becomes the step's layer), and read-only views of a
//! stage's or an image's rootfs for `COPY --from` and `RUN --mount=from=`. Each lives in a
//! scratch directory under the store's `tmp` and is unmounted and removed when dropped.

use std::path::{Path, PathBuf};

use crate::Engine;
use crate::error::{Error, Result};
use crate::state::ImageRecord;

pub struct View {
    dir: PathBuf,
    pub merged: PathBuf,
    pub upper: PathBuf,
    mounted: bool,
}

impl View {
    fn scratch(engine: &Engine) -> Result<PathBuf> {
        let tmp = engine.paths.root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        let dir = tmp.join(format!("build-{:016x}", rand::random::<u64>()));
        std::fs::create_dir(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        Ok(dir)
    }

    /// A writable overlay on `image`'s layers (none: an empty tree).
    pub fn writable(engine: &Engine, image: Option<&ImageRecord>) -> Result<View> {
        let dir = Self::scratch(engine)?;
        let mut v = View {
            merged: dir.join("merged"),
            upper: dir.join("upper"),
            dir,
            mounted: false,
        };
        let work = v.dir.join("work");
        for d in [&v.merged, &v.upper, &work] {
            std::fs::create_dir(d).map_err(|e| Error::io("creating", d, e))?;
        }
        let lowers = match image {
            Some(i) => engine.layer_dirs(i)?,
            None => Vec::new(),
        };
        engine
            .overlay()
            .mount(&lowers, &v.upper, &work, &v.merged)?;
        v.mounted = true;
        Ok(v)
    }

    /// A writable overlay on a directory of the host (a `RUN --mount=type=bind,rw`): what
    /// the step writes lands in the view's upper dir and is dropped with it; `dir` itself
    /// never changes.
    pub fn writable_over(engine: &Engine, dir: &Path) -> Result<View> {
        let scratch = Self::scratch(engine)?;
        let mut v = View {
            merged: scratch.join("merged"),
            upper: scratch.join("upper"),
            dir: scratch,
            mounted: false,
        };
        let work = v.dir.join("work");
        for d in [&v.merged, &v.upper, &work] {
            std::fs::create_dir(d).map_err(|e| Error::io("creating", d, e))?;
        }
        engine
            .overlay()
            .mount(&[dir.to_path_buf()], &v.upper, &work, &v.merged)?;
        v.mounted = true;
        Ok(v)
    }

    /// A private copy of one host file (a `rw` bind of a file): the step may change the
    /// copy, never the file.
    pub fn file_copy(engine: &Engine, file: &Path) -> Result<(View, PathBuf)> {
        let scratch = Self::scratch(engine)?;
        let v = View {
            merged: scratch.join("merged"),
            upper: scratch.join("upper"),
            dir: scratch,
            mounted: false,
        };
        let copy = v.dir.join("file");
        std::fs::copy(file, &copy).map_err(|e| Error::io("copying", file, e))?;
        Ok((v, copy))
    }

    /// A read-only view of `image`'s rootfs.
    pub fn read_only(engine: &Engine, image: Option<&ImageRecord>) -> Result<View> {
        let dir = Self::scratch(engine)?;
        let mut v = View {
            merged: dir.join("merged"),
            upper: dir.join("upper"),
            dir,
            mounted: false,
        };
        std::fs::create_dir(&v.merged).map_err(|e| Error::io("creating", &v.merged, e))?;
        let lowers = match image {
            Some(i) => engine.layer_dirs(i)?,
            None => Vec::new(),
        };
        if lowers.is_empty() {
            return Ok(v); // an empty tree: the empty directory itself
        }
        engine
            .overlay()
            .mount_ro(&lowers, &v.dir.join("empty"), &v.merged)?;
        v.mounted = true;
        Ok(v)
    }

    pub fn root(&self) -> &Path {
        &self.merged
    }

    /// Unmounts now (the upper dir stays for the commit).
    pub fn unmount(&mut self) -> Result<()> {
        if self.mounted {
            crate::layer::unmount(&self.merged)?;
            self.mounted = false;
        }
        Ok(())
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Err(e) = self.unmount() {
            tracing::warn!(path = %self.merged.display(), error = %e, "unmounting a build view");
            return; // never remove through a mount
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(path = %self.dir.display(), error = %e, "removing a build view");
        }
    }
}
