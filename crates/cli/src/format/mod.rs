//! Go `text/template` engine and table/JSON output shared by every command
//! (`--format`).
//!
//! Podman's `--format` is a Go template run over Go structs. We run the same
//! templates over a [`Value`] built from any `Serialize` type ([`to_value`]):
//! serde structs keep their field order and print as Go prints structs
//! (`{v1 v2}`), serde maps print as Go maps (`map[k:v]`, sorted).
//!
//! * `lex` / `parse` / `exec`: the template language (Go semantics).
//! * `funcs`: the functions (Go's builtins, Podman's `json lower upper title join split
//!   truncate pad`); `printf`: Go's `fmt` verbs for `print`, `printf`, `println`.
//! * `tabwriter`: Go's `text/tabwriter` alignment with Podman's settings.
//! * `report`: Podman's output rules (`table` prefix, headers, JSON detection).
//!
//! No template aborts the process: nesting is bounded (see `parse`), recursion runs on
//! stack segments grown on demand ([`deep`]), printf widths follow Go's bounds (see
//! `printf`) and one execution writes and creates at most `exec::OUTPUT_LIMIT` bytes.
//! Anything past those is an error (`Error: template: …`, exit 125).
//!
//! Self-contained on purpose: it depends on serde, serde_json, stacker and std only,
//! and uses no other part of the CLI or the engine. Not supported (Podman
//! users do not need them): `define`/`template`/`block`, method calls,
//! complex numbers.

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
mod report;
mod tabwriter;
mod value;

/// Runs `f` with at least 256 KiB of stack left, on a fresh 4 MiB segment when the
/// current one is nearly used up. Every recursive step of the parser, the evaluator and
/// the tree walkers goes through here, so a template nested as deep as the parser allows
/// never overflows the stack, whatever the thread's stack size or the build profile.
pub(crate) fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(256 * 1024, 4 * 1024 * 1024, f)
}

use std::fmt;

pub use report::{
    Formatter, camel_split, has_table, header_name, is_json, normalize_format, render_object,
};
pub use tabwriter::{PODMAN as PODMAN_TABWRITER, TabWriter};
pub use value::{Value, to_value};

/// Why a template could not be parsed or executed, or data not converted.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatError {
    /// The template text is not valid (`template: NAME:LINE: MESSAGE`).
    Parse {
        name: String,
        line: usize,
        message: String,
    },
    /// Executing the template failed (`template: NAME:LINE:COL: executing
    /// "NAME" at <CONTEXT>: MESSAGE`, as Go words it).
    Exec {
        name: String,
        line: usize,
        col: usize,
        context: String,
        message: String,
    },
    /// The data could not be turned into a [`Value`].
    Value(String),
}

/// Line (1-based) and column (0-based byte offset in the line) of `pos`.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos.min(src.len())];
    let line = 1 + before.matches('\n').count();
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1);
    (line, col)
}

impl FormatError {
    pub(crate) fn parse(name: &str, src: &str, pos: usize, message: impl Into<String>) -> Self {
        let (line, _) = line_col(src, pos);
        FormatError::Parse {
            name: name.into(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn exec(
        name: &str,
        src: &str,
        pos: usize,
        context: &str,
        message: impl Into<String>,
    ) -> Self {
        let (line, col) = line_col(src, pos);
        // Go shortens long contexts to 20 bytes plus "...".
        let context = if context.len() > 20 {
            let mut end = 20;
            while !context.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}...", &context[..end])
        } else {
            context.to_owned()
        };
        FormatError::Exec {
            name: name.into(),
            line,
            col,
            context,
            message: message.into(),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Parse {
                name,
                line,
                message,
            } => write!(f, "template: {name}:{line}: {message}"),
            FormatError::Exec {
                name,
                line,
                col,
                context,
                message,
            } => {
                write!(
                    f,
                    "template: {name}:{line}:{col}: executing {name:?} at <{context}>: {message}"
                )
            }
            FormatError::Value(m) => write!(f, "cannot format value: {m}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// A parsed Go template, executed as is (no Podman wrapping). Not `Clone`: a deep tree
/// would be copied recursively.
#[derive(Debug)]
pub struct Template {
    tree: parse::Tree,
}

impl Template {
    /// Parses `text`; `name` appears in error messages.
    pub fn parse(name: &str, text: &str) -> Result<Template, FormatError> {
        Ok(Template {
            tree: parse::parse(name, text)?,
        })
    }

    /// Runs the template with `data` as dot and `$`.
    pub fn execute(&self, data: &Value) -> Result<String, FormatError> {
        exec::execute(&self.tree, data)
    }
}

/// Parses and runs `text` on `data` in one go.
pub fn render(name: &str, text: &str, data: &Value) -> Result<String, FormatError> {
    Template::parse(name, text)?.execute(data)
}

#[cfg(test)]
mod tests;
