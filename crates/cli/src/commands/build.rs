//! `build` (also `image build`, `buildx build`): Podman's flags into a
//! [`BuildOptions`]; the `STEP` lines and RUN output on stdout, pulls and warnings on
//! stderr, the new image's id last.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Args;
use peapod_engine::Engine;
use peapod_engine::build::{BuildOptions, BuildOutput};
use peapod_engine::container::CommitFormat;
use peapod_engine::image::registry::Platform;
use peapod_engine::registry::PullPolicy;

use super::registry::{PullFlags, sink};
use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Pathname or URL of a Dockerfile (`-` reads it from stdin)
    #[arg(short = 'f', long = "file")]
    pub file: Vec<String>,
    /// Tagged name to apply to the built image
    #[arg(short = 't', long = "tag")]
    pub tag: Vec<String>,
    /// Argument=value for the Containerfile's ARGs
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// File of argument=value lines for the Containerfile's ARGs
    #[arg(long = "build-arg-file")]
    pub build_arg_file: Vec<PathBuf>,
    /// Do not use existing cached images for the container build
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Cache intermediate images during the build process
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", env = "BUILDAH_LAYERS", value_parser = clap::builder::BoolishValueParser::new())]
    pub layers: bool,
    /// How many stages to run at once (accepted; stages run one after another)
    #[arg(long)]
    pub jobs: Option<u32>,
    /// Pull image policy (always, missing, never, newer); `--pull` alone is `always`
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "always")]
    pub pull: Option<String>,
    /// Pull an image even if one is present (`--pull=always`)
    #[arg(long = "pull-always", hide = true)]
    pub pull_always: bool,
    /// Pull only if needed, never from a registry if present (`--pull=never`)
    #[arg(long = "pull-never", hide = true)]
    pub pull_never: bool,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Refrain from announcing build instructions and image read/write progress
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// File to write the image ID to
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Format of the built image's manifest and metadata (oci, docker)
    #[arg(long, default_value = "oci", env = "BUILDAH_FORMAT")]
    pub format: String,
    /// Set metadata for an image
    #[arg(long)]
    pub label: Vec<String>,
    /// Set metadata for an image (manifest annotations)
    #[arg(long)]
    pub annotation: Vec<String>,
    /// Squash all image layers newly built into a single new layer
    #[arg(long)]
    pub squash: bool,
    /// Squash all image layers into a single layer
    #[arg(long = "squash-all")]
    pub squash_all: bool,
    /// Network mode for RUN instructions (none, host, or a network name)
    #[arg(long)]
    pub network: Option<String>,
    /// Security options for RUN containers (seccomp=unconfined|PROFILE.json, apparmor=, label=, no-new-privileges)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Ulimit options for RUN containers (NAME=SOFT[:HARD], -1 for unlimited)
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Set custom DNS servers for RUN containers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains for RUN containers
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set custom DNS options for RUN containers
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip) for RUN containers
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Bind mount a volume into RUN containers
    #[arg(short = 'v', long)]
    pub volume: Vec<String>,
    /// Secret file to expose to the build (id=ID,src=PATH)
    #[arg(long)]
    pub secret: Vec<String>,
    /// Path to an alternate .containerignore file
    #[arg(long)]
    pub ignorefile: Option<PathBuf>,
    /// Remove intermediate containers after a successful build
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true")]
    pub rm: bool,
    /// Always remove intermediate containers after a build, even if the build is unsuccessful
    #[arg(long = "force-rm", num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true")]
    pub force_rm: bool,
    /// Set created timestamp to the specified epoch seconds
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// Set environment variables in the built image (K=V, or K to take it from here)
    #[arg(long)]
    pub env: Vec<String>,
    /// Unset environment variables from the final image
    #[arg(long)]
    pub unsetenv: Vec<String>,
    /// Log the build's output (the `STEP` lines, RUN output, warnings and the id) to this
    /// file instead of stdout and stderr
    #[arg(long)]
    pub logfile: Option<PathBuf>,
    /// `buildx build --load`: the image goes to local storage, where every build goes
    #[arg(long, hide = true)]
    pub load: bool,
    #[command(flatten)]
    pub pull_flags: PullFlags,
    /// The build context: a directory, or `-` for a tar archive (or a Containerfile) on stdin
    pub context: Option<String>,
}

/// `buildx build`.
#[derive(Debug, clap::Subcommand)]
pub enum BuildxCommand {
    /// Build an image using instructions from Containerfiles
    Build(BuildArgs),
}

/// A temporary directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> CliResult<Scratch> {
        let dir = std::env::temp_dir().join(format!(
            "peapod-build-{what}-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bad(msg: String) -> CliError {
    CliError::engine(msg)
}

pub fn build(engine: &Engine, a: BuildArgs) -> CliResult {
    let mut scratch = Vec::new();
    let opts = options(&a, &mut scratch)?;
    let progress = sink(a.quiet);
    // `--logfile`: everything the build prints goes there (Podman leaves stdout empty).
    let log = a
        .logfile
        .as_ref()
        .map(|f| {
            std::fs::File::create(f)
                .map_err(|e| bad(format!("opening the log file {}: {e}", f.display())))
        })
        .transpose()?;
    let (out, err): (Box<dyn Write + Send>, Box<dyn Write + Send>) = match &log {
        Some(f) => (Box::new(f.try_clone()?), Box::new(f.try_clone()?)),
        None => (Box::new(std::io::stdout()), Box::new(std::io::stderr())),
    };
    let output = BuildOutput {
        out: Mutex::new(out),
        err: Mutex::new(err),
        progress: progress.as_ref(),
        quiet: a.quiet,
    };
    let result = engine.build(&opts, &output)?;
    if let Some(f) = &a.iidfile {
        std::fs::write(f, format!("sha256:{}", result.id))
            .map_err(|e| bad(format!("failed to write image ID to {}: {e}", f.display())))?;
    }
    match log {
        Some(mut f) => writeln!(f, "{}", result.id)?,
        None => writeln!(std::io::stdout().lock(), "{}", result.id)?,
    }
    Ok(0)
}

/// The request for the flags; `scratch` keeps temporary directories alive for the build.
fn options(a: &BuildArgs, scratch: &mut Vec<Scratch>) -> CliResult<BuildOptions> {
    let host = Platform::host();
    if let Some(p) = a.pull_flags.platform.as_deref().filter(|p| !p.is_empty()) {
        let want =
            Platform::choose(Some(p), None, None, None).map_err(peapod_engine::Error::from)?;
        if want.os != host.os || want.architecture != host.architecture {
            return Err(bad(format!(
                "building for platform {p:?} is not supported: peapod builds for the host platform only ({}/{})",
                host.os, host.architecture
            )));
        }
    }
    if let Some(f) = &a.pull_flags.registry.authfile
        && let Err(e) = std::fs::metadata(f)
    {
        return Err(bad(format!(
            "checking authfile: stat {}: {}",
            f.display(),
            peapod_engine::error::go_io_error(&e)
        )));
    }
    let mut stdin_used = false;
    let context = match a.context.as_deref().unwrap_or(".") {
        "-" => {
            stdin_used = true;
            context_from_stdin(a, scratch)?
        }
        c => PathBuf::from(c),
    };
    if !context.is_dir() {
        return Err(bad(format!(
            "context directory {:?} does not exist: no such file or directory",
            context.display().to_string()
        )));
    }
    let containerfiles = containerfiles(a, &context, stdin_used, scratch)?;
    let mut build_args = Vec::new();
    for f in &a.build_arg_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| bad(format!("reading build arg file {}: {e}", f.display())))?;
        for l in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            build_args.push(build_arg(l));
        }
    }
    build_args.extend(a.build_arg.iter().map(|s| build_arg(s)));
    let pull = if a.pull_always {
        PullPolicy::Always
    } else if a.pull_never {
        PullPolicy::Never
    } else {
        PullPolicy::parse(a.pull.as_deref().unwrap_or("missing"))?
    };
    let secrets = a
        .secret
        .iter()
        .map(|s| secret(s))
        .collect::<CliResult<Vec<_>>>()?;
    Ok(BuildOptions {
        context,
        containerfiles,
        tags: a.tag.clone(),
        build_args,
        no_cache: a.no_cache,
        layers: a.layers,
        pull,
        pull_template: a.pull_flags.options("")?,
        target: a.target.clone(),
        format: CommitFormat::parse(&a.format)?,
        labels: a.label.clone(),
        annotations: a.annotation.clone(),
        squash: a.squash,
        squash_all: a.squash_all,
        network: peapod_engine::network::NetworkMode::parse(a.network.as_slice())?,
        volumes: a.volume.clone(),
        secrets,
        ignorefile: a.ignorefile.clone(),
        timestamp: a.timestamp,
        env: a.env.clone(),
        unsetenv: a.unsetenv.clone(),
        quiet: a.quiet,
        security: build_security(a)?,
        names: peapod_engine::build::RunNames {
            dns: a.dns.clone(),
            dns_search: a.dns_search.clone(),
            dns_option: a.dns_option.clone(),
            add_host: a.add_host.clone(),
        },
    })
}

/// `--security-opt` and `--ulimit` for RUN steps, as Buildah takes them: `seccomp`,
/// `apparmor`, `label` and `no-new-privileges`; anything else is Buildah's error.
fn build_security(a: &BuildArgs) -> CliResult<peapod_engine::container::SecurityFlags> {
    use peapod_engine::container::SecurityOpt;
    let mut opts = Vec::new();
    for o in &a.security_opt {
        if o == "no-new-privileges" {
            opts.push(SecurityOpt::NoNewPrivileges(true));
            continue;
        }
        let parsed: SecurityOpt = if !o.contains('=') {
            return Err(CliError::engine(format!(
                "invalid --security-opt name=value pair: {o:?}"
            )));
        } else {
            o.parse()?
        };
        match parsed {
            SecurityOpt::SeccompUnconfined
            | SecurityOpt::SeccompProfile(_)
            | SecurityOpt::Apparmor(_)
            | SecurityOpt::Label(_) => opts.push(parsed),
            _ => {
                return Err(CliError::engine(format!("invalid --security-opt 2: {o:?}")));
            }
        }
    }
    Ok(peapod_engine::container::SecurityFlags {
        opts,
        ulimits: a.ulimit.clone(),
        ..Default::default()
    })
}

/// `K=V`, or `K` with its value from this environment.
fn build_arg(s: &str) -> (String, String) {
    match s.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None => (s.to_string(), std::env::var(s).unwrap_or_default()),
    }
}

/// `id=ID,src=PATH` (or `type=file`); `src` defaults to the id.
fn secret(s: &str) -> CliResult<(String, PathBuf)> {
    let mut id = None;
    let mut src = None;
    for field in s.split(',') {
        match field.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
            Some(("type", "file")) => {}
            _ => {
                return Err(bad(format!(
                    "invalid --secret {s:?}: expected id=ID,src=PATH"
                )));
            }
        }
    }
    let id = id.ok_or_else(|| bad(format!("invalid --secret {s:?}: id is required")))?;
    let src = src.unwrap_or_else(|| PathBuf::from(&id));
    if !src.is_file() {
        return Err(bad(format!(
            "--secret {s:?}: {} is not a file",
            src.display()
        )));
    }
    Ok((id, src))
}

/// `-` as the context: a tar archive (extracted) or a Containerfile (an empty context).
fn context_from_stdin(a: &BuildArgs, scratch: &mut Vec<Scratch>) -> CliResult<PathBuf> {
    if a.file.iter().any(|f| f == "-") {
        return Err(bad(
            "cannot read both the context and the Containerfile from stdin".into(),
        ));
    }
    let mut data = Vec::new();
    std::io::stdin().read_to_end(&mut data)?;
    let dir = Scratch::new("context")?;
    let path = dir.0.join("ctx");
    peapod_engine::build::context_from_bytes(&data, &path, &dir.0.join("Containerfile"))?;
    scratch.push(dir);
    Ok(path)
}

/// The Containerfiles: `-f` (relative to here; `-` from stdin), else the context's
/// `Containerfile`, then `Dockerfile`.
fn containerfiles(
    a: &BuildArgs,
    context: &Path,
    stdin_used: bool,
    scratch: &mut Vec<Scratch>,
) -> CliResult<Vec<PathBuf>> {
    if stdin_used && let Some(s) = scratch.last() {
        let cf = s.0.join("Containerfile");
        if cf.is_file() && a.file.is_empty() {
            return Ok(vec![cf]);
        }
    }
    let mut out = Vec::new();
    for f in &a.file {
        if f == "-" {
            let mut data = Vec::new();
            std::io::stdin().read_to_end(&mut data)?;
            let dir = Scratch::new("file")?;
            let p = dir.0.join("Containerfile");
            std::fs::write(&p, data)?;
            out.push(p);
            scratch.push(dir);
            continue;
        }
        let p = PathBuf::from(f);
        let p = if p.exists() || p.is_absolute() {
            p
        } else {
            context.join(f)
        };
        if !p.is_file() {
            return Err(bad(format!(
                "the specified Containerfile or Dockerfile does not exist, {f}: no such file or directory"
            )));
        }
        out.push(p);
    }
    if out.is_empty() {
        for name in ["Containerfile", "Dockerfile"] {
            let p = context.join(name);
            if p.is_file() {
                out.push(p);
                break;
            }
        }
    }
    if out.is_empty() {
        // Podman 4.3 falls back to `Dockerfile` and fails on it.
        return Err(bad(format!(
            "stat {}: no such file or directory",
            context.join("Dockerfile").display()
        )));
    }
    Ok(out)
}

/// `kube play --build`: builds `image` from `<context dir>/<image's last path part>/` when
/// that directory holds a Containerfile (or Dockerfile) and `--build` is given or the
/// image is missing (Podman's rule); the build's lines go to stderr. Whether it built.
pub fn kube_build(engine: &Engine, a: &super::kube::PlayArgs, image: &str) -> CliResult<bool> {
    if a.build == Some(false) {
        return Ok(false);
    }
    // As Podman: the directories of the images are looked for in `--context-dir`, else in
    // the current working directory (not the YAML file's).
    let top = a.context_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let base = image.rsplit('/').next().unwrap_or(image);
    let base = base.split(['@', ':']).next().unwrap_or(base);
    let dir = top.join(base);
    let Some(cf) = ["Containerfile", "Dockerfile"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
    else {
        return Ok(false);
    };
    if a.build != Some(true) && engine.resolve_image(image).is_ok() {
        return Ok(false);
    }
    let progress = sink(a.quiet);
    let output = BuildOutput {
        out: Mutex::new(Box::new(std::io::stderr())),
        err: Mutex::new(Box::new(std::io::stderr())),
        progress: progress.as_ref(),
        quiet: a.quiet,
    };
    let opts = BuildOptions {
        context: dir,
        containerfiles: vec![cf],
        tags: vec![image.to_string()],
        layers: true,
        pull_template: a.pull_flags.options("")?,
        quiet: a.quiet,
        ..Default::default()
    };
    engine.build(&opts, &output)?;
    Ok(true)
}
