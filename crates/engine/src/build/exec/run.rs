//! A `RUN` step: a container made through the engine's own create path (monitor + runtime,
//! the engine's rlimits and seccomp, the build's network) on the step's parent image, its
//! output copied inline, then committed by the caller from its overlay upper dir.
//!
//! The container is the build's working container, as Buildah's are: an external
//! container (in the store, not among the containers `ps -a` and `rm -a` see), named as
//! Buildah names them (`<image>-working-container`, `<12 hex of the parent>-working-container`
//! after a committed step), mounted while it exists, and kept until the build ends (the
//! caller holds its [`BuildContainer`]), so a killed build leaves its working containers
//! as Podman's does: `ps --external` lists them, `rm -f` or `image prune --external`
//! removes them.
//!
//! [`run_create_options`] is the one place a RUN container's request is filled: the typed
//! container spec `run`/`create` and `kube play` fill too.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Engine;
use crate::container::{ContainerSpec, RemoveOptions};
use crate::error::{Error, Result};

/// What a RUN container is made of.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// The parent image's id.
    pub image: String,
    /// What the working container is named after: the stage's base image as the FROM
    /// line names it, or the parent image's id after a committed step.
    pub image_spec: String,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// The image config's user and working directory (empty: the defaults).
    pub user: String,
    pub workdir: String,
    /// Binds and tmpfs (`build --volume`, RUN bind/cache/secret/tmpfs mounts, heredoc
    /// scripts).
    pub mounts: Vec<crate::volume::spec::MountSpec>,
    pub network: crate::network::NetworkMode,
    pub hostname: Option<String>,
    /// The build's `--security-opt`s and `--ulimit`s.
    pub security: crate::container::SecurityFlags,
    /// The build's `--dns`, `--dns-search`, `--dns-option`, `--add-host`.
    pub names: RunNames,
}

/// `/etc/resolv.conf` and `/etc/hosts` choices for RUN containers, as `run` takes them.
#[derive(Debug, Clone, Default)]
pub struct RunNames {
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
}

/// The create request of a RUN container.
pub fn run_create_options(spec: &RunSpec) -> Result<ContainerSpec> {
    Ok(ContainerSpec {
        image: spec.image.clone(),
        command: spec.argv.clone(),
        entrypoint: Some(Vec::new()),
        env: spec.env.clone(),
        user: (!spec.user.is_empty()).then(|| spec.user.clone()),
        workdir: (!spec.workdir.is_empty()).then(|| spec.workdir.clone()),
        mounts: spec.mounts.clone(),
        hostname: spec.hostname.clone(),
        network: crate::network::NetworkSpec {
            mode: spec.network.clone(),
            dns: spec.names.dns.clone(),
            dns_search: spec.names.dns_search.clone(),
            dns_option: spec.names.dns_option.clone(),
            add_host: spec.names.add_host.clone(),
            ..Default::default()
        },
        security: spec.security.clone(),
        ..Default::default()
    })
}

/// A build container; removed (with force) when dropped, whatever happened.
pub struct BuildContainer<'e> {
    engine: &'e Engine,
    pub id: String,
}

impl BuildContainer<'_> {
    /// Its overlay upper dir (the step's changes).
    pub fn upper(&self) -> PathBuf {
        self.engine.paths.container_dir(&self.id).join("upper")
    }
}

impl Drop for BuildContainer<'_> {
    fn drop(&mut self) {
        let opts = RemoveOptions {
            force: true,
            volumes: true,
            timeout: Some(0),
        };
        match self.engine.remove(&self.id, &opts) {
            Ok(_) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => tracing::warn!(id = %self.id, error = %e, "removing a build container"),
        }
    }
}

impl Engine {
    /// Runs one RUN step to its end, its output to `out`/`err`; the container (still there,
    /// for the commit) and its exit code.
    pub(crate) fn run_step(
        &self,
        spec: &RunSpec,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(BuildContainer<'_>, i32)> {
        let c = self.create_working_container(spec)?;
        let guard = BuildContainer {
            engine: self,
            id: c.id().to_string(),
        };
        // Buildah mounts its working container; it stays mounted until removed (one hold,
        // as `mount` takes; no event: it is not one of peapod's containers).
        {
            let _lock = self.lock(&guard.id)?;
            let mut c = self.container(&guard.id)?;
            c.state.user_mounts += 1;
            self.db.update_state(c.id(), &c.state)?;
            let rootfs = self.mount_rootfs(&mut c)?;
            self.db.update_state(c.id(), &c.state)?;
            ensure_workdir(&rootfs, spec)?;
        }
        let started = self.start(&guard.id, true)?;
        if let Some(sock) = &started.socket {
            crate::container::attach::copy_output(sock, out, err)
                .map_err(|e| Error::other(format!("reading the output of RUN: {e}")))?;
        }
        let code = self.wait_exit_code(&started.container)?;
        match self.cleanup(&guard.id, true, false) {
            Ok(()) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => tracing::debug!(error = %e, "cleanup after a RUN step"),
        }
        Ok((guard, code))
    }
}

/// Buildah makes a RUN's working directory when the image lacks it (its run's
/// `copier.Mkdir` of the process's cwd, and imagebuilder's `EnsureContainerPathAs` for the
/// stage's WORKDIR): each missing component 0755, owned by the user the command runs as
/// (resolved in the image; root when it does not resolve). It lands in the step's layer.
fn ensure_workdir(rootfs: &Path, spec: &RunSpec) -> Result<()> {
    if spec.workdir.is_empty() || spec.workdir == "/" {
        return Ok(());
    }
    let dest = super::copy::DestRoot::open(rootfs)?;
    if dest.is_dir(&spec.workdir) {
        return Ok(());
    }
    let read = |f: &str| crate::container::user::read_in_root(rootfs, f).unwrap_or_default();
    let owner =
        crate::container::user::resolve(&spec.user, &read("/etc/passwd"), &read("/etc/group"))
            .map(|u| (u.uid, u.gid))
            .unwrap_or((0, 0));
    dest.make_dir(&spec.workdir, Some(owner))?;
    Ok(())
}

impl Engine {
    /// The RUN container, external, under the first free one of Buildah's names
    /// (`NAME`, `NAME-1`, `NAME-2`, …).
    fn create_working_container(&self, spec: &RunSpec) -> Result<crate::container::Container> {
        let base = working_container_name(&spec.image_spec);
        let mut opts = run_create_options(spec)?;
        for n in 0.. {
            opts.name = Some(if n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            });
            match self.create_container(&opts) {
                Ok(mut c) => {
                    c.config.external = true;
                    if let Err(e) = self.db.update_config(c.id(), &c.config) {
                        let _ = self.remove(
                            c.id(),
                            &RemoveOptions {
                                force: true,
                                volumes: true,
                                timeout: Some(0),
                            },
                        );
                        return Err(e);
                    }
                    return Ok(c);
                }
                Err(Error::NameInUse { .. }) if n < 1000 => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }
}

/// Buildah's name for a working container made from `image_spec` (its
/// `imageNamePrefix`): a digest or an image id shortened to 12 hex digits, then the last
/// path component without tag or digest, then `-working-container`; for scratch,
/// `working-container`.
pub(crate) fn working_container_name(image_spec: &str) -> String {
    if image_spec.is_empty() || image_spec.eq_ignore_ascii_case("scratch") {
        return "working-container".into();
    }
    let mut prefix = image_spec;
    if let Some(hex) = prefix.strip_prefix("sha256:")
        && hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        prefix = &hex[..12];
    }
    if prefix.len() == 64 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        prefix = &prefix[..12];
    }
    let prefix = prefix.split(':').next().unwrap_or(prefix);
    let prefix = prefix.rsplit('/').next().unwrap_or(prefix);
    let prefix = prefix.split('@').next().unwrap_or(prefix);
    format!("{prefix}-working-container")
}

/// Removes from a RUN's upper dir the empty files and directories the runtime made only as
/// mount points (`target`s of binds, secrets, caches and tmpfs that the image did not
/// have), as Buildah does, so they do not end up in the layer. Never follows a symlink:
/// each directory is opened below the upper dir with `O_NOFOLLOW`.
pub(crate) fn prune_mount_targets(upper: &Path, lowers: &[PathBuf], targets: &[String]) {
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::Mode;
    use nix::unistd::{UnlinkatFlags, unlinkat};
    for t in targets {
        let clean = crate::build::go_clean(&format!("/{t}"));
        let comps: Vec<&str> = clean.split('/').filter(|c| !c.is_empty()).collect();
        for depth in (1..=comps.len()).rev() {
            let rel = comps[..depth].join("/");
            if lowers
                .iter()
                .any(|l| std::fs::symlink_metadata(l.join(&rel)).is_ok())
            {
                break;
            }
            // Open the parent below `upper`, refusing symlinks on the way.
            let Ok(mut dir) = std::fs::File::open(upper).map(std::os::fd::OwnedFd::from) else {
                return;
            };
            let mut ok = true;
            for c in &comps[..depth - 1] {
                match openat(
                    &dir,
                    *c,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => dir = fd,
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                break;
            }
            let name = comps[depth - 1];
            let Ok(st) =
                nix::sys::stat::fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            let kind = nix::sys::stat::SFlag::from_bits_truncate(st.st_mode)
                & nix::sys::stat::SFlag::S_IFMT;
            let removed = if kind == nix::sys::stat::SFlag::S_IFDIR {
                unlinkat(&dir, name, UnlinkatFlags::RemoveDir).is_ok() // fails unless empty
            } else if kind == nix::sys::stat::SFlag::S_IFREG && st.st_size == 0 {
                unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir).is_ok()
            } else {
                false
            };
            if !removed {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::working_container_name as name;

    #[test]
    fn working_containers_are_named_as_buildah_names_them() {
        assert_eq!(
            name("quay.io/libpod/testimage:20220615"),
            "testimage-working-container"
        );
        assert_eq!(name("alpine"), "alpine-working-container");
        assert_eq!(
            name(
                "localhost/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            ),
            "b-working-container"
        );
        let id = "89abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567";
        assert_eq!(name(id), "89abcdef0123-working-container");
        assert_eq!(
            name(&format!("sha256:{id}")),
            "89abcdef0123-working-container"
        );
        assert_eq!(name("scratch"), "working-container");
    }
}
