//! Parser from tokens to the template tree. Like Go's parser it rejects
//! unknown functions and undefined variables at parse time.
//!
//! Nesting is bounded: parenthesized pipelines at Go's 10000 levels ("max expression depth
//! exceeded"), and `if`/`range`/`with` at the same depth, where Go has no limit of its own
//! (a `--format` argument, at most 128 KiB, holds fewer than 9000 closed `{{if}}`s). Trees
//! are dropped without recursion, so a deep one cannot overflow the stack on its way out.

use super::FormatError;
use super::funcs::is_function;
use super::lex::{Tok, Token, lex};
use super::value::Value;

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Break,
    Continue,
}

#[derive(Debug)]
pub(super) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(super) struct Pipe {
    pub pos: usize,
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub(super) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug)]
pub(super) struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

#[derive(Debug)]
pub(super) enum ArgKind {
    Dot,
    Nil,
    /// A literal (bool, number, string).
    Const(Value),
    /// `.A.B` relative to dot.
    Field(Vec<String>),
    /// `$x.A.B`
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// `(pipeline).A.B` (fields may be empty).
    Chain(Box<Pipe>, Vec<String>),
}

impl ArgKind {
    /// Go-like source rendering, used as error context (`<.Foo>`).
    pub fn describe(&self) -> String {
        let fields = |f: &[String]| f.iter().map(|n| format!(".{n}")).collect::<String>();
        match self {
            ArgKind::Dot => ".".into(),
            ArgKind::Nil => "nil".into(),
            ArgKind::Const(Value::String(s)) => format!("{s:?}"),
            ArgKind::Const(v) => v.to_go_string(),
            ArgKind::Field(f) => fields(f),
            ArgKind::Var(v, f) => format!("{v}{}", fields(f)),
            ArgKind::Func(name) => name.clone(),
            ArgKind::Chain(_, f) => format!("(...){}", fields(f)),
        }
    }
}

/// A parsed template.
#[derive(Debug)]
pub(super) struct Tree {
    pub name: String,
    pub src: String,
    pub root: Vec<Node>,
}

// Dropping a tree the derived way recurses once per level of nesting; these take the
// nested lists and pipelines out and drop them from a work list instead.
impl Drop for Branch {
    fn drop(&mut self) {
        let mut work: Vec<Node> = std::mem::take(&mut self.list);
        work.extend(self.else_list.take().into_iter().flatten());
        while let Some(mut node) = work.pop() {
            if let Node::If(b) | Node::Range(b) | Node::With(b) = &mut node {
                work.append(&mut b.list);
                if let Some(e) = b.else_list.as_mut() {
                    work.append(e);
                }
            }
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        fn take_chains(cmds: &mut [Cmd], into: &mut Vec<Pipe>) {
            for arg in cmds.iter_mut().flat_map(|c| c.args.iter_mut()) {
                if matches!(arg.kind, ArgKind::Chain(..))
                    && let ArgKind::Chain(p, _) = std::mem::replace(&mut arg.kind, ArgKind::Nil)
                {
                    into.push(*p);
                }
            }
        }
        let mut work = Vec::new();
        take_chains(&mut self.cmds, &mut work);
        while let Some(mut p) = work.pop() {
            take_chains(&mut p.cmds, &mut work);
        }
    }
}

enum Term {
    Eof,
    End,
    /// `{{else}}`, or `{{else if …}}` / `{{else with …}}` (the keyword is
    /// left unconsumed).
    Else,
}

/// Go's `maxStackDepth` for parenthesized pipelines; ours for control structures too.
pub(super) const MAX_DEPTH: usize = 10_000;

struct Parser<'a> {
    name: &'a str,
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// `if`/`range`/`with` levels open, and `(` levels open.
    control_depth: usize,
    paren_depth: usize,
}

pub(super) fn parse(name: &str, src: &str) -> Result<Tree, FormatError> {
    let toks = lex(name, src)?;
    let mut p = Parser {
        name,
        src,
        toks,
        i: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        control_depth: 0,
        paren_depth: 0,
    };
    let (root, term) = p.list()?;
    match term {
        Term::Eof => Ok(Tree {
            name: name.into(),
            src: src.into(),
            root,
        }),
        Term::End => Err(p.err_prev("unexpected {{end}}")),
        Term::Else => Err(p.err_prev("unexpected {{else}}")),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err_at(&self, pos: usize, msg: impl Into<String>) -> FormatError {
        FormatError::parse(self.name, self.src, pos, msg)
    }

    fn err_prev(&self, msg: impl Into<String>) -> FormatError {
        let pos = self.toks[self.i.saturating_sub(1)].pos;
        self.err_at(pos, msg)
    }

    fn unexpected(&self, t: &Token, context: &str) -> FormatError {
        let what = match &t.tok {
            Tok::Eof => return self.err_at(t.pos, "unexpected EOF"),
            Tok::Right => "}}".to_string(),
            Tok::RParen => ")".into(),
            Tok::LParen => "(".into(),
            Tok::Pipe => "|".into(),
            Tok::Comma => ",".into(),
            Tok::Declare => ":=".into(),
            Tok::Assign => "=".into(),
            Tok::Ident(s) | Tok::Number(s) => s.clone(),
            Tok::Str(s) => format!("{s:?}"),
            other => format!("{other:?}"),
        };
        self.err_at(t.pos, format!("unexpected {what:?} in {context}"))
    }

    fn expect_right(&mut self, context: &str) -> Result<(), FormatError> {
        let t = self.next();
        if t.tok == Tok::Right {
            Ok(())
        } else {
            Err(self.unexpected(&t, context))
        }
    }

    /// Parses nodes until EOF, `{{end}}` or `{{else}}`.
    fn list(&mut self) -> Result<(Vec<Node>, Term), FormatError> {
        super::deep(|| self.list_nodes())
    }

    fn list_nodes(&mut self) -> Result<(Vec<Node>, Term), FormatError> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => return Ok((nodes, Term::Eof)),
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Left => {
                    let kw = match self.peek_at(0) {
                        Tok::Ident(k) => k.clone(),
                        _ => String::new(),
                    };
                    match kw.as_str() {
                        "end" => {
                            self.next();
                            self.expect_right("end")?;
                            return Ok((nodes, Term::End));
                        }
                        "else" => {
                            self.next();
                            let follows_kw = matches!(self.peek_at(0), Tok::Ident(k) if k == "if" || k == "with");
                            if !follows_kw {
                                self.expect_right("else")?;
                            }
                            return Ok((nodes, Term::Else));
                        }
                        "if" | "range" | "with" => {
                            let kw_pos = self.next().pos;
                            if self.control_depth >= MAX_DEPTH {
                                return Err(self.err_at(
                                    kw_pos,
                                    format!("max nesting depth exceeded: more than {MAX_DEPTH} levels of if, range and with"),
                                ));
                            }
                            self.control_depth += 1;
                            let node = self.control(&kw);
                            self.control_depth -= 1;
                            nodes.push(node?);
                        }
                        "break" | "continue" => {
                            let t = self.next();
                            self.expect_right(&kw)?;
                            if self.range_depth == 0 {
                                return Err(self
                                    .err_at(t.pos, format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                            }
                            nodes.push(if kw == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        "define" | "template" | "block" => {
                            return Err(self.err_at(
                                self.peek().pos,
                                format!("{{{{{kw}}}}} is not supported"),
                            ));
                        }
                        _ => {
                            let pipe = self.pipeline("command", false)?;
                            self.expect_right("command")?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                _ => return Err(self.unexpected(&t, "input")),
            }
        }
    }

    /// `if`/`range`/`with` after the keyword.
    fn control(&mut self, kw: &str) -> Result<Node, FormatError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(kw, kw == "range")?;
        self.expect_right(kw)?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let body = self.list();
        if kw == "range" {
            self.range_depth -= 1;
        }
        let (list, term) = body?;
        let else_list = match term {
            Term::Eof => return Err(self.err_prev("unexpected EOF")),
            Term::End => None,
            Term::Else => {
                let chained = match self.peek_at(0) {
                    Tok::Ident(k) if (k == "if" && kw == "if") || (k == "with" && kw == "with") => {
                        true
                    }
                    Tok::Ident(k) if k == "if" || k == "with" => {
                        return Err(self.err_at(
                            self.peek().pos,
                            format!("unexpected {k:?} after else in {kw}"),
                        ));
                    }
                    _ => false,
                };
                if chained {
                    // `{{else if x}}…{{end}}` is `{{else}}{{if x}}…{{end}}{{end}}`:
                    // the nested control consumes the shared {{end}}.
                    self.next();
                    Some(vec![self.control(kw)?])
                } else {
                    let (else_list, term) = self.list()?;
                    match term {
                        Term::End => Some(else_list),
                        Term::Eof => return Err(self.err_prev("unexpected EOF")),
                        Term::Else => {
                            return Err(
                                self.err_prev(format!("expected end; found {{{{else}}}} in {kw}"))
                            );
                        }
                    }
                }
            }
        };
        self.vars.truncate(mark);
        let branch = Branch {
            pipe,
            list,
            else_list,
        };
        Ok(match kw {
            "if" => Node::If(branch),
            "range" => Node::Range(branch),
            _ => Node::With(branch),
        })
    }

    /// A pipeline, with optional declaration, up to (not including) `}}` or `)`.
    fn pipeline(&mut self, context: &str, allow_two: bool) -> Result<Pipe, FormatError> {
        let pos = self.peek().pos;
        let mut decl = Vec::new();
        let mut assign = false;
        if let Tok::Var(v) = self.peek_at(0).clone() {
            match self.peek_at(1) {
                Tok::Declare | Tok::Assign => {
                    assign = *self.peek_at(1) == Tok::Assign;
                    self.i += 2;
                    decl.push(v);
                }
                Tok::Comma if allow_two => {
                    if let (Tok::Var(v2), Tok::Declare | Tok::Assign) =
                        (self.peek_at(2).clone(), self.peek_at(3))
                    {
                        assign = *self.peek_at(3) == Tok::Assign;
                        self.i += 4;
                        decl.push(v);
                        decl.push(v2);
                    }
                }
                _ => {}
            }
        }
        for v in &decl {
            if assign {
                if !self.vars.contains(v) {
                    return Err(self.err_at(pos, format!("undefined variable {v:?}")));
                }
            } else {
                self.vars.push(v.clone());
            }
        }
        let mut cmds = Vec::new();
        loop {
            let cmd = self.command(context)?;
            // Go: only something callable can take the previous stage's value.
            let executable = cmd.args.first().is_none_or(|first| {
                matches!(
                    first.kind,
                    ArgKind::Func(_) | ArgKind::Chain(..) | ArgKind::Field(_) | ArgKind::Var(..)
                )
            });
            if !cmds.is_empty() && !executable {
                return Err(self.err_at(
                    cmd.pos,
                    format!(
                        "non executable command in pipeline stage {}",
                        cmds.len() + 1
                    ),
                ));
            }
            cmds.push(cmd);
            if self.peek_at(0) == &Tok::Pipe {
                self.next();
            } else {
                break;
            }
        }
        Ok(Pipe {
            pos,
            decl,
            assign,
            cmds,
        })
    }

    fn command(&mut self, context: &str) -> Result<Cmd, FormatError> {
        let pos = self.peek().pos;
        let mut args = Vec::new();
        loop {
            match self.peek_at(0) {
                Tok::Right | Tok::RParen | Tok::Pipe | Tok::Eof => break,
                _ => args.push(self.operand(context)?),
            }
        }
        if args.is_empty() {
            let t = self.peek().clone();
            return Err(match t.tok {
                Tok::Eof => self.err_at(t.pos, "unclosed action"),
                _ => self.err_at(t.pos, "missing value for command"),
            });
        }
        Ok(Cmd { pos, args })
    }

    /// A term followed by adjacent field accesses.
    fn operand(&mut self, context: &str) -> Result<Arg, FormatError> {
        let t = self.next();
        let pos = t.pos;
        let kind = match t.tok {
            Tok::Dot => ArgKind::Dot,
            Tok::Nil => ArgKind::Nil,
            Tok::Bool(b) => ArgKind::Const(Value::Bool(b)),
            Tok::Str(s) => ArgKind::Const(Value::String(s)),
            Tok::Number(n) => ArgKind::Const(
                parse_number(&n)
                    .ok_or_else(|| self.err_at(pos, format!("bad number syntax: {n:?}")))?,
            ),
            Tok::Field(f) => ArgKind::Field(self.fields(vec![f])),
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err(self.err_at(pos, format!("undefined variable {v:?}")));
                }
                ArgKind::Var(v, self.fields(Vec::new()))
            }
            Tok::Ident(name) => {
                if !is_function(&name) {
                    return Err(self.err_at(pos, format!("function {name:?} not defined")));
                }
                ArgKind::Func(name)
            }
            Tok::LParen => {
                if self.paren_depth >= MAX_DEPTH {
                    return Err(self.err_at(pos, "max expression depth exceeded"));
                }
                self.paren_depth += 1;
                let pipe = super::deep(|| self.pipeline("parenthesized pipeline", false));
                self.paren_depth -= 1;
                let pipe = pipe?;
                let close = self.next();
                if close.tok != Tok::RParen {
                    return Err(self.unexpected(&close, "parenthesized pipeline"));
                }
                ArgKind::Chain(Box::new(pipe), self.fields(Vec::new()))
            }
            _ => return Err(self.unexpected(&t, context)),
        };
        Ok(Arg { pos, kind })
    }

    /// Collects `.A.B` directly following (no space) the previous token.
    fn fields(&mut self, mut names: Vec<String>) -> Vec<String> {
        while let Tok::Field(f) = self.peek_at(0) {
            if self.peek().spaced {
                break;
            }
            names.push(f.clone());
            self.i += 1;
        }
        names
    }
}

/// A numeric literal as Go's parser reads it: integers (decimal, hex, octal,
/// binary, with `_`) stay integers, anything else is a float.
fn parse_number(s: &str) -> Option<Value> {
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if let Ok(u) = u64::from_str_radix(digits, radix) {
        return if neg {
            i64::try_from(u)
                .ok()
                .map(|i| Value::Int(-i))
                .or_else(|| (u == 1 << 63).then_some(Value::Int(i64::MIN)))
        } else if let Ok(i) = i64::try_from(u) {
            Some(Value::Int(i))
        } else {
            Some(Value::Uint(u))
        };
    }
    if radix != 10
        || digits.is_empty()
        || !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        return None;
    }
    let f: f64 = digits.parse().ok()?;
    Some(Value::Float(if neg { -f } else { f }))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
