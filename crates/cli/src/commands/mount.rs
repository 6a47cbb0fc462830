//! `mount` / `umount` of containers and `image mount` / `image umount`, with Podman's
//! outputs: the path of one mount, or a `NAME  PATH` list, or JSON.

use clap::Args;
use peapod_engine::Engine;
use serde::Serialize;

use crate::output::print_list;
use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct MountArgs {
    /// Mount all containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print the mounted containers in specified format (json)
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate output
    #[arg(long = "no-trunc", alias = "notruncate")]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UmountArgs {
    /// Unmount all of the currently mounted containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Force the complete unmount of the specified mounted containers
    #[arg(short = 'f', long)]
    pub force: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageMountArgs {
    /// Mount all images
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print the mounted images in specified format (json)
    #[arg(long)]
    pub format: Option<String>,
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageUmountArgs {
    /// Unmount all of the currently mounted images
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Force the complete unmount of the specified mounted images
    #[arg(short = 'f', long)]
    pub force: bool,
    pub images: Vec<String>,
}

/// A line of the `mount` list.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Row {
    ID: String,
    Path: String,
}

/// Go's `json.MarshalIndent(v, "", " ")`.
fn print_json(v: &impl Serialize) -> CliResult<()> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)
        .map_err(|e| CliError::engine(e.to_string()))?;
    println!("{}", String::from_utf8_lossy(&buf));
    Ok(())
}

fn check_format(format: &Option<String>) -> CliResult<bool> {
    match format.as_deref() {
        None | Some("") => Ok(false),
        Some(f) if crate::format::is_json(f) => Ok(true),
        Some(f) => Err(CliError::engine(format!(
            "unknown --format argument: {f:?}"
        ))),
    }
}

fn print_rows(rows: &[Row]) -> CliResult<()> {
    let none: [(); 0] = [];
    print_list("mount", "table {{.ID}}\t{{.Path}}", &none, rows, &[], true)
}

/// Runs `f` for each target, printing its line; errors are printed after, exit 125.
fn each<T>(
    targets: &[T],
    mut f: impl FnMut(&T) -> peapod_engine::Result<Option<String>>,
) -> CliResult {
    let mut code = 0;
    let mut errors = Vec::new();
    for t in targets {
        match f(t) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    for e in errors {
        eprintln!("Error: {e}");
        code = crate::ENGINE;
    }
    Ok(code)
}

pub fn mount(engine: &Engine, a: MountArgs) -> CliResult {
    if a.all || !a.containers.is_empty() {
        let targets: Vec<String> = if a.all {
            engine
                .containers()?
                .iter()
                .map(|c| c.id().to_string())
                .collect()
        } else {
            a.containers.clone()
        };
        return each(&targets, |c| {
            engine
                .mount_container(c)
                .map(|p| Some(p.display().to_string()))
        });
    }
    let json = check_format(&a.format)?;
    let mounted = engine.mounted_containers()?;
    if json {
        #[derive(Serialize)]
        #[allow(non_snake_case)]
        struct J {
            id: String,
            Names: Vec<String>,
            mountpoint: String,
        }
        let rows: Vec<J> = mounted
            .iter()
            .map(|m| J {
                id: m.id.clone(),
                Names: vec![m.name.clone()],
                mountpoint: m.path.display().to_string(),
            })
            .collect();
        return print_json(&rows).map(|()| 0);
    }
    let rows: Vec<Row> = mounted
        .iter()
        .map(|m| Row {
            ID: if a.no_trunc {
                m.id.clone()
            } else {
                m.id[..12].to_string()
            },
            Path: m.path.display().to_string(),
        })
        .collect();
    print_rows(&rows)?;
    Ok(0)
}

pub fn umount(engine: &Engine, a: UmountArgs) -> CliResult {
    if a.all {
        let ids: Vec<String> = engine
            .mounted_containers()?
            .into_iter()
            .map(|m| m.id)
            .collect();
        return each(&ids, |id| {
            engine
                .unmount_container(id, a.force)
                .map(|_| Some(id.clone()))
        });
    }
    if a.containers.is_empty() {
        return Err(CliError::engine(
            "when not using the --all, --latest or --cidfile option you must specify at least one container",
        ));
    }
    each(&a.containers, |c| {
        engine
            .unmount_container(c, a.force)
            .map(|_| Some(c.clone()))
    })
}

pub fn image_mount(engine: &Engine, a: ImageMountArgs) -> CliResult {
    if a.all && !a.images.is_empty() {
        return Err(CliError::engine(
            "when using the --all switch, you may not pass any image names or IDs",
        ));
    }
    let json = check_format(&a.format)?;
    let mounts = if a.all {
        let mut out = Vec::new();
        for img in engine.images()? {
            out.push(engine.mount_image(&img.id)?);
        }
        out
    } else if a.images.is_empty() {
        engine.mounted_images()?
    } else {
        let mut out = Vec::new();
        for i in &a.images {
            out.push(engine.mount_image(i)?);
        }
        out
    };
    if a.images.len() == 1 && !json && !a.all {
        println!("{}", mounts[0].path.display());
        return Ok(0);
    }
    if json {
        #[derive(Serialize)]
        #[allow(non_snake_case)]
        struct J {
            id: String,
            Names: Vec<String>,
            Repositories: Vec<String>,
            mountpoint: String,
        }
        let rows: Vec<J> = mounts
            .iter()
            .map(|m| J {
                id: m.id.clone(),
                Names: vec![m.digest.clone()],
                Repositories: m.tags.clone(),
                mountpoint: m.path.display().to_string(),
            })
            .collect();
        return print_json(&rows).map(|()| 0);
    }
    let rows: Vec<Row> = mounts
        .iter()
        .map(|m| Row {
            ID: m.tags.first().cloned().unwrap_or_else(|| m.id.clone()),
            Path: m.path.display().to_string(),
        })
        .collect();
    print_rows(&rows)?;
    Ok(0)
}

pub fn image_umount(engine: &Engine, a: ImageUmountArgs) -> CliResult {
    if a.all && !a.images.is_empty() {
        return Err(CliError::engine("cannot mix --all with images"));
    }
    if !a.all && a.images.is_empty() {
        return Err(CliError::engine("image name or ID must be specified"));
    }
    let targets: Vec<String> = if a.all {
        engine.mounted_images()?.into_iter().map(|m| m.id).collect()
    } else {
        // Podman looks every image up first: an unknown one fails before anything changes.
        for i in &a.images {
            engine.resolve_image(i)?;
        }
        a.images.clone()
    };
    each(&targets, |i| engine.unmount_image(i, a.force))
}
