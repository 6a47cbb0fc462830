//! The executor: runs a parsed Containerfile into images, Podman's way (`--layers`: one
//! image per step, reused by the cache), with Podman's output.
//!
//! [`Engine::build`] takes a [`BuildOptions`] (plain values; the CLI fills it) and a
//! [`BuildOutput`] (where the `STEP` lines, RUN output and pull progress go). Only the
//! stages the target needs run. Each step is keyed by [`crate::build::cache::CacheKey`]
//! (never wrong: content, build args, heredoc bodies, ignore rules are in it); its image is
//! kept nameless, so a later build finds it.

mod copy;
pub(crate) mod fetch;
mod image;
mod run;
mod squash;
mod stage;
mod steps;
mod view;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub use image::StepImage;
pub use run::{RunNames, RunSpec, run_create_options};

use crate::Engine;
use crate::build::expand::{
    BuildArgs, GlobalArgs, Platform, builtin_args, unused_build_args, unused_warning,
};
use crate::build::ignore::Ignore;
use crate::build::parse::{Containerfile, InstructionKind};
use crate::container::CommitFormat;
use crate::error::{Error, Result};
use crate::image::registry::{ProgressSink, PullOptions};
use crate::registry::PullPolicy;

/// A build request, as plain values.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    /// The Containerfile(s), as paths on the host; the first names the build in messages.
    pub containerfiles: Vec<PathBuf>,
    /// `-t` names, as given.
    pub tags: Vec<String>,
    pub build_args: Vec<(String, String)>,
    pub no_cache: bool,
    /// `--layers` (Podman's default: true).
    pub layers: bool,
    pub pull: PullPolicy,
    /// Platform, TLS and credentials for pulls of base images.
    pub pull_template: PullOptions,
    pub target: Option<String>,
    pub format: CommitFormat,
    /// `--label K=V` and `--annotation K=V` for the final image.
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
    pub squash: bool,
    pub squash_all: bool,
    /// `--network` for RUN steps.
    pub network: crate::network::NetworkMode,
    /// `--volume` binds for RUN steps.
    pub volumes: Vec<String>,
    /// `--secret id=…,src=…`: id and file.
    pub secrets: Vec<(String, PathBuf)>,
    pub ignorefile: Option<PathBuf>,
    /// `--timestamp`: seconds since the epoch for the created times.
    pub timestamp: Option<i64>,
    /// `--env K=V` / `--unsetenv K` for the images' config.
    pub env: Vec<String>,
    pub unsetenv: Vec<String>,
    /// `-q`: only the id.
    pub quiet: bool,
    /// `--security-opt` (seccomp, apparmor, label, no-new-privileges) and `--ulimit` for
    /// RUN steps.
    pub security: crate::container::SecurityFlags,
    /// `--dns`, `--dns-search`, `--dns-option`, `--add-host` for RUN steps.
    pub names: run::RunNames,
}

/// Where a build's output goes: stdout for the `STEP` lines and RUN's stdout, stderr for
/// warnings, RUN's stderr and the pull progress.
pub struct BuildOutput<'a> {
    pub out: Mutex<Box<dyn Write + Send + 'a>>,
    pub err: Mutex<Box<dyn Write + Send + 'a>>,
    pub progress: &'a dyn ProgressSink,
    pub quiet: bool,
}

impl BuildOutput<'_> {
    /// A line of the build's own output (`STEP …`, `--> …`), unless quiet.
    pub fn line(&self, s: &str) {
        if self.quiet {
            return;
        }
        let mut o = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(o, "{s}");
        let _ = o.flush();
    }

    /// A warning on stderr (shown even when quiet, as Podman does).
    pub fn warn(&self, s: &str) {
        let mut e = self.err.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(e, "{s}");
    }
}

/// What a build made.
#[derive(Debug, Clone)]
pub struct BuildResult {
    /// The final image's id (64 hex).
    pub id: String,
    /// The names it was tagged with.
    pub names: Vec<String>,
}

/// A build in progress: the request, the parsed file and its scopes.
pub(crate) struct Build<'a, 'o> {
    pub engine: &'a Engine,
    pub opts: &'a BuildOptions,
    pub cf: Containerfile,
    pub global: GlobalArgs,
    pub build_args: BuildArgs,
    pub ignore: Ignore,
    pub output: &'a BuildOutput<'o>,
    /// Final images of the stages run so far.
    pub stages: Vec<Option<StepImage>>,
    /// Intermediate images made with `--layers=false` (removed at the end).
    pub made: Vec<String>,
    /// The number of layers of each stage's FROM image (what `--squash` keeps).
    pub base_layers: Vec<usize>,
    /// The RUN steps' working containers, removed when the build ends (and only then, as
    /// Buildah keeps its working containers until the end of the stage: a killed build
    /// leaves them).
    pub working: std::cell::RefCell<Vec<run::BuildContainer<'a>>>,
}

impl Engine {
    /// `build`: runs the Containerfile; the final image.
    pub fn build(&self, opts: &BuildOptions, output: &BuildOutput<'_>) -> Result<BuildResult> {
        if !opts.context.is_dir() {
            return Err(Error::invalid(format!(
                "context directory {:?} does not exist or is not a directory",
                opts.context.display().to_string()
            )));
        }
        // Bad `--ulimit`s are refused before anything runs.
        crate::container::ulimit::plan(&opts.security.ulimits, &[])?;
        let cf = read_containerfiles(&opts.containerfiles)?;
        cf.check_supported()?;
        for w in &cf.warnings {
            output.warn(&format!("[Warning] {w}"));
        }
        let build_args = BuildArgs::new(opts.build_args.iter().cloned());
        let target = cf.target(opts.target.as_deref())?;
        let host = Platform::host();
        let builtins = builtin_args(&host, &host, cf.stages[target].name.as_deref(), &build_args);
        let global = GlobalArgs::resolve(&cf, builtins, &build_args)?;
        let ignore = Ignore::load(
            &opts.context,
            &opts.containerfiles,
            opts.ignorefile.as_deref(),
        )?;
        let tags = opts
            .tags
            .iter()
            .map(|t| crate::image::normalize(t).map_err(Error::from))
            .collect::<Result<Vec<_>>>()?;
        let needed = needed_stages(&cf, &global, target)?;
        let n = cf.stages.len();
        let mut b = Build {
            engine: self,
            opts,
            global,
            build_args,
            ignore,
            output,
            stages: vec![None; n],
            made: Vec::new(),
            base_layers: vec![0; n],
            working: std::cell::RefCell::new(Vec::new()),
            cf,
        };
        if let Some(w) = unused_warning(&unused_build_args(&b.cf, &b.build_args)) {
            output.warn(&w);
        }
        let result = b.run_stages(&needed, target, &tags);
        // The working containers go first: an intermediate image they use could not.
        b.working.borrow_mut().clear();
        b.drop_intermediates(result.as_ref().ok().map(|r| r.id.as_str()));
        if let Ok(r) = &result {
            self.emit_image("build", &r.id, r.names.first().map_or("", String::as_str));
        }
        result
    }
}

impl Build<'_, '_> {
    fn run_stages(
        &mut self,
        needed: &BTreeSet<usize>,
        target: usize,
        tags: &[String],
    ) -> Result<BuildResult> {
        for &i in needed {
            let last = i == target;
            let img = self.run_stage(i, last, tags)?;
            self.stages[i] = Some(img);
            if last {
                break;
            }
        }
        let img = self.stages[target]
            .clone()
            .ok_or_else(|| Error::other("the target stage did not run"))?;
        let mut img = img;
        if img.record.is_none() {
            img = self.commit_bare(&img)?;
        }
        let img = self.squash(img, self.base_layers[target])?;
        self.annotate(&img)?;
        let rec = img.record.as_ref().expect("a committed image");
        for t in tags {
            self.engine.db.tag_image(&rec.id, t)?;
        }
        let short = &rec.id[..11.min(rec.id.len())];
        self.output.line(&format!("--> {short}"));
        for t in tags {
            self.output.line(&format!("Successfully tagged {t}"));
        }
        Ok(BuildResult {
            id: rec.id.clone(),
            names: tags.to_vec(),
        })
    }

    /// With `--layers=false`, the images of the steps are not kept: remove all but the
    /// final one.
    fn drop_intermediates(&mut self, keep: Option<&str>) {
        for id in std::mem::take(&mut self.made).into_iter().rev() {
            if Some(id.as_str()) == keep {
                continue;
            }
            if let Err(e) = self.engine.remove_image(&id, false) {
                tracing::debug!(id, error = %e, "removing an intermediate image");
            }
        }
    }

    /// The `[i/k] ` prefix of a multi-stage build's lines.
    pub fn prefix(&self, stage: usize) -> String {
        if self.cf.stages.len() > 1 {
            format!("[{}/{}] ", stage + 1, self.cf.stages.len())
        } else {
            String::new()
        }
    }
}

/// Reads and parses the Containerfiles (several are joined, as Podman does).
fn read_containerfiles(files: &[PathBuf]) -> Result<Containerfile> {
    let first = files
        .first()
        .ok_or_else(|| Error::invalid("no Containerfile or Dockerfile specified"))?;
    let mut text = String::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| Error::io("reading", f, e))?;
        text.push_str(&String::from_utf8_lossy(&bytes));
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    let name = first.display().to_string();
    Ok(crate::build::parse::parse(&name, &text)?)
}

/// The stages the target needs (itself, the stages its bases, `COPY --from` and
/// `RUN --mount=from=` name), in order.
fn needed_stages(
    cf: &Containerfile,
    global: &GlobalArgs,
    target: usize,
) -> Result<BTreeSet<usize>> {
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let stage = &cf.stages[i];
        let (base, _) = global.expand_from(stage)?;
        let mut refs = vec![base];
        for ins in &stage.instructions {
            match &ins.kind {
                InstructionKind::Copy(c) => refs.extend(c.from.clone()),
                InstructionKind::Run(r) => {
                    refs.extend(r.mounts.iter().filter_map(|m| m.from.clone()))
                }
                _ => {}
            }
        }
        for r in refs {
            if let Some(j) = stage_ref(cf, &r, i) {
                todo.push(j);
            }
        }
    }
    Ok(needed)
}

/// The earlier stage `name` names (a stage name or index), seen from stage `current`.
pub(crate) fn stage_ref(cf: &Containerfile, name: &str, current: usize) -> Option<usize> {
    if let Ok(n) = name.parse::<usize>() {
        return (n < current).then_some(n);
    }
    cf.stage_index(name).filter(|&j| j < current)
}
