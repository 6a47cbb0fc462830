//! `system df`: renders the engine's disk-usage report as Podman does (sizes in
//! go-units' `HumanSize`: four significant digits, no space).

use std::io::Write;

use clap::Args;
use peapod_engine::Engine;
// go-units `HumanSize` (`5.829MB`, `0B`): the engine's, which inspect uses too.
use peapod_engine::container::resources::human_size;
use peapod_engine::system::DiskUsage;
use serde::Serialize;

use crate::output::print_list;
use crate::{CliResult, human};

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on disk usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Pretty-print images using a Go template
    #[arg(long)]
    pub format: Option<String>,
}

/// A summary row; the field names are what `--format` templates use.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct SummaryRow {
    Type: String,
    Total: usize,
    Active: usize,
    Size: String,
    Reclaimable: String,
    RawSize: u64,
    RawReclaimable: u64,
}

pub fn df(engine: &Engine, a: DfArgs) -> CliResult {
    let du = engine.disk_usage()?;
    if a.verbose {
        return verbose(&du);
    }
    let rows: Vec<SummaryRow> = du
        .summary()
        .iter()
        .map(|s| {
            let pct = if s.size == 0 {
                0
            } else {
                (s.reclaimable as f64 * 100.0 / s.size as f64).round() as u64
            };
            SummaryRow {
                Type: s.kind.to_string(),
                Total: s.total,
                Active: s.active,
                Size: human_size(s.size),
                Reclaimable: format!("{} ({pct}%)", human_size(s.reclaimable)),
                RawSize: s.size,
                RawReclaimable: s.reclaimable,
            }
        })
        .collect();
    let format = a.format.unwrap_or_else(|| {
        "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}".into()
    });
    print_list("system df", &format, &rows, &rows, &[], false)?;
    Ok(0)
}

fn verbose(du: &DiskUsage) -> CliResult {
    let tw = crate::format::PODMAN_TABWRITER;
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    text.push_str(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
    );
    for i in &du.images {
        let names: Vec<(String, String)> = if i.names.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.names.iter().map(|n| split_tag(n)).collect()
        };
        for (repo, tag) in names {
            text.push_str(&format!(
                "{repo}\t{tag}\t{}\t{}\t{}\t0B\t{}\t{}\n",
                &i.id[..12],
                human::ago(i.created),
                human_size(i.size),
                human_size(i.size),
                i.containers
            ));
        }
    }
    write!(out, "Images space usage:\n\n{}", tw.align(&text))?;
    let mut text = String::new();
    text.push_str("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    for c in &du.containers {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            &c.id[..12],
            &c.image_id[..12.min(c.image_id.len())],
            c.command,
            c.volumes,
            human_size(c.size),
            human::ago(c.created),
            c.status,
            c.name
        ));
    }
    write!(out, "\nContainers space usage:\n\n{}", tw.align(&text))?;
    let mut text = String::new();
    text.push_str("VOLUME NAME\tLINKS\tSIZE\n");
    for v in &du.volumes {
        text.push_str(&format!(
            "{}\t{}\t{}\n",
            v.name,
            v.links,
            human_size(v.size)
        ));
    }
    write!(out, "\nLocal Volumes space usage:\n\n{}", tw.align(&text))?;
    Ok(0)
}

/// `REPO:TAG` (the tag after the last `:` past the last `/`).
fn split_tag(name: &str) -> (String, String) {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_string(),
            name[slash + i + 1..].to_string(),
        ),
        None => (name.to_string(), "latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_units_human_size() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(5_829_000), "5.829MB");
        assert_eq!(human_size(4_610_000), "4.61MB");
        assert_eq!(human_size(1_000_000_000), "1GB");
    }
}
