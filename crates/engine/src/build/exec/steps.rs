//! The steps that touch the filesystem: RUN (a container) and COPY/ADD (an overlay view).

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::Digest as _;

use super::Build;
use super::copy::{self, Attrs, DestRoot, SourceRoot};
use super::image::{NewStep, StepImage};
use super::run::RunSpec;
use super::stage::StageState;
use super::stage_ref;
use super::view::View;
use crate::build::cache::{ContentDigest, content_summary, digest_data, digest_path};
use crate::build::ignore::Matcher;
use crate::build::parse::{
    Instruction, InstructionKind, Mount, MountType, NetworkMode, Run, SCRIPT_DIR,
};
use crate::error::{Error, Result};
use crate::volume::spec::MountSpec;

/// A COPY/ADD with its sources resolved and digested (before the cache lookup).
pub(super) struct PreparedCopy {
    /// Where the sources are read from (kept mounted until the copy is done).
    source: CopySource,
    sources: Vec<copy::Resolved>,
    /// ADD: downloaded URLs, as (file name, local file, mtime).
    downloads: Vec<(String, PathBuf, i64)>,
    pub content: String,
    pub from_context: bool,
    _tmp: Option<TempDir>,
}

enum CopySource {
    Context,
    View(View),
}

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Build<'_, '_> {
    fn source_view(&self, st: &StageState, from: &str) -> Result<View> {
        if let Some(j) = stage_ref(&self.cf, from, st.index) {
            let img = self.stages[j]
                .clone()
                .ok_or_else(|| Error::other(format!("stage {from:?} was not built")))?;
            return View::read_only(self.engine, img.record.as_ref());
        }
        if self.cf.stage_index(from).is_some() {
            return Err(Error::invalid(format!(
                "COPY --from={from}: the stage is not before this one"
            )));
        }
        let img = self.image_by_ref(from)?;
        View::read_only(self.engine, img.record.as_ref())
    }

    /// Resolves and digests the sources of a COPY/ADD.
    pub(super) fn prepare_copy(&self, st: &StageState, ins: &Instruction) -> Result<PreparedCopy> {
        let (sources, from, is_add) = match &ins.kind {
            InstructionKind::Copy(c) => (&c.sources, c.from.clone(), false),
            InstructionKind::Add(a) => (&a.sources, None, true),
            _ => unreachable!("prepare_copy of a COPY or ADD"),
        };
        let source = match &from {
            Some(f) => CopySource::View(self.source_view(st, f)?),
            None => CopySource::Context,
        };
        let empty = Matcher::default();
        let (root, matcher): (&Path, &Matcher) = match &source {
            CopySource::Context => (&self.opts.context, &self.ignore.matcher),
            CopySource::View(v) => (v.root(), &empty),
        };
        let mut local = Vec::new();
        let mut urls = Vec::new();
        for p in &sources.paths {
            if p.starts_with("http://") || p.starts_with("https://") {
                if !is_add {
                    return Err(Error::invalid(format!(
                        "{}: source can't be a URL for COPY",
                        ins.code()
                    )));
                }
                urls.push(p.clone());
            } else {
                local.push(p.clone());
            }
        }
        let src = SourceRoot {
            root,
            matcher,
            is_context: from.is_none(),
        };
        let resolved = copy::resolve_sources(&src, &local)?;
        let mut parts: Vec<ContentDigest> = Vec::new();
        for r in &resolved {
            if let Some(d) = digest_path(root, &r.rel, matcher)? {
                parts.push(d);
            }
        }
        for s in &sources.inline {
            parts.push(digest_data(&s.name, s.data.as_bytes()));
        }
        let mut downloads = Vec::new();
        let mut tmp = None;
        if !urls.is_empty() {
            let dir = self
                .engine
                .paths
                .root
                .join("tmp")
                .join(format!("build-add-{:016x}", rand::random::<u64>()));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
            let guard = TempDir(dir.clone());
            for u in &urls {
                let d = super::fetch::get(u)?;
                let path = dir.join(format!("{}", downloads.len()));
                std::fs::write(&path, &d.data).map_err(|e| Error::io("writing", &path, e))?;
                parts.push(digest_data(&format!("{u} {} {}", d.name, d.mtime), &d.data));
                downloads.push((d.name, path, d.mtime));
            }
            tmp = Some(guard);
        }
        Ok(PreparedCopy {
            content: content_summary(&parts),
            from_context: from.is_none(),
            sources: resolved,
            downloads,
            source,
            _tmp: tmp,
        })
    }

    /// Runs a COPY/ADD on a writable view of the parent; the new image.
    pub(super) fn exec_copy(
        &self,
        st: &StageState,
        ins: &Instruction,
        prepared: PreparedCopy,
        config: Value,
        created_by: String,
    ) -> Result<StepImage> {
        let (sources, chown, chmod, add_unpack) = match &ins.kind {
            InstructionKind::Copy(c) => (&c.sources, &c.chown, &c.chmod, None),
            InstructionKind::Add(a) => (
                &a.sources,
                &a.chown,
                &a.chmod,
                Some(a.unpack.unwrap_or(true)),
            ),
            _ => unreachable!("exec_copy of a COPY or ADD"),
        };
        let mut view = View::writable(self.engine, st.image.record.as_ref())?;
        let attrs = Attrs {
            chown: chown
                .as_deref()
                .map(|c| resolve_chown(view.root(), c))
                .transpose()?,
            chmod: chmod
                .as_deref()
                .map(|m| {
                    u32::from_str_radix(m, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| {
                            Error::invalid(format!("invalid chmod {m:?}: not an octal mode"))
                        })
                })
                .transpose()?,
        };
        let workdir = st.image.cfg_str("WorkingDir");
        let (dest, wants_dir) = copy::absolute_dest(&sources.dest, &workdir);
        let count = prepared.sources.len() + sources.inline.len() + prepared.downloads.len();
        if count > 1 && !wants_dir && !DestRoot::open(view.root())?.is_dir(&dest) {
            return Err(Error::invalid(format!(
                "{}: when using COPY with more than one source file, the destination must be a directory and end with a /",
                ins.code()
            )));
        }
        {
            let to = DestRoot::open(view.root())?;
            let empty = Matcher::default();
            let (root, matcher): (&Path, &Matcher) = match &prepared.source {
                CopySource::Context => (&self.opts.context, &self.ignore.matcher),
                CopySource::View(v) => (v.root(), &empty),
            };
            let src = SourceRoot {
                root,
                matcher,
                is_context: prepared.from_context,
            };
            let mut plain = Vec::new();
            for s in &prepared.sources {
                let path = root.join(&s.rel);
                if add_unpack == Some(true) && path.is_file() && copy::is_archive(&path) {
                    copy::extract_archive(&to, &path, &dest, &attrs)?;
                } else {
                    plain.push(s.clone());
                }
            }
            copy::copy_sources(&to, &src, &plain, &dest, wants_dir || count > 1, &attrs)?;
            for s in &sources.inline {
                copy::write_inline(
                    &to,
                    &s.name,
                    s.data.as_bytes(),
                    &dest,
                    wants_dir || count > 1,
                    &attrs,
                )?;
            }
            for (name, path, mtime) in &prepared.downloads {
                // Buildah's getURL: mode 0600 unless --chmod, the mtime of Last-Modified,
                // and never unpacked.
                let data = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
                let a = Attrs {
                    chmod: attrs.chmod.or(Some(0o600)),
                    ..attrs
                };
                let fd = copy::write_inline(&to, name, &data, &dest, wants_dir || count > 1, &a)?;
                let t = nix::sys::time::TimeSpec::new(*mtime, 0);
                nix::sys::stat::futimens(&fd, &t, &t)
                    .map_err(|e| Error::io("setting the times of", name, e.into()))?;
            }
        }
        drop(prepared);
        view.unmount()?;
        self.engine.store_step(NewStep {
            parent: &st.image,
            config,
            created_by,
            upper: Some(&view.upper),
            format: self.opts.format,
            created: self.created(),
            file_time: self.opts.timestamp,
            comment: None,
        })
    }

    /// A digest of what a `RUN --mount=type=bind` shows (it changes the result).
    pub(super) fn bind_mount_digest(&self, st: &StageState, m: &Mount) -> Result<Option<String>> {
        if m.kind != MountType::Bind {
            return Ok(None);
        }
        let rel = crate::build::go_clean(&format!("/{}", m.source.as_deref().unwrap_or("")));
        let rel = rel.trim_start_matches('/').to_string();
        let d = match &m.from {
            Some(f) => {
                let v = self.source_view(st, f)?;
                digest_path(v.root(), &rel, &Matcher::default())?
            }
            None => digest_path(&self.opts.context, &rel, &self.ignore.matcher)?,
        };
        Ok(Some(d.map(|d| d.to_string()).unwrap_or_default()))
    }

    /// Runs a RUN step in a container; the new image.
    pub(super) fn exec_run(
        &self,
        st: &StageState,
        written: &Instruction,
        run: &Run,
        config: Value,
        created_by: String,
    ) -> Result<StepImage> {
        let rec = st.image.record.clone().ok_or_else(|| {
            Error::invalid(format!(
                "{}: there is nothing to run in an empty (scratch) image",
                written.code()
            ))
        })?;
        let argv = run
            .argv(&st.shell)
            .map_err(|m| Error::invalid(format!("{}: {m}", written.code())))?;
        let image_spec = if st.base.1.as_deref() == Some(rec.id.as_str()) {
            st.base.0.clone()
        } else {
            rec.id.clone()
        };
        let mut spec = RunSpec {
            image: rec.id.clone(),
            image_spec,
            argv: argv.args,
            env: st.scope.run_env(&self.build_args),
            user: st.image.cfg_str("User"),
            workdir: st.image.cfg_str("WorkingDir"),
            mounts: self
                .opts
                .volumes
                .iter()
                .map(|v| crate::volume::spec::parse_volume_flag(v))
                .collect::<Result<_>>()?,
            network: match run.network {
                NetworkMode::None => crate::network::NetworkMode::None,
                NetworkMode::Host => crate::network::NetworkMode::Host,
                NetworkMode::Default => self.opts.network.clone(),
            },
            security: self.opts.security.clone(),
            names: self.opts.names.clone(),
            ..Default::default()
        };
        let scratch = self
            .engine
            .paths
            .root
            .join("tmp")
            .join(format!("build-run-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&scratch).map_err(|e| Error::io("creating", &scratch, e))?;
        let _tmp = TempDir(scratch.clone());
        if let Some((name, body)) = &argv.script {
            let path = scratch.join(name);
            std::fs::write(&path, body).map_err(|e| Error::io("writing", &path, e))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io("chmod", &path, e))?;
            spec.mounts
                .push(bind_ro(&path, &format!("{SCRIPT_DIR}{name}"), true)?);
        }
        let mut views = Vec::new();
        for m in &run.mounts {
            self.run_mount(st, m, &mut spec, &mut views)?;
        }
        let (container, code) = {
            let mut out = self.output.out.lock().unwrap_or_else(|e| e.into_inner());
            let mut err = self.output.err.lock().unwrap_or_else(|e| e.into_inner());
            let mut sink = std::io::sink();
            let out: &mut dyn std::io::Write = if self.opts.quiet {
                &mut sink
            } else {
                &mut **out
            };
            match self.engine.run_step(&spec, out, &mut **err) {
                Ok(r) => r,
                // The runtime refused to run the step (e.g. a bad `--runtime-flag`): Buildah
                // reports the runtime's exit status, 1.
                Err(Error::Runtime(m)) => {
                    return Err(runtime_refused(written, &m));
                }
                Err(Error::Command { message, code })
                    if code == crate::error::exit::CANNOT_INVOKE
                        && message.starts_with("OCI runtime error: ") =>
                {
                    let m = message.trim_start_matches("OCI runtime error: ");
                    return Err(runtime_refused(written, m));
                }
                Err(e) => return Err(e),
            }
        };
        drop(views);
        let targets: Vec<String> = spec.mounts.iter().map(|m| m.destination.clone()).collect();
        super::run::prune_mount_targets(
            &container.upper(),
            &self.engine.layer_dirs(&rec)?,
            &targets,
        );
        if code != 0 {
            return Err(Error::Command {
                message: format!(
                    "building at STEP \"{}\": while running runtime: exit status {code}",
                    written.code()
                ),
                code,
            });
        }
        let made = self.engine.store_step(NewStep {
            parent: &st.image,
            config,
            created_by,
            upper: Some(&container.upper()),
            format: self.opts.format,
            created: self.created(),
            file_time: self.opts.timestamp,
            comment: None,
        });
        self.working.borrow_mut().push(container);
        made
    }

    /// One `RUN --mount` as a bind or tmpfs of the RUN container.
    fn run_mount(
        &self,
        st: &StageState,
        m: &Mount,
        spec: &mut RunSpec,
        views: &mut Vec<View>,
    ) -> Result<()> {
        let target = m.target.clone().unwrap_or_default();
        match m.kind {
            MountType::Tmpfs => spec.mounts.push(MountSpec::new(
                crate::volume::spec::MountKind::Tmpfs,
                "",
                &target,
                false,
            )?),
            MountType::Bind => {
                let rel =
                    crate::build::go_clean(&format!("/{}", m.source.as_deref().unwrap_or("")));
                let root = match &m.from {
                    Some(f) => {
                        let v = self.source_view(st, f)?;
                        let r = v.root().to_path_buf();
                        views.push(v);
                        r
                    }
                    None => self.opts.context.clone(),
                };
                let rel = rel.trim_start_matches('/');
                copy::resolve_sources(
                    &SourceRoot {
                        root: &root,
                        matcher: &Matcher::default(),
                        is_context: m.from.is_none(),
                    },
                    &[rel.to_string()],
                )?;
                let src = if rel.is_empty() { root } else { root.join(rel) };
                if m.readonly {
                    spec.mounts.push(bind_ro(&src, &target, true)?);
                } else {
                    // `rw`, BuildKit's way: writable in the step, the writes dropped after
                    // it; the context (or the stage) never changes.
                    let (view, path) = if src.is_dir() {
                        let v = View::writable_over(self.engine, &src)?;
                        let p = v.root().to_path_buf();
                        (v, p)
                    } else {
                        View::file_copy(self.engine, &src)?
                    };
                    spec.mounts.push(bind_ro(&path, &target, false)?);
                    // First in line: dropped (unmounted) before the stage view below it.
                    views.insert(0, view);
                }
            }
            MountType::Cache => {
                let id = m.id.clone().unwrap_or_else(|| target.clone());
                let dir = self
                    .engine
                    .paths
                    .root
                    .join("build-cache-mounts")
                    .join(hex::encode(sha2::Sha256::digest(id.as_bytes())));
                if !dir.exists() {
                    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
                    use std::os::unix::fs::PermissionsExt;
                    let mode = m.mode.unwrap_or(0o755);
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                        .map_err(|e| Error::io("chmod", &dir, e))?;
                    std::os::unix::fs::chown(
                        &dir,
                        Some(m.uid.unwrap_or(0)),
                        Some(m.gid.unwrap_or(0)),
                    )
                    .map_err(|e| Error::io("chown", &dir, e))?;
                }
                spec.mounts.push(bind_ro(&dir, &target, m.readonly)?);
            }
            MountType::Secret => {
                let id = m.id.clone().unwrap_or_else(|| {
                    Path::new(&target)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                });
                let Some((_, src)) = self.opts.secrets.iter().find(|(i, _)| *i == id) else {
                    if m.required {
                        return Err(Error::invalid(format!(
                            "secret {id:?}: no --secret with this id"
                        )));
                    }
                    return Ok(());
                };
                let target = if target.is_empty() {
                    format!("/run/secrets/{id}")
                } else {
                    target
                };
                spec.mounts.push(bind_ro(src, &target, true)?);
            }
            MountType::Ssh => {
                return Err(Error::invalid("RUN --mount=type=ssh is not supported"));
            }
        }
        Ok(())
    }
}

/// A RUN the runtime refused to start (a bad `--runtime-flag`, say): Buildah reports the
/// runtime's exit status, 1.
fn runtime_refused(written: &Instruction, message: &str) -> Error {
    Error::Command {
        message: format!(
            "building at STEP \"{}\": while running runtime: {message}: exit status 1",
            written.code()
        ),
        code: 1,
    }
}

/// `--chown=user[:group]` resolved against the rootfs's passwd and group.
fn resolve_chown(root: &Path, spec: &str) -> Result<(u32, u32)> {
    let passwd = crate::container::user::read_in_root(root, "/etc/passwd").unwrap_or_default();
    let group = crate::container::user::read_in_root(root, "/etc/group").unwrap_or_default();
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = crate::container::user::resolve(u, &passwd, &group)
        .map_err(|e| Error::invalid(format!("--chown={spec}: {e}")))?;
    let gid = match g {
        None => user.gid,
        Some(g) if g.chars().all(|c| c.is_ascii_digit()) => g.parse().unwrap_or(0),
        Some(g) => group
            .lines()
            .find_map(|l| {
                let mut f = l.split(':');
                (f.next() == Some(g)).then(|| f.nth(1).and_then(|x| x.parse().ok()))?
            })
            .ok_or_else(|| {
                Error::invalid(format!("--chown={spec}: no group {g:?} in the image"))
            })?,
    };
    Ok((user.uid, gid))
}

/// A bind of a host path into a RUN container.
fn bind_ro(src: &Path, target: &str, read_only: bool) -> Result<MountSpec> {
    let src = src
        .to_str()
        .ok_or_else(|| Error::invalid(format!("{}: not a UTF-8 path", src.display())))?;
    MountSpec::new(crate::volume::spec::MountKind::Bind, src, target, read_only)
}
