//! `image history` (also `history`) and `image tree`, printed as Podman prints them.

use clap::Args;
use peapod_engine::Engine;
use peapod_engine::images::{HistoryEntry, ImageTree, TreeLayer};
use serde::Serialize;

use crate::output::print_list;
use crate::{CliError, CliResult, human};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Change the output to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Display sizes and dates in human readable format
    #[arg(short = 'H', long, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    pub human: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc", alias = "notruncate")]
    pub no_trunc: bool,
    /// Display the numeric IDs only
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub image: String,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// Show all child images and layers of the specified image
    #[arg(long)]
    pub whatrequires: bool,
    pub image: String,
}

/// A row as templates see it (Podman's `historyReporter`).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Row {
    ID: String,
    Created: String,
    CreatedBy: String,
    Size: String,
    Comment: String,
    CreatedAt: String,
    CreatedSince: String,
    Tags: Vec<String>,
}

/// A row of `--format json` (the layer, `Created` as RFC 3339 besides `created`).
#[derive(Serialize)]
struct JsonRow {
    id: String,
    created: String,
    #[serde(rename = "CreatedBy", skip_serializing_if = "String::is_empty")]
    created_by: String,
    size: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    comment: String,
    #[serde(rename = "Created")]
    created_rfc3339: String,
}

/// Go's `time.RFC3339Nano`: nanoseconds with trailing zeros dropped.
fn rfc3339_nano(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond();
    if nanos > 0 {
        s.push('.');
        s.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    s.push('Z');
    s
}

fn zero_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z")
        .map(|d| d.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

/// Go's `encoding/json` escapes `<`, `>` and `&` even inside strings; they cannot appear
/// in JSON outside one.
fn go_html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn row(e: &HistoryEntry, a: &HistoryArgs) -> Row {
    let t = e.created.unwrap_or_else(zero_time);
    let created = if a.human {
        human::ago(t)
    } else {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let id = if !a.no_trunc && e.id.len() >= 12 {
        e.id[..12].to_string()
    } else {
        e.id.clone()
    };
    let created_by = if !a.no_trunc && e.created_by.len() > 45 {
        let mut end = 42;
        while !e.created_by.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &e.created_by[..end])
    } else {
        e.created_by.clone()
    };
    Row {
        ID: id,
        Created: created.clone(),
        CreatedBy: created_by,
        Size: human::size(e.size),
        Comment: e.comment.clone(),
        CreatedAt: peapod_engine::container::inspect::go_time_string(t),
        CreatedSince: created,
        Tags: Vec::new(),
    }
}

pub fn history(engine: &Engine, a: HistoryArgs) -> CliResult {
    let entries = engine.image_history(&a.image)?;
    if a.format.as_deref().is_some_and(crate::format::is_json) {
        let rows: Vec<JsonRow> = entries
            .iter()
            .map(|e| {
                let t = e.created.unwrap_or_else(zero_time);
                JsonRow {
                    id: e.id.clone(),
                    created: rfc3339_nano(t),
                    created_by: e.created_by.clone(),
                    size: e.size,
                    comment: e.comment.clone(),
                    created_rfc3339: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                }
            })
            .collect();
        let json = serde_json::to_string(&rows).map_err(|e| CliError::engine(e.to_string()))?;
        println!("{}", go_html_escape(&json));
        return Ok(0);
    }
    let rows: Vec<Row> = entries.iter().map(|e| row(e, &a)).collect();
    let format = if a.quiet {
        "{{.ID}}".to_string()
    } else {
        a.format.clone().unwrap_or_else(|| {
            "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".into()
        })
    };
    let none: [(); 0] = [];
    print_list(
        "history",
        &format,
        &none,
        &rows,
        &[("CreatedBy", "CREATED BY")],
        false,
    )?;
    Ok(0)
}

fn layer_line(l: &TreeLayer) -> String {
    let mut s = format!(
        "ID: {} Size: {:>7}",
        &l.id[..12.min(l.id.len())],
        peapod_engine::container::resources::human_size(l.size)
    );
    if !l.top_of.is_empty() {
        s.push_str(&format!(" Top Layer of: [{}]", l.top_of.join(" ")));
    }
    s
}

/// A node of gotree's tree: its text and items.
struct Node {
    text: String,
    items: Vec<Node>,
}

/// gotree's `Print`: the root's text, then each item with `├── ` / `└── ` and the
/// continuation prefixes of its ancestors.
fn print_items(items: &[Node], spaces: &mut Vec<bool>, out: &mut String) {
    for (i, n) in items.iter().enumerate() {
        let last = i == items.len() - 1;
        for (j, line) in n.text.split('\n').enumerate() {
            for &s in spaces.iter() {
                out.push_str(if s { "    " } else { "│   " });
            }
            out.push_str(match (j, last) {
                (0, true) => "└── ",
                (0, false) => "├── ",
                (_, true) => "    ",
                (_, false) => "│   ",
            });
            out.push_str(line);
            out.push('\n');
        }
        if !n.items.is_empty() {
            spaces.push(last);
            print_items(&n.items, spaces, out);
            spaces.pop();
        }
    }
}

/// libimage's `imageTreeTraverseChildren`: a layer goes on its parent's level unless the
/// tree branches there, where each sibling starts a tree of its own.
fn traverse(l: &TreeLayer, level: &mut Vec<Node>) {
    if l.branches {
        let mut sub = Node {
            text: layer_line(l),
            items: Vec::new(),
        };
        for c in &l.children {
            traverse(c, &mut sub.items);
        }
        level.push(sub);
    } else {
        level.push(Node {
            text: layer_line(l),
            items: Vec::new(),
        });
        for c in &l.children {
            traverse(c, level);
        }
    }
}

fn render_tree(t: &ImageTree, what_requires: bool) -> String {
    let mut root = format!(
        "Image ID: {}\nTags:     [{}]\nSize:     {}\n",
        &t.id[..12.min(t.id.len())],
        t.tags.join(" "),
        peapod_engine::container::resources::human_size(t.size)
    );
    root.push_str(if t.layers.is_empty() {
        "No Image Layers"
    } else {
        "Image Layers"
    });
    let mut items = Vec::new();
    if what_requires {
        for l in &t.layers {
            traverse(l, &mut items);
        }
    } else {
        items = t
            .layers
            .iter()
            .map(|l| Node {
                text: layer_line(l),
                items: Vec::new(),
            })
            .collect();
    }
    let mut out = root;
    out.push('\n');
    print_items(&items, &mut Vec::new(), &mut out);
    out
}

pub fn tree(engine: &Engine, a: TreeArgs) -> CliResult {
    let t = engine.image_tree(&a.image, a.whatrequires)?;
    // Podman prints the tree with Println: one more newline.
    println!("{}", render_tree(&t, a.whatrequires));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_nano_times() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-06T01:27:42.779720720Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(rfc3339_nano(t), "2026-12-06T01:27:42.77972072Z");
        assert_eq!(rfc3339_nano(zero_time()), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn sizes_have_four_digits() {
        assert_eq!(
            peapod_engine::container::resources::human_size(2_127_872),
            "2.128MB"
        );
        assert_eq!(
            peapod_engine::container::resources::human_size(4_608),
            "4.608kB"
        );
        assert_eq!(
            peapod_engine::container::resources::human_size(2_135_040),
            "2.135MB"
        );
        assert_eq!(peapod_engine::container::resources::human_size(512), "512B");
        assert_eq!(
            peapod_engine::container::resources::human_size(10_240),
            "10.24kB"
        );
    }

    fn layer(id: &str, top: &[&str], children: Vec<TreeLayer>, branches: bool) -> TreeLayer {
        TreeLayer {
            id: id.repeat(12),
            size: 4608,
            top_of: top.iter().map(|s| s.to_string()).collect(),
            children,
            branches,
        }
    }

    #[test]
    fn trees_print_as_gotree() {
        let t = ImageTree {
            id: "c".repeat(64),
            tags: vec!["localhost/bb:latest".into()],
            size: 2_129_000,
            layers: vec![
                layer("a", &["localhost/bb:latest"], vec![], false),
                layer("b", &[], vec![], false),
            ],
        };
        assert_eq!(
            render_tree(&t, false),
            "Image ID: cccccccccccc\nTags:     [localhost/bb:latest]\nSize:     2.129MB\nImage Layers\n\
             ├── ID: aaaaaaaaaaaa Size: 4.608kB Top Layer of: [localhost/bb:latest]\n\
             └── ID: bbbbbbbbbbbb Size: 4.608kB\n"
        );
        // Two images on one base: the base, then a sub-tree per branch.
        let t = ImageTree {
            layers: vec![layer(
                "a",
                &[],
                vec![
                    layer("b", &["x:1"], vec![], true),
                    layer("d", &["y:1"], vec![], true),
                ],
                false,
            )],
            ..t
        };
        let out = render_tree(&t, true);
        assert!(
            out.ends_with(
                "Image Layers\n\
                 ├── ID: aaaaaaaaaaaa Size: 4.608kB\n\
                 ├── ID: bbbbbbbbbbbb Size: 4.608kB Top Layer of: [x:1]\n\
                 └── ID: dddddddddddd Size: 4.608kB Top Layer of: [y:1]\n"
            ),
            "{out}"
        );
    }
}
