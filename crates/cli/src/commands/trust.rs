//! `image trust set|show`: the signature policy (policy.json) as Podman 4.3 edits and shows
//! it; the engine reads and writes the file and checks pulls against it.

use std::path::PathBuf;

use peapod_engine::Error;
use peapod_engine::image::registry::trust;

use crate::CliResult;
use crate::format::PODMAN_TABWRITER;

#[derive(Debug, clap::Subcommand)]
pub enum TrustCommand {
    /// Set default trust policy or a new trust policy for a registry
    Set(TrustSetArgs),
    /// Display trust policy for the system
    Show(TrustShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct TrustSetArgs {
    #[arg(long, hide = true)]
    pub policypath: Option<PathBuf>,
    /// Path of installed public key(s) to trust for TARGET
    #[arg(short = 'f', long, value_delimiter = ',')]
    pub pubkeysfile: Vec<String>,
    /// Trust type, accept values: signedBy(default), accept, reject
    #[arg(short = 't', long = "type", default_value = "signedBy")]
    pub kind: String,
    pub registry: String,
}

#[derive(Debug, clap::Args)]
pub struct TrustShowArgs {
    /// Output as json
    #[arg(short = 'j', long)]
    pub json: bool,
    #[arg(long, hide = true)]
    pub policypath: Option<PathBuf>,
    /// Output raw policy file
    #[arg(long)]
    pub raw: bool,
    /// Do not print column headings
    #[arg(short = 'n', long)]
    pub noheading: bool,
    pub registry: Option<String>,
}

pub fn run(cmd: TrustCommand) -> CliResult {
    match cmd {
        TrustCommand::Set(a) => set(a),
        TrustCommand::Show(a) => show(a),
    }
}

fn set(a: TrustSetArgs) -> CliResult {
    const TYPES: [&str; 5] = [
        "accept",
        "insecureAcceptAnything",
        "reject",
        "signedBy",
        "sigstoreSigned",
    ];
    if !TYPES.contains(&a.kind.as_str()) {
        return Err(Error::invalid(format!(
            "invalid choice: {} (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')",
            a.kind
        ))
        .into());
    }
    let path = a.policypath.unwrap_or_else(trust::default_policy_path);
    trust::set_trust(&path, &a.registry, &a.kind, &a.pubkeysfile).map_err(Error::from)?;
    Ok(0)
}

fn show(a: TrustShowArgs) -> CliResult {
    let path = a.policypath.unwrap_or_else(trust::default_policy_path);
    if a.raw {
        let raw = std::fs::read_to_string(&path)
            .map_err(|e| Error::other(format!("open {}: {e}", path.display())))?;
        println!("{raw}");
        return Ok(0);
    }
    let rows = trust::describe(&path).map_err(Error::from)?;
    if a.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| Error::other(e.to_string()))?;
        println!("{text}");
        return Ok(0);
    }
    let mut text = String::new();
    if !a.noheading {
        text.push_str("TRANSPORT\tNAME\tTYPE\tID\tSTORE\n");
    }
    for r in &rows {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            r.transport, r.repo_name, r.kind, r.gpg_id, r.signature_store
        ));
    }
    print!("{}", PODMAN_TABWRITER.align(&text));
    Ok(0)
}
