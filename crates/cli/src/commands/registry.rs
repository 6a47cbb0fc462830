//! Registry commands: pull, push, login, logout; the flags `run`/`create` share with pull;
//! and the rendering of a copy's progress on stderr as Podman prints it.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;
use peapod_engine::Engine;
use peapod_engine::image::registry::{
    AuthFile, Compression, Event, LoggedOut, Platform, ProgressSink, PullOptions, PushFormat,
    PushOptions, Silent, Tls,
};

use crate::{CliError, CliResult};

/// How to reach a registry: the flags of `pull`, `push` and the `manifest` commands.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryFlags {
    /// Path of the authentication file (default ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Use certificates at the specified path to access the registry
    #[arg(long = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
    /// Credentials (USERNAME:PASSWORD) to use for authenticating to a registry
    #[arg(long)]
    pub creds: Option<String>,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long = "tls-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
}

impl RegistryFlags {
    pub fn tls(&self) -> Tls {
        Tls {
            verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
        }
    }
}

/// Flags of `pull` that `run`, `create`, `pod create` and `kube play` share.
#[derive(Debug, Args, Clone, Default)]
pub struct PullFlags {
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Use ARCH instead of the architecture of the machine for choosing images
    #[arg(long)]
    pub arch: Option<String>,
    /// Use OS instead of the running OS for choosing images
    #[arg(long)]
    pub os: Option<String>,
    /// Use VARIANT instead of the running architecture variant for choosing images
    #[arg(long)]
    pub variant: Option<String>,
    /// Specify the platform for selecting the image (OS/ARCH[/VARIANT])
    #[arg(long)]
    pub platform: Option<String>,
}

impl PullFlags {
    pub fn options(&self, reference: &str) -> Result<PullOptions, CliError> {
        Ok(PullOptions {
            reference: reference.to_string(),
            platform: Platform::choose(
                self.platform.as_deref(),
                self.os.as_deref(),
                self.arch.as_deref(),
                self.variant.as_deref(),
            )
            .map_err(peapod_engine::Error::from)?,
            all_tags: false,
            tls: self.registry.tls(),
            authfile: self.registry.authfile.clone(),
            creds: self.registry.creds.clone(),
        })
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// All tagged images in the repository will be pulled
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress output information when pulling images
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Accepted for Podman compatibility
    #[arg(long = "disable-content-trust", hide = true)]
    pub disable_content_trust: bool,
    #[command(flatten)]
    pub flags: PullFlags,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Manifest type (oci or v2s2) to use in the destination
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Compression format to use (gzip, zstd)
    #[arg(long = "compression-format")]
    pub compression_format: Option<String>,
    /// Write the digest of the pushed image to the specified file
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
    /// Discard any pre-existing signatures in the image (there are none to keep)
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    /// Suppress output information when pushing images
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Accepted for Podman compatibility
    #[arg(long = "disable-content-trust", hide = true)]
    pub disable_content_trust: bool,
    pub image: String,
    pub destination: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Path of the authentication file
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Use certificates at the specified path to access the registry
    #[arg(long = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long = "tls-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Username for registry
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password for registry
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Return the current login user for the registry
    #[arg(long = "get-login")]
    pub get_login: bool,
    /// Verbose output
    #[arg(short = 'v', long)]
    pub verbose: bool,
    pub registry: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Path of the authentication file
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Remove the cached credentials for all registries in the auth file
    #[arg(short = 'a', long)]
    pub all: bool,
    pub registry: Option<String>,
}

/// Prints a copy's progress on stderr: Podman's non-TTY lines, or on a terminal one
/// finished line per blob (`Copying blob 3ab85da66668 done`, `… skipped: already exists`).
pub struct StderrProgress {
    tty: bool,
    lock: Mutex<()>,
}

impl StderrProgress {
    pub fn new() -> StderrProgress {
        StderrProgress {
            tty: std::io::stderr().is_terminal(),
            lock: Mutex::new(()),
        }
    }

    fn line(&self, s: &str) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{s}");
    }
}

fn short(digest: &str, n: usize) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..n.min(hex.len())]
}

impl ProgressSink for StderrProgress {
    fn event(&self, e: Event) {
        match e {
            Event::Resolved(m) => self.line(&m),
            Event::Trying(n) => self.line(&format!("Trying to pull {n}...")),
            Event::GettingSignatures => self.line("Getting image source signatures"),
            Event::BlobStart { digest, .. } => {
                if !self.tty {
                    self.line(&format!("Copying blob {digest}"));
                }
            }
            Event::BlobProgress { .. } => {}
            Event::BlobDone { digest } => {
                if self.tty {
                    self.line(&format!("Copying blob {} done", short(&digest, 12)));
                }
            }
            Event::BlobSkipped { digest } => {
                if self.tty {
                    self.line(&format!(
                        "Copying blob {} skipped: already exists",
                        short(&digest, 12)
                    ));
                }
            }
            Event::Config { digest } => {
                if self.tty {
                    self.line(&format!("Copying config {} done", short(&digest, 10)));
                } else {
                    self.line(&format!("Copying config {digest}"));
                }
            }
            Event::WritingManifest => self.line("Writing manifest to image destination"),
            Event::StoringSignatures => self.line("Storing signatures"),
            Event::List(l) => self.line(&l),
        }
    }
}

/// The sink for a command: silent with `-q`.
pub fn sink(quiet: bool) -> Box<dyn ProgressSink> {
    if quiet {
        Box::new(Silent)
    } else {
        Box::new(StderrProgress::new())
    }
}

pub fn pull(engine: &Engine, a: PullArgs) -> CliResult {
    let sink = sink(a.quiet);
    for image in &a.images {
        let mut opts = a.flags.options(image)?;
        opts.all_tags = a.all_tags;
        let recs = engine.pull_image(&opts, sink.as_ref())?;
        let mut out = std::io::stdout().lock();
        for r in recs {
            writeln!(out, "{}", r.id)?;
        }
    }
    Ok(0)
}

pub fn push(engine: &Engine, a: PushArgs) -> CliResult {
    if let Some(d) = &a.destination
        && let Some(done) = engine.push_to_transport(&a.image, d, sink(a.quiet).as_ref())
    {
        done?;
        return Ok(0);
    }
    let destination = match &a.destination {
        Some(d) => d.strip_prefix("docker://").unwrap_or(d).to_string(),
        None => {
            let image = engine.resolve_image(&a.image)?;
            engine
                .image_display_name(&a.image, &image)
                .unwrap_or_else(|| a.image.clone())
        }
    };
    let destination =
        peapod_engine::image::normalize(&destination).map_err(peapod_engine::Error::from)?;
    let err = |e: peapod_engine::image::registry::RegistryError| -> CliError {
        peapod_engine::Error::from(e).into()
    };
    let opts = PushOptions {
        destination,
        format: a
            .format
            .as_deref()
            .map(PushFormat::parse)
            .transpose()
            .map_err(err)?,
        compression: a
            .compression_format
            .as_deref()
            .map(Compression::parse)
            .transpose()
            .map_err(err)?,
        tls: a.registry.tls(),
        authfile: a.registry.authfile.clone(),
        creds: a.registry.creds.clone(),
        by_digest: false,
    };
    let digest = engine.push_image(&a.image, &opts, sink(a.quiet).as_ref())?;
    if let Some(f) = &a.digestfile {
        std::fs::write(f, digest.as_str()).map_err(|e| {
            CliError::engine(format!(
                "failed to write digest to file {}: {e}",
                f.display()
            ))
        })?;
    }
    Ok(0)
}

pub fn login(engine: &Engine, a: LoginArgs) -> CliResult {
    let Some(registry) = a.registry.as_deref() else {
        return Err(CliError::engine("please provide a registry to log in to"));
    };
    let file = AuthFile::new(a.authfile.clone());
    if a.get_login {
        let user = peapod_engine::image::registry::get_login(&file, registry)
            .map_err(peapod_engine::Error::from)?;
        println!("{user}");
        return Ok(0);
    }
    if a.password_stdin && a.password.is_some() {
        return Err(CliError::engine(
            "can't specify both --password-stdin and --password",
        ));
    }
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else {
        match &a.password {
            Some(p) => p.clone(),
            None => {
                return Err(CliError::engine(
                    "a password is needed: use --password or --password-stdin",
                ));
            }
        }
    };
    let Some(user) = a.username.as_deref().filter(|u| !u.is_empty()) else {
        return Err(CliError::engine("a username is needed: use --username"));
    };
    let tls = Tls {
        verify: a.tls_verify,
        cert_dir: a.cert_dir.clone(),
    };
    engine.login(registry, user, &password, &file, &tls)?;
    if a.verbose {
        println!("Used: {}", file.write_path().display());
    }
    println!("Login Succeeded!");
    Ok(0)
}

pub fn logout(a: LogoutArgs) -> CliResult {
    let file = AuthFile::new(a.authfile.clone());
    let target = if a.all {
        None
    } else {
        match a.registry.as_deref() {
            Some(r) => Some(r),
            None => {
                return Err(CliError::engine(
                    "please provide a registry to log out from",
                ));
            }
        }
    };
    match peapod_engine::image::registry::logout(&file, target)
        .map_err(peapod_engine::Error::from)?
    {
        LoggedOut::One(r) => println!("Removed login credentials for {r}"),
        LoggedOut::All => println!("Removed login credentials for all registries"),
    }
    Ok(0)
}
