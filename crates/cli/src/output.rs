//! Printing lists and objects: Podman's rules for `--format` (Go template, `table`, `json`).

use std::io::Write;

use serde::Serialize;

use crate::CliResult;
use crate::format::{self, Formatter, Value};

/// Print rows: as JSON when the format says so (`json_rows` are what Podman's JSON shows),
/// else through the Go template (`template_rows` carry the template's field names).
pub fn print_list<J: Serialize, T: Serialize>(
    name: &str,
    format: &str,
    json_rows: &[J],
    template_rows: &[T],
    headers: &[(&str, &str)],
    no_heading: bool,
) -> CliResult<()> {
    let mut out = std::io::stdout().lock();
    if format::is_json(format) {
        let s = serde_json::to_string_pretty(json_rows)
            .map_err(|e| crate::CliError::engine(e.to_string()))?;
        writeln!(out, "{s}")?;
        return Ok(());
    }
    let values: Vec<Value> = template_rows
        .iter()
        .map(format::to_value)
        .collect::<Result<_, _>>()?;
    let f = Formatter::new(name, format)?;
    let text = f.render(&values, headers, no_heading)?;
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `inspect`: pretty JSON array by default, or the template once per object.
pub fn print_objects<T: Serialize>(
    name: &str,
    format: Option<&str>,
    objects: &[T],
) -> CliResult<()> {
    let mut out = std::io::stdout().lock();
    match format {
        None => write_json(&mut out, objects),
        Some(f) if format::is_json(f) => write_json(&mut out, objects),
        Some(f) => {
            for o in objects {
                let v = format::to_value(o)?;
                out.write_all(format::render_object(name, f, &v)?.as_bytes())?;
            }
            Ok(())
        }
    }
}

fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, v: &T) -> CliResult<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| crate::CliError::engine(e.to_string()))?;
    writeln!(out, "{s}")?;
    Ok(())
}

/// Print the answers of a command on many objects in the order they were named: what
/// `shown` makes of a success on stdout, `Error: …` on stderr for a failure. The exit code
/// is `code` of the last failure (Podman prints every error and exits with the last one's).
pub fn print_each<T>(
    targets: &[peapod_engine::parallel::Target],
    results: Vec<Result<T, peapod_engine::Error>>,
    shown: impl Fn(&peapod_engine::parallel::Target, &T) -> Option<String>,
    code: impl Fn(&peapod_engine::Error) -> i32,
) -> CliResult {
    let mut exit = 0;
    let mut out = std::io::stdout().lock();
    for (t, r) in targets.iter().zip(results) {
        match r {
            Ok(v) => {
                if let Some(line) = shown(t, &v) {
                    writeln!(out, "{line}")?;
                }
            }
            Err(e) => {
                out.flush()?;
                eprintln!("Error: {e}");
                exit = code(&e);
            }
        }
    }
    Ok(exit)
}
