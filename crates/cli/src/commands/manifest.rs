//! `manifest create/add/annotate/remove/inspect/rm/exists/push`: flags into the engine's
//! requests, and Podman's output (the list's id on stdout; `rm` as `rmi`).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use peapod_engine::image::registry::{Compression, PushFormat, PushOptions, RemoteOptions};
use peapod_engine::manifest::{
    AddRequest, Annotate, CreateListRequest, ListFormat, ListPushRequest,
};
use peapod_engine::{Engine, Error};

use crate::commands::registry::RegistryFlags;
use crate::{CliError, CliResult};

#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Create manifest list or image index
    Create(CreateArgs),
    /// Add images to a manifest list or image index
    Add(AddArgs),
    /// Add or update information about an entry in a manifest list or image index
    Annotate(AnnotateArgs),
    /// Display the contents of a manifest list or image index
    Inspect(InspectArgs),
    /// Remove an entry from a manifest list or image index
    Remove(RemoveArgs),
    /// Remove manifest list or image index from local storage
    Rm(RmArgs),
    /// Check if a manifest list exists in local storage
    Exists(ExistsArgs),
    /// Push a manifest list or image index to a registry
    Push(PushArgs),
}

fn remote(r: &RegistryFlags) -> RemoteOptions {
    RemoteOptions {
        tls: r.tls(),
        authfile: r.authfile.clone(),
        creds: r.creds.clone(),
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Add all of the lists' images if the images to add are lists
    #[arg(long)]
    pub all: bool,
    /// Modify an existing list if one with the desired name already exists
    #[arg(short = 'a', long)]
    pub amend: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub name: String,
    pub images: Vec<String>,
}

/// Platform and annotation flags of `add` and `annotate`.
#[derive(Debug, Args, Default)]
pub struct AnnotateFlags {
    /// Set an annotation (KEY=VALUE) on the entry
    #[arg(long = "annotation")]
    pub annotation: Vec<String>,
    /// Override the architecture of the image
    #[arg(long)]
    pub arch: Option<String>,
    /// Override the features required by the image
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Override the OS of the image
    #[arg(long)]
    pub os: Option<String>,
    /// Override the OS version of the image
    #[arg(long = "os-version")]
    pub os_version: Option<String>,
    /// Override the variant of the architecture of the image
    #[arg(long)]
    pub variant: Option<String>,
}

impl AnnotateFlags {
    fn annotate(&self, os_features: &[String]) -> Annotate {
        Annotate {
            arch: self.arch.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
            features: self.features.clone(),
            os_features: os_features.to_vec(),
            annotations: self.annotation.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Add all of the list's images if the image is a list
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub annotate: AnnotateFlags,
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub list: String,
    pub image: String,
}

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub annotate: AnnotateFlags,
    /// Override the OS features required by the image
    #[arg(long = "os-features", value_delimiter = ',')]
    pub os_features: Vec<String>,
    pub list: String,
    pub digest: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Accepted for Podman compatibility (the output is the same)
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub list: String,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    pub list: String,
    pub digest: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true)]
    pub lists: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub list: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Also push the images in the list
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub all: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Compression format to use (gzip, zstd)
    #[arg(long = "compression-format")]
    pub compression_format: Option<String>,
    /// Write the digest of the pushed list to the specified file
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
    /// Manifest type (oci or v2s2) to use when pushing the list (default oci)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Don't output progress information when pushing lists
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't copy signatures when pushing images (there are none to copy)
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    /// Remove the manifest list if push succeeds
    #[arg(long)]
    pub rm: bool,
    /// Sign the image using a GPG key with the specified FINGERPRINT
    #[arg(long = "sign-by")]
    pub sign_by: Option<String>,
    pub list: String,
    pub destination: Option<String>,
}

pub fn run(engine: &Engine, cmd: ManifestCommand) -> CliResult {
    match cmd {
        ManifestCommand::Create(a) => {
            let id = engine.create_manifest_list(&CreateListRequest {
                name: a.name,
                images: a.images,
                all: a.all,
                amend: a.amend,
                remote: remote(&a.registry),
            })?;
            print_line(&id)
        }
        ManifestCommand::Add(a) => {
            let id = engine.manifest_add(&AddRequest {
                list: a.list,
                image: a.image,
                all: a.all,
                annotate: a.annotate.annotate(&[]),
                remote: remote(&a.registry),
            })?;
            print_line(&id)
        }
        ManifestCommand::Annotate(a) => {
            let ann = a.annotate.annotate(&a.os_features);
            let id = engine.manifest_annotate(&a.list, &a.digest, &ann)?;
            print_line(&id)
        }
        ManifestCommand::Inspect(a) => {
            let json = engine.manifest_inspect(&a.list, &remote(&a.registry))?;
            print_line(&json)
        }
        ManifestCommand::Remove(a) => {
            let id = engine.manifest_remove(&a.list, &a.digest)?;
            print_line(&id)
        }
        ManifestCommand::Rm(a) => rm(engine, &a.lists),
        ManifestCommand::Exists(a) => Ok(if engine.manifest_exists(&a.list)? {
            0
        } else {
            1
        }),
        ManifestCommand::Push(a) => push(engine, a),
    }
}

fn print_line(s: &str) -> CliResult {
    writeln!(std::io::stdout().lock(), "{s}")?;
    Ok(0)
}

/// As Podman: every `Untagged:` line, then every `Deleted:` line; a name that is no image
/// exits 1, one that is no list 125.
fn rm(engine: &Engine, lists: &[String]) -> CliResult {
    let (mut untagged, mut deleted, mut code) = (Vec::new(), Vec::new(), 0);
    for l in lists {
        match engine.manifest_rm(l) {
            Ok(r) => {
                untagged.extend(r.untagged);
                deleted.extend(r.deleted);
            }
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    Error::NoSuchImage(_) => 1,
                    _ => crate::ENGINE,
                };
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for u in untagged {
        writeln!(out, "Untagged: {u}")?;
    }
    for d in deleted {
        writeln!(out, "Deleted: {d}")?;
    }
    Ok(code)
}

fn push(engine: &Engine, a: PushArgs) -> CliResult {
    if a.sign_by.is_some() {
        return Err(CliError::engine(
            "signing is not supported by peapod (--sign-by)",
        ));
    }
    let err =
        |e: peapod_engine::image::registry::RegistryError| -> CliError { Error::from(e).into() };
    let format = match a.format.as_deref() {
        None => None,
        Some("oci") => Some(ListFormat::Oci),
        Some("v2s2" | "docker") => Some(ListFormat::Docker),
        Some(f) => {
            return Err(CliError::engine(format!(
                "unknown format {f:?}. Choose one of the supported formats: oci, v2s2"
            )));
        }
    };
    let destination = a.destination.clone().unwrap_or_else(|| a.list.clone());
    let destination = destination
        .strip_prefix("docker://")
        .unwrap_or(&destination)
        .to_string();
    let destination = peapod_engine::image::normalize(&destination).map_err(Error::from)?;
    let remote = remote(&a.registry);
    let req = ListPushRequest {
        list: a.list.clone(),
        push: PushOptions {
            destination,
            format: format.map(|f| match f {
                ListFormat::Oci => PushFormat::Oci,
                ListFormat::Docker => PushFormat::V2s2,
            }),
            compression: a
                .compression_format
                .as_deref()
                .map(Compression::parse)
                .transpose()
                .map_err(err)?,
            tls: remote.tls,
            authfile: remote.authfile,
            creds: remote.creds,
            by_digest: false,
        },
        all: a.all,
        format,
        rm: a.rm,
    };
    let sink = super::registry::sink(a.quiet);
    let digest = engine.push_manifest_list(&req, sink.as_ref())?;
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
