//! `image …` (and the top-level image commands): their flags.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, never moved around
pub enum ImageCommand {
    /// Import a tarball to create a filesystem image
    Import(ImportArgs),
    /// List images in local storage
    #[command(alias = "ls")]
    List(ImagesArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove one or more images from local storage
    Rm(RmiArgs),
    /// Display the configuration of an image
    Inspect(ImageInspectArgs),
    /// Check if an image exists in local storage
    Exists(ImageExistsArgs),
    /// Pull an image from a registry
    Pull(crate::commands::registry::PullArgs),
    /// Push an image to a specified destination
    Push(crate::commands::registry::PushArgs),
    /// Save image(s) to an archive
    Save(crate::commands::archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(crate::commands::archive::LoadArgs),
    /// Show history of a specified image
    History(crate::commands::history::HistoryArgs),
    /// Print layer hierarchy of an image in a tree format
    Tree(crate::commands::history::TreeArgs),
    /// Remove unused images
    Prune(crate::commands::image::ImagePruneArgs),
    /// Remove a name from a local image
    Untag(crate::commands::image::UntagArgs),
    /// Inspect changes to the image's file systems
    Diff(crate::commands::manage::DiffArgs),
    /// Mount an image's root filesystem
    Mount(crate::commands::mount::ImageMountArgs),
    /// Unmount an image's root filesystem
    #[command(alias = "unmount")]
    Umount(crate::commands::mount::ImageUmountArgs),
    /// Build an image using instructions from Containerfiles
    Build(crate::commands::build::BuildArgs),
    /// Manage container image trust policy
    #[command(subcommand)]
    Trust(crate::commands::trust::TrustCommand),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply the following possible instructions to the created image: CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | VOLUME | WORKDIR
    #[arg(short = 'c', long)]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Suppress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The tarball to import, or - for stdin
    pub path: String,
    /// The name of the new image
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Display only image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Change the output format to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print column headings
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Filter output based on conditions provided (reference=)
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Sort by created, id, repository, size or tag
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Optional image name to filter on
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub image: String,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force Removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove all images
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Ignore errors if a specified image does not exist
    #[arg(short = 'i', long)]
    pub ignore: bool,
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Format the output to a Go template or json
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageExistsArgs {
    pub image: String,
}
