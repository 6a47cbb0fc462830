//! From text to instruction nodes: BuildKit's `parser.Parse`. This owns the physical-line
//! rules: the byte-order mark, parser directives, comments, line continuations (comment
//! lines inside a continuation are dropped, empty ones are dropped with a warning, later
//! lines keep their leading blanks), and heredoc bodies, which are read after the line that
//! opens them.

use serde::Serialize;

use super::directives::{DirectiveParser, Directives};
use super::words::{self, Args};
use crate::build::expand::{Lex, NoEnv};

/// A heredoc attached to an instruction (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The terminator word, unquoted.
    pub name: String,
    /// The file descriptor number before `<<` (0 when none).
    pub fd: u32,
    /// No part of the word was quoted: the body may be expanded (COPY/ADD only).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body (and the terminator line).
    pub chomp: bool,
    /// The body, line endings included, leading tabs not yet stripped.
    pub content: String,
}

impl Heredoc {
    /// The body as used: leading tabs of each line removed for `<<-`.
    pub fn body(&self) -> String {
        if self.chomp {
            chomp_tabs(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// `ChompHeredocContent`: remove leading tabs from every line.
pub(crate) fn chomp_tabs(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

/// One instruction before typing (BuildKit's `Node`).
#[derive(Debug, Clone)]
pub(super) struct Node {
    /// The instruction name as written.
    pub cmd: String,
    pub flags: Vec<String>,
    pub args: Args,
    pub heredocs: Vec<Heredoc>,
    /// The logical line (continuations joined), as BuildKit's `Original`.
    pub original: String,
    pub start_line: usize,
    pub end_line: usize,
    /// ONBUILD's trigger; its name and arguments are also at the front of `args`.
    pub sub: Option<Box<Node>>,
}

impl Node {
    fn can_contain_heredoc(&self) -> bool {
        let node = match (&self.sub, self.cmd.eq_ignore_ascii_case("onbuild")) {
            (Some(sub), true) => sub,
            _ => self,
        };
        matches!(
            node.cmd.to_ascii_lowercase().as_str(),
            "add" | "copy" | "run"
        ) && !node.args.json
    }
}

/// The nodes of a file, with its directives and parser warnings.
pub(super) struct Lines {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    pub warnings: Vec<String>,
}

/// A parse failure at a 1-based line.
pub(super) struct LineError {
    pub line: usize,
    pub message: String,
}

fn at(line: usize, message: impl Into<String>) -> LineError {
    LineError {
        line,
        message: message.into(),
    }
}

/// Split into lines, keeping each line's ending (BuildKit's `scanLines`).
fn physical_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The continuation rule: the line ends with the escape character (then only blanks), not
/// itself escaped. Returns the line without it, and whether the logical line ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line.to_string(), true);
    };
    if before.ends_with(escape) {
        return (line.to_string(), true);
    }
    (before.to_string(), false)
}

struct Scanner<'a> {
    lines: Vec<&'a str>,
    next: usize,
    /// Lines consumed so far (the 1-based number of the last one).
    current: usize,
    directives: Directives,
    directive_parser: DirectiveParser,
}

impl<'a> Scanner<'a> {
    fn take(&mut self) -> Option<&'a str> {
        let l = self.lines.get(self.next).copied()?;
        self.next += 1;
        Some(l)
    }

    /// BuildKit's `processLine`: trim the line ending (and leading blanks on a first line),
    /// see whether it is a directive, and drop it if it is a comment.
    fn process(&mut self, raw: &str, strip_left: bool) -> Result<String, LineError> {
        let mut token = trim_newline(raw);
        if strip_left {
            token = token.trim_start();
        }
        self.directive_parser
            .parse_line(token, &mut self.directives)
            .map_err(|m| at(self.current + 1, m))?;
        Ok(if is_comment(token) {
            String::new()
        } else {
            token.to_string()
        })
    }

    /// Read the body of `doc` up to its terminator line.
    fn heredoc_body(&mut self, doc: &mut Heredoc, start: usize) -> Result<(), LineError> {
        let mut content = String::new();
        while let Some(raw) = self.take() {
            self.current += 1;
            let mut candidate = trim_newline(raw);
            if doc.chomp {
                candidate = candidate.trim_start_matches('\t');
            }
            if candidate == doc.name {
                doc.content = content;
                return Ok(());
            }
            content.push_str(raw);
        }
        Err(at(start, "unterminated heredoc"))
    }
}

/// Read a whole file into nodes.
pub(super) fn scan(text: &str) -> Result<Lines, LineError> {
    let mut sc = Scanner {
        lines: physical_lines(text),
        next: 0,
        current: 0,
        directives: Directives::default(),
        directive_parser: DirectiveParser::default(),
    };
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    while let Some(mut raw) = sc.take() {
        if sc.current == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        let first = sc.process(raw, true)?;
        sc.current += 1;
        let start = sc.current;
        let (first, mut end_of_line) = trim_continuation(&first, sc.directives.escape);
        if end_of_line && first.is_empty() {
            continue;
        }
        let mut line = first;
        let mut empty_continuation = false;
        while !end_of_line {
            let Some(raw) = sc.take() else { break };
            let processed = sc.process(raw, false)?;
            sc.current += 1;
            if is_comment(raw) {
                continue;
            }
            if trim_newline(&processed).trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, eol) = trim_continuation(&processed, sc.directives.escape);
            end_of_line = eol;
            line.push_str(&part);
        }
        if empty_continuation {
            warnings.push(format!("Empty continuation line found in: {line}"));
        }
        let mut node = node_from_line(&line, sc.directives.escape).map_err(|m| at(start, m))?;
        if node.can_contain_heredoc() && line.contains("<<") {
            let mut docs = heredocs_from_line(&line).map_err(|m| at(start, m))?;
            for doc in &mut docs {
                sc.heredoc_body(doc, start)?;
            }
            node.heredocs = docs;
        }
        node.start_line = start;
        node.end_line = sc.current;
        nodes.push(node);
    }
    Ok(Lines {
        directives: sc.directives,
        nodes,
        warnings,
    })
}

/// `newNodeFromLine`: split off the name and flags and apply the instruction's line parser.
fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let (cmd, flags, rest) = words::split_command(line, escape);
    let mut sub = None;
    let args = match cmd.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => words::parse_maybe_json_to_list(&rest)?,
        "arg" => Args {
            args: words::parse_words(&rest, escape),
            json: false,
        },
        "cmd" | "entrypoint" | "run" | "shell" => words::parse_maybe_json(&rest)?,
        "env" => Args {
            args: words::parse_name_val(&rest, "ENV", escape)?,
            json: false,
        },
        "label" => Args {
            args: words::parse_name_val(&rest, "LABEL", escape)?,
            json: false,
        },
        "expose" | "from" => Args {
            args: words::parse_strings_ws(&rest),
            json: false,
        },
        "healthcheck" => words::parse_health_config(&rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => Args {
            args: words::parse_string(&rest),
            json: false,
        },
        "onbuild" if !rest.is_empty() => {
            let child = node_from_line(&rest, escape)?;
            let mut args = vec![child.cmd.clone()];
            args.extend(child.args.args.iter().cloned());
            sub = Some(Box::new(child));
            Args { args, json: false }
        }
        // Unknown instructions are refused when typed, with a suggestion.
        _ => Args::default(),
    };
    Ok(Node {
        cmd,
        flags,
        args,
        heredocs: Vec::new(),
        original: line.to_string(),
        start_line: 0,
        end_line: 0,
        sub,
    })
}

/// The heredocs a line opens, in order (`heredocsFromLine`).
fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, String> {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    // BuildKit ignores a lexing error here: the line then opens no heredoc.
    let words = lex.process_words(line, &NoEnv).unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(doc) = parse_heredoc(&word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// `ParseHeredoc`: whether a word is `[n]<<[-]WORD`, and the heredoc it opens.
pub(crate) fn parse_heredoc(src: &str) -> Result<Option<Heredoc>, String> {
    // ^(\d*)<<(-?)\s*([^<]*)$
    let digits = src.len() - src.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(after) = src[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\x0c', '\r', ' ']);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let fd = src[..digits].parse::<u32>().unwrap_or(0);

    // Lex the word with and without quotes: if the quote counts differ, part of it was
    // quoted, and the body is not expanded.
    let mut lex = Lex::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &NoEnv)?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &NoEnv)?;
    if raw.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    Ok(Some(Heredoc {
        name: words[0].clone(),
        fd,
        expand: quotes(&words[0]) == quotes(&raw[0]),
        chomp,
        content: String::new(),
    }))
}
