//! Podman's list/inspect output rules (c/common `pkg/report`): `table`
//! formats with headers and aligned columns, plain formats wrapped in
//! `{{range .}}…{{end -}}`, JSON detection.

use std::collections::BTreeMap;

use super::FormatError;
use super::Template;
use super::parse::{ArgKind, Node, Pipe};
use super::tabwriter;
use super::value::Value;

/// Go's `\s`.
fn go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// Whether `--format` asks for JSON output: c/common's
/// `^\s*(json|{{\s*json *\.?\s*}})\s*$` (so `json`, `{{json}}`, `{{ json . }}`).
pub fn is_json(format: &str) -> bool {
    let t = format.trim_matches(go_space);
    if t == "json" {
        return true;
    }
    let Some(inner) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return false;
    };
    let Some(rest) = inner.trim_start_matches(go_space).strip_prefix("json") else {
        return false;
    };
    let rest = rest.trim_start_matches(' ');
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    rest.trim_start_matches(go_space).is_empty()
}

/// Whether the format asks for a table (`table ` prefix).
pub fn has_table(format: &str) -> bool {
    format.starts_with("table ")
}

/// c/common `NormalizeFormat`: in table mode drop `table `, expand `\t` and
/// `\n` escapes and turn every space into a tab; otherwise only expand the
/// escapes. A trailing newline is added if missing.
pub fn normalize_format(format: &str) -> String {
    let table = has_table(format);
    let mut out = String::with_capacity(format.len() + 1);
    let mut rest = format;
    // Same precedence as Go's strings.Replacer: first matching pair wins.
    while let Some(c) = rest.chars().next() {
        if table && rest.starts_with("table ") {
            rest = &rest[6..];
        } else if rest.starts_with("\\t") {
            out.push('\t');
            rest = &rest[2..];
        } else if rest.starts_with("\\n") {
            out.push('\n');
            rest = &rest[2..];
        } else {
            out.push(if table && c == ' ' { '\t' } else { c });
            rest = &rest[c.len_utf8()..];
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Matches `{{\s*KEYWORD\s*` then `tail` chars at the start of `s`; returns the rest.
fn match_action<'a>(s: &'a str, keyword: &str, dot: bool) -> Option<&'a str> {
    let s = s.strip_prefix("{{")?.trim_start_matches(go_space);
    let mut s = s.strip_prefix(keyword)?.trim_start_matches(go_space);
    if dot {
        s = s.strip_prefix('.')?.trim_start_matches(go_space);
    } else if let Some(r) = s.strip_prefix('-') {
        s = r.trim_start_matches(go_space);
    }
    s.strip_prefix("}}")
}

/// c/common's `rangeRegex` (`(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}`):
/// the user already ranges over the list.
fn has_top_range(format: &str) -> bool {
    format.match_indices("{{").any(|(i, _)| {
        match_action(&format[i..], "range", true).is_some_and(|rest| {
            rest.match_indices("{{")
                .any(|(j, _)| match_action(&rest[j..], "end", false).is_some())
        })
    })
}

/// fatih/camelcase `Split` as vendored by c/common: runs of lower, upper,
/// digit, other; an upper run followed by a lower run gives its last letter
/// to the lower one (`PDFLoader` → `PDF Loader`).
pub fn camel_split(s: &str) -> Vec<String> {
    let class = |c: char| {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in s.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower && let Some(c) = runs[i].pop() {
            runs[i + 1].insert(0, c);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

/// The column header Podman derives from a field name: `CreatedHuman` →
/// `CREATED HUMAN`, `InfraID` → `INFRA ID`.
pub fn header_name(field: &str) -> String {
    camel_split(field).join(" ").to_uppercase()
}

/// Names of fields looked up on dot anywhere in the template (`.A` of `.A.B`).
fn referenced_fields(nodes: &[Node], out: &mut Vec<String>) {
    fn pipe(p: &Pipe, out: &mut Vec<String>) {
        for cmd in &p.cmds {
            for a in &cmd.args {
                match &a.kind {
                    ArgKind::Field(names) => out.extend(names.first().cloned()),
                    ArgKind::Chain(p, _) => super::deep(|| pipe(p, out)),
                    _ => {}
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Action(p) => pipe(p, out),
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                pipe(&b.pipe, out);
                super::deep(|| referenced_fields(&b.list, out));
                if let Some(e) = &b.else_list {
                    super::deep(|| referenced_fields(e, out));
                }
            }
            Node::Text(_) | Node::Break | Node::Continue => {}
        }
    }
}

/// Output of a list command (`ps`, `images`, `pod ps`, …) or of `inspect`,
/// following Podman's rules for a `--format` value.
///
/// * `table …`: a header line (unless disabled) and one line per row, aligned
///   with Podman's tabwriter; spaces in the format become column breaks.
/// * anything else: the template once per row, each followed by a newline
///   (unless the format already ranges over the list itself), no header.
///
/// JSON output (`is_json`) is not handled here; callers print rows with
/// `serde_json` themselves.
#[derive(Debug)]
pub struct Formatter {
    template: Template,
    table: bool,
}

impl Formatter {
    /// Parses a `--format` value; `name` appears in error messages (Podman
    /// uses the command name, e.g. `ps`).
    pub fn new(name: &str, format: &str) -> Result<Formatter, FormatError> {
        let table = has_table(format);
        let normalized = normalize_format(format);
        let text = if table {
            format!("{{{{range .}}}}{normalized}{{{{end -}}}}")
        } else if has_top_range(&normalized) {
            normalized
        } else {
            format!("{{{{range .}}}}{normalized}{{{{end -}}}}")
        };
        // As Podman: if the normalized text does not parse (e.g. a `\n`
        // inside a quoted string was expanded), try the text as typed.
        let template = match Template::parse(name, &text) {
            Ok(t) => t,
            Err(_) => Template::parse(name, format.strip_prefix("table ").unwrap_or(format))?,
        };
        Ok(Formatter { template, table })
    }

    /// Whether this is a `table` format (headers, aligned columns).
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Renders `rows`. In table mode a header line comes first unless
    /// `no_heading`; `overrides` maps field names to header texts
    /// (e.g. `("ID", "CONTAINER ID")`).
    pub fn render(
        &self,
        rows: &[Value],
        overrides: &[(&str, &str)],
        no_heading: bool,
    ) -> Result<String, FormatError> {
        let body = self.template.execute(&Value::List(rows.to_vec()))?;
        if !self.table {
            return Ok(body);
        }
        let mut text = String::new();
        if !no_heading {
            let headers = Value::List(vec![Value::Map(self.headers(rows.first(), overrides))]);
            text = self.template.execute(&headers)?;
        }
        text.push_str(&body);
        Ok(tabwriter::PODMAN.align(&text))
    }

    /// Podman executes the row template on a map from field name to header.
    fn headers(
        &self,
        sample: Option<&Value>,
        overrides: &[(&str, &str)],
    ) -> BTreeMap<String, Value> {
        let mut fields = Vec::new();
        referenced_fields(&self.template.tree.root, &mut fields);
        match sample {
            Some(Value::Struct(fs)) => fields.extend(fs.iter().map(|(k, _)| k.clone())),
            Some(Value::Map(m)) => fields.extend(m.keys().cloned()),
            _ => {}
        }
        let mut map: BTreeMap<String, Value> = fields
            .into_iter()
            .map(|f| (f.clone(), Value::String(header_name(&f))))
            .collect();
        for (field, header) in overrides {
            map.insert((*field).to_owned(), Value::String(header.to_uppercase()));
        }
        map
    }
}

/// `inspect --format`: the template on one object, followed by a newline
/// (Podman runs it as a list of one).
pub fn render_object(name: &str, format: &str, object: &Value) -> Result<String, FormatError> {
    Formatter::new(name, format)?.render(std::slice::from_ref(object), &[], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, value: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("ID".to_string(), Value::String(id.into())),
            ("Value".to_string(), Value::String(value.into())),
        ]))
    }

    fn rows() -> Vec<Value> {
        vec![
            row("c061a0839e", "one"),
            row("f10fc2e11057", "two"),
            row("1eb6fab5aa8f4b5cbfd3e66aa35e9b2a", "three"),
        ]
    }

    const IDENT: &[(&str, &str)] = &[("ID", "Identity"), ("Value", "Value")];

    #[test]
    fn json_detection() {
        for yes in [
            "json",
            " json\n",
            "{{json}}",
            "{{ json }}",
            "{{json .}}",
            "{{ json. }}",
            "{{json  .}}",
        ] {
            assert!(is_json(yes), "{yes:?}");
        }
        for no in [
            "{{json .ID}}",
            "jsonx",
            "{{.ID}}",
            "table json",
            "{{json . }} x",
            "",
        ] {
            assert!(!is_json(no), "{no:?}");
        }
    }

    #[test]
    fn normalize() {
        assert_eq!(
            normalize_format(r"table {{.ID}} {{.Names}}\t{{.X}}"),
            "{{.ID}}\t{{.Names}}\t{{.X}}\n"
        );
        assert_eq!(
            normalize_format(r"{{.ID}} {{.Names}}\n"),
            "{{.ID}} {{.Names}}\n"
        );
        assert_eq!(normalize_format("{{.ID}}\n"), "{{.ID}}\n");
    }

    #[test]
    fn headers_from_camel_case() {
        assert_eq!(header_name("CreatedHuman"), "CREATED HUMAN");
        assert_eq!(header_name("ID"), "ID");
        assert_eq!(header_name("InfraID"), "INFRA ID");
        assert_eq!(header_name("Fieldb"), "FIELDB");
        assert_eq!(header_name("fieldC"), "FIELD C");
        assert_eq!(header_name("NumberOfContainers"), "NUMBER OF CONTAINERS");
        assert_eq!(camel_split("PDFLoader"), ["PDF", "Loader"]);
        assert_eq!(camel_split("GL11Version"), ["GL", "11", "Version"]);
    }

    // Expected outputs from c/common formatter_test.go (run against Go).
    #[test]
    fn table_matches_podman() {
        let f = Formatter::new("t", "table {{.ID}}\t{{.Value}}").unwrap();
        assert!(f.is_table());
        // Podman upper-cases header overrides.
        assert_eq!(
            f.render(&rows(), IDENT, false).unwrap(),
            "IDENTITY                          VALUE\nc061a0839e                        one\nf10fc2e11057                      two\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  three\n"
        );
        for fmt in [
            "table {{ .ID}}",
            "table {{ .ID}}\n",
            r"table {{ .ID}}\n",
            "table {{.ID}}",
        ] {
            assert_eq!(
                Formatter::new("t", fmt)
                    .unwrap()
                    .render(&rows(), &[("ID", "Identity")], false)
                    .unwrap(),
                "IDENTITY\nc061a0839e\nf10fc2e11057\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\n",
                "{fmt:?}"
            );
        }
    }

    #[test]
    fn table_headers_are_derived_and_follow_the_template() {
        let row = Value::Struct(vec![
            ("ID".into(), Value::String("abc".into())),
            ("Names".into(), Value::String("web".into())),
            ("CreatedHuman".into(), Value::String("2 hours ago".into())),
        ]);
        let f = Formatter::new("ps", "table {{.Names}} {{.ID}} {{.CreatedHuman}}").unwrap();
        assert_eq!(
            f.render(std::slice::from_ref(&row), &[("ID", "container id")], false)
                .unwrap(),
            "NAMES       CONTAINER ID  CREATED HUMAN\nweb         abc           2 hours ago\n"
        );
        // Headers appear with no rows too, and can be turned off.
        assert_eq!(
            f.render(&[], &[], false).unwrap(),
            "NAMES       ID          CREATED HUMAN\n"
        );
        assert_eq!(
            f.render(std::slice::from_ref(&row), &[], true).unwrap(),
            "web         abc         2 hours ago\n"
        );
    }

    #[test]
    fn plain_formats_are_one_line_per_row() {
        let f = Formatter::new("t", "{{.ID}} {{.Value}}").unwrap();
        assert!(!f.is_table());
        assert_eq!(
            f.render(&rows(), IDENT, false).unwrap(),
            "c061a0839e one\nf10fc2e11057 two\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a three\n"
        );
        // Escapes are expanded; tabs are not aligned outside table mode.
        let f = Formatter::new("t", r"{{.ID}}\t{{.Value}}").unwrap();
        assert_eq!(
            f.render(&rows()[..1], &[], false).unwrap(),
            "c061a0839e\tone\n"
        );
        // A format that ranges itself runs once on the whole list.
        let f = Formatter::new("t", "{{range .}}{{.ID}}{{end -}}").unwrap();
        assert_eq!(
            f.render(&rows(), &[], false).unwrap(),
            "c061a0839ef10fc2e110571eb6fab5aa8f4b5cbfd3e66aa35e9b2a"
        );
        let f = Formatter::new("t", "{{range .}}{{.ID}}\tID\n{{end}}").unwrap();
        assert_eq!(
            f.render(&rows(), &[], false).unwrap(),
            "c061a0839e\tID\nf10fc2e11057\tID\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\tID\n\n"
        );
        // Podman regression (containers/podman#13446): falls back to the text as typed.
        let f = Formatter::new("t", r#"{{range .}}{{printf "\n"}}{{end -}}"#).unwrap();
        assert_eq!(f.render(&rows(), &[], false).unwrap(), "\n\n\n");
    }

    #[test]
    fn inspect_one_object() {
        let obj = Value::Struct(vec![("Id".into(), Value::String("abc".into()))]);
        assert_eq!(render_object("inspect", "{{.Id}}", &obj).unwrap(), "abc\n");
        let e = render_object("inspect", "{{.Nope}}", &obj)
            .unwrap_err()
            .to_string();
        assert!(e.contains("can't evaluate field Nope"), "{e}");
    }
}
