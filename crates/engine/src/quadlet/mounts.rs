//! Quadlet's `Mount=` key: sources resolved as `Volume=`'s are, the CSV written back.

use super::convert::{Cmd, resource};
use super::unit::{UnitFile, escape_words};
use super::{Kind, Source, Units};

/// `Mount=` (each word a `--mount`): the source of a `volume`, `bind`, `glob` or `image`
/// mount resolved as `Volume=`'s is (a relative path made absolute, an absolute one adds
/// `RequiresMountsFor=`, `NAME.volume` or `NAME.image` its resource's name with its unit
/// required), `type=` first, the fields written back as CSV (Podman 5's quadlet).
pub(super) fn mounts(
    units: &Units,
    src: &Source,
    service: &mut UnitFile,
    run: &mut Cmd,
) -> Result<(), String> {
    for m in src.unit.all_words(src.kind.group(), "Mount") {
        let mut fields = crate::build::parse::csv_fields(&m)
            .map_err(|e| format!("incorrect mount format {m:?}: {e}"))?;
        let at = fields.iter().position(|f| f.starts_with("type="));
        let kind = at.map_or("volume".to_string(), |i| fields.remove(i)[5..].to_string());
        if !matches!(kind.as_str(), "volume" | "bind" | "glob" | "image") {
            run.flag("--mount", &m);
            continue;
        }
        // Podman 5 resolves the source of these types, and an absent one is an empty one.
        if !fields.iter().any(|f| is_source(f)) {
            return Err("source cannot be empty".into());
        }
        for f in fields.iter_mut() {
            if !is_source(f) {
                continue;
            }
            let Some(source) = f.split_once('=').map(|(_, v)| v.to_string()) else {
                return Err("source parameter does not include a value".into());
            };
            if source.is_empty() {
                return Err("source cannot be empty".into());
            }
            let source = storage_source(units, src, service, &source, true)?;
            *f = format!("source={source}");
        }
        fields.insert(0, format!("type={kind}"));
        run.flag("--mount", &csv_line(&fields));
    }
    Ok(())
}

/// A storage source as Podman 5's quadlet resolves it (`handleStorageSource`): a relative
/// path made absolute, an absolute one adds `RequiresMountsFor=` (escaped as systemd reads
/// it), `NAME.volume` (and `NAME.image` when `with_image`) becomes its resource's name with
/// `Requires=`/`After=` its unit; anything else as it is.
pub(super) fn storage_source(
    units: &Units,
    src: &Source,
    service: &mut UnitFile,
    source: &str,
    with_image: bool,
) -> Result<String, String> {
    let mut source = source.to_string();
    if source.starts_with('.') {
        source = src.absolute(&source);
    }
    if source.starts_with('/') {
        service.add(
            "Unit",
            "RequiresMountsFor",
            &escape_words(&[source.clone()]),
        );
        return Ok(source);
    }
    let kind = if source.ends_with(".volume") {
        Kind::Volume
    } else if with_image && source.ends_with(".image") {
        Kind::Image
    } else {
        return Ok(source);
    };
    if !units
        .sources
        .iter()
        .any(|s| s.file_name == source && s.kind == kind)
    {
        return Err(format!("requested Quadlet source {source} was not found"));
    }
    resource(units, service, &source, kind)
}

/// `source=…`, `src=…`, or either key alone.
fn is_source(field: &str) -> bool {
    matches!(
        field.split_once('=').map_or(field, |(k, _)| k),
        "source" | "src"
    )
}

/// One CSV record as Go's `csv.Writer` writes it (a field quoted when it must be).
fn csv_line(fields: &[String]) -> String {
    let quoted = |f: &String| {
        let needs = f == r"\." || f.contains([',', '"', '\r', '\n']) || f.starts_with([' ', '\t']);
        if needs {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.clone()
        }
    };
    fields.iter().map(quoted).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::csv_line;
    use crate::build::parse::csv_fields;

    #[test]
    fn csv_as_go_reads_and_writes_it() {
        let f = csv_fields(r#"type=bind,src=/tmp,"dst=/path,1""#).unwrap();
        assert_eq!(f, ["type=bind", "src=/tmp", "dst=/path,1"]);
        assert_eq!(csv_line(&f), r#"type=bind,src=/tmp,"dst=/path,1""#);
        let f = csv_fields(r#""a ""q"" b",,c"#).unwrap();
        assert_eq!(f, [r#"a "q" b"#, "", "c"]);
        assert_eq!(csv_line(&f), r#""a ""q"" b",,c"#);
        assert_eq!(csv_line(&[" lead".to_string()]), r#"" lead""#);
        assert!(csv_fields(r#""open"#).is_err());
        assert!(csv_fields(r#""a"b"#).is_err());
    }
}
