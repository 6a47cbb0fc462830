//! Image commands: import, images, tag, untag, rmi, image inspect, image exists, image
//! prune.

use std::collections::BTreeMap;
use std::io::Write;

use peapod_engine::images::ImageListRequest;
use peapod_engine::{Engine, Error};
use serde::Serialize;

use crate::cli::*;
use crate::output::{print_list, print_objects};
use crate::{CliError, CliResult, human};

pub fn import(engine: &Engine, a: ImportArgs) -> CliResult {
    let rec = if a.path == "-" {
        engine.import_image(
            std::io::stdin().lock(),
            a.reference.as_deref(),
            &a.change,
            a.message.clone(),
        )?
    } else {
        let f = std::fs::File::open(&a.path)
            .map_err(|e| CliError::engine(format!("opening {}: {e}", a.path)))?;
        engine.import_image(
            std::io::BufReader::new(f),
            a.reference.as_deref(),
            &a.change,
            a.message.clone(),
        )?
    };
    if !a.quiet {
        println!("sha256:{}", rec.id);
    } else {
        println!("{}", rec.id);
    }
    Ok(0)
}

/// A row of `images` as templates see it (Podman's `imageReporter`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct ImageRow {
    ID: String,
    Id: String,
    Repository: String,
    Tag: String,
    Digest: String,
    CreatedSince: String,
    CreatedAt: String,
    Created: i64,
    Size: String,
    ReadOnly: bool,
    Dangling: bool,
    Names: Vec<String>,
    Containers: usize,
    Labels: BTreeMap<String, String>,
    /// The names it has had, as Podman prints them: joined by ", ".
    History: String,
}

/// A row of `images --format json` (Podman's `ImageSummary`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct ImageJson {
    Id: String,
    ParentId: String,
    RepoTags: Option<Vec<String>>,
    RepoDigests: Vec<String>,
    Size: u64,
    SharedSize: u64,
    VirtualSize: u64,
    Labels: BTreeMap<String, String>,
    Containers: usize,
    Names: Option<Vec<String>>,
    Digest: String,
    History: Vec<String>,
    Created: i64,
    CreatedAt: String,
}

fn split_name(name: &str) -> (String, String) {
    // A name by digest has no tag.
    if let Some((repo, _)) = name.split_once('@') {
        return (repo.to_string(), "<none>".to_string());
    }
    // The tag follows the last ':' after the last '/'.
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_string(),
            name[slash + i + 1..].to_string(),
        ),
        None => (name.to_string(), "latest".to_string()),
    }
}

pub fn images(engine: &Engine, a: ImagesArgs) -> CliResult {
    const SORTS: [&str; 5] = ["created", "id", "repository", "size", "tag"];
    if !SORTS.contains(&a.sort.as_str()) {
        return Err(CliError::engine(format!(
            "invalid option for --sort, options are: [{}]",
            SORTS.join(" ")
        )));
    }
    let list = engine.list_images(&ImageListRequest {
        all: a.all,
        filters: a.filter.clone(),
        reference: a.name.clone(),
    })?;
    let short = |id: &str| {
        if a.no_trunc {
            format!("sha256:{id}")
        } else {
            id[..12].to_string()
        }
    };
    if a.quiet {
        let mut out = std::io::stdout().lock();
        let mut seen = std::collections::HashSet::new();
        for r in &list {
            if seen.insert(r.id.clone()) {
                writeln!(out, "{}", short(&r.id))?;
            }
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for r in &list {
        let names: Vec<Option<&String>> = if r.names.is_empty() {
            vec![None]
        } else {
            r.names.iter().map(Some).collect()
        };
        for n in names {
            let (repo, tag) = n
                .map(|n| split_name(n))
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            rows.push(ImageRow {
                ID: short(&r.id),
                Id: r.id.clone(),
                Repository: repo,
                Tag: tag,
                Digest: r.digest.clone(),
                CreatedSince: human::ago(r.created),
                CreatedAt: peapod_engine::container::inspect::go_time_string(r.created),
                Created: r.created.timestamp(),
                Size: human::size(r.size),
                ReadOnly: r.read_only,
                Dangling: r.dangling,
                Names: r.names.clone(),
                Containers: r.containers,
                Labels: r.labels.clone(),
                History: r.names_history.join(", "),
            });
        }
    }
    // `--sort`: the rows (one per name), stably; created (newest first) is the list's order.
    match a.sort.as_str() {
        "id" => rows.sort_by(|x, y| x.Id.cmp(&y.Id)),
        "repository" => rows.sort_by(|x, y| x.Repository.cmp(&y.Repository)),
        "tag" => rows.sort_by(|x, y| x.Tag.cmp(&y.Tag)),
        "size" => {
            let sizes: BTreeMap<&str, u64> = list.iter().map(|r| (r.id.as_str(), r.size)).collect();
            rows.sort_by_key(|x| sizes.get(x.Id.as_str()).copied().unwrap_or(0));
        }
        _ => {}
    }
    let optional = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let json: Vec<ImageJson> = list
        .iter()
        .map(|r| ImageJson {
            Id: r.id.clone(),
            ParentId: r.parent_id.clone().unwrap_or_default(),
            RepoTags: optional(&r.names),
            RepoDigests: r.repo_digests.clone(),
            Size: r.size,
            SharedSize: 0,
            VirtualSize: r.size,
            Labels: r.labels.clone(),
            Containers: r.containers,
            Names: optional(&r.names),
            Digest: r.digest.clone(),
            History: r.names_history.clone(),
            Created: r.created.timestamp(),
            // Go's JSON time: RFC 3339, `Z` for UTC, fractions only when there are some.
            CreatedAt: r
                .created
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        })
        .collect();
    let format = a.format.as_deref().unwrap_or(if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    });
    print_list(
        "images",
        format,
        &json,
        &rows,
        &[
            ("ID", "IMAGE ID"),
            ("CreatedSince", "CREATED"),
            ("CreatedAt", "CREATED AT"),
        ],
        a.noheading,
    )?;
    Ok(0)
}

pub fn tag(engine: &Engine, a: TagArgs) -> CliResult {
    for n in &a.names {
        engine.tag_image(&a.image, n)?;
    }
    Ok(0)
}

pub fn rmi(engine: &Engine, a: RmiArgs) -> CliResult {
    let targets: Vec<String> = if a.all {
        engine.images()?.into_iter().map(|r| r.id).collect()
    } else {
        a.images.clone()
    };
    if targets.is_empty() {
        return Err(CliError::engine("image name or ID must be specified"));
    }
    let mut code = 0;
    for t in &targets {
        let removed = if a.all {
            engine.remove_image_whole(t, a.force)
        } else {
            engine.remove_image_and_dangling_parents(t, a.force)
        };
        match removed {
            Ok(r) => {
                for u in &r.untagged {
                    println!("Untagged: {u}");
                }
                for d in r.deleted.iter().chain(&r.deleted_parents) {
                    println!("Deleted: {d}");
                }
            }
            // Podman: `--force` also ignores an image that does not exist.
            Err(Error::NoSuchImage(_)) if a.ignore || a.force => {}
            Err(e) => {
                eprintln!("Error: {e}");
                // Podman: 1 for "no such image", 2 for "image in use".
                code = match e {
                    Error::NoSuchImage(_) => 1,
                    Error::ImageInUse { .. } => 2,
                    _ => crate::ENGINE,
                };
            }
        }
    }
    Ok(code)
}

pub fn exists(engine: &Engine, a: ImageExistsArgs) -> CliResult {
    match engine.resolve_image(&a.image) {
        Ok(_) => Ok(0),
        Err(Error::NoSuchImage(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

pub fn inspect(engine: &Engine, a: ImageInspectArgs) -> CliResult {
    let mut objs = Vec::new();
    let mut code = 0;
    for i in &a.images {
        match engine.resolve_image(i) {
            Ok(r) => objs.push(engine.inspect_image(&r)?),
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::ENGINE;
            }
        }
    }
    print_objects("inspect", a.format.as_deref(), &objs)?;
    Ok(code)
}

#[derive(Debug, clap::Args)]
pub struct UntagArgs {
    pub image: String,
    /// Names to remove (every name when none is given)
    pub names: Vec<String>,
}

pub fn untag(engine: &Engine, a: UntagArgs) -> CliResult {
    engine.untag_image(&a.image, &a.names)?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct ImagePruneArgs {
    /// Remove all images not in use by containers, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Remove images even when they are used by external containers (e.g., by build containers)
    #[arg(long)]
    pub external: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long)]
    pub filter: Vec<String>,
}

pub fn prune(engine: &Engine, a: ImagePruneArgs) -> CliResult {
    let filters = engine.image_prune_filters(&a.filter)?;
    if !a.force {
        let what = if a.all {
            "all images without at least one container associated with them"
        } else {
            "all dangling images"
        };
        print!("WARNING! This command removes {what}.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !answer.trim_start().to_lowercase().starts_with('y') {
            return Ok(0);
        }
    }
    for img in engine.prune_images_with(a.all, &filters, a.external)? {
        println!("{}", img.id);
    }
    Ok(0)
}
