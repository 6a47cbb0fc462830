//! Evaluator of a parsed template over a [`Value`].
//!
//! Values during evaluation are `Option<Value>`: `None` is Go's "invalid"
//! value, produced by a missing map key; it prints `<no value>`, is false,
//! and looking up a field on it gives `None` again, as in Go.
//!
//! What a template may make is bounded, where Go's is not: the output plus the text and
//! lists that functions create add up to at most [`OUTPUT_LIMIT`] bytes, and past that the
//! execution stops with an error (`{{range 2147483647}}x{{end}}` or a string doubled in a
//! loop would otherwise grow until the process is killed). Ranging over an integer counts
//! without building the list first.

use std::collections::btree_map;

/// What an omitted struct field reads as.
static NIL: Value = Value::Nil;

/// Names templates use for a field the JSON spells otherwise: Podman's structs name the
/// field `ID` and tag it `Id`; Podman 4.3's `State.Healthcheck()` is a method answering
/// `Health`.
const ALIASES: &[(&str, &str)] = &[("ID", "Id"), ("Healthcheck", "Health")];

/// The field `name` of a struct as a Go template sees it: by its name, an alias, or the
/// JSON tag of a Go field `Number` tagged `number` (`info`'s store counts); an omitted
/// field (omitempty) is the Go field's zero value.
fn struct_field<'a>(fields: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v);
    let found = get(name)
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == name)
                .and_then(|(_, real)| get(real))
        })
        .or_else(|| get(&lower_first(name)))?;
    Some(if *found == Value::Omitted {
        &NIL
    } else {
        found
    })
}

use super::FormatError;
use super::funcs::{CallError, call_builtin, creates, size_of};
use super::parse::{Arg, ArgKind, Branch, Cmd, Node, Pipe, Tree};
use super::value::{Value, sprint_into};

type Val = Option<Value>;

/// The most one execution may write and create: far beyond any listing Podman users print
/// (a thousand containers' `{{json .}}` is a few MB), far below what hurts a host.
pub(super) const OUTPUT_LIMIT: usize = 256 << 20;

/// Runs `tree` on `data` and returns the output.
pub(super) fn execute(tree: &Tree, data: &Value) -> Result<String, FormatError> {
    execute_limited(tree, data, OUTPUT_LIMIT)
}

pub(super) fn execute_limited(
    tree: &Tree,
    data: &Value,
    limit: usize,
) -> Result<String, FormatError> {
    let mut st = State {
        tree,
        vars: vec![("$".into(), Some(data.clone()))],
        out: String::new(),
        created: 0,
        limit,
    };
    st.walk(data, &tree.root)?;
    Ok(st.out)
}

#[derive(PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'t> {
    tree: &'t Tree,
    vars: Vec<(String, Val)>,
    out: String,
    /// Bytes of text and lists functions made so far.
    created: usize,
    limit: usize,
}

/// What `range` walks, one element at a time.
enum Items {
    List(std::iter::Enumerate<std::vec::IntoIter<Value>>),
    Map(btree_map::IntoIter<String, Value>),
    Int(std::ops::Range<i64>),
    Uint(std::ops::Range<u64>),
}

impl Items {
    fn is_empty(&self) -> bool {
        match self {
            Items::List(l) => l.len() == 0,
            Items::Map(m) => m.len() == 0,
            Items::Int(r) => r.is_empty(),
            Items::Uint(r) => r.is_empty(),
        }
    }
}

impl Iterator for Items {
    type Item = (Value, Value);

    fn next(&mut self) -> Option<(Value, Value)> {
        match self {
            Items::List(l) => l.next().map(|(i, e)| (Value::Int(i as i64), e)),
            Items::Map(m) => m.next().map(|(k, e)| (Value::String(k), e)),
            Items::Int(r) => r.next().map(|i| (Value::Int(i), Value::Int(i))),
            Items::Uint(r) => r.next().map(|i| (Value::Uint(i), Value::Uint(i))),
        }
    }
}

fn limit_message(limit: usize) -> String {
    format!(
        "template output exceeds {} MiB: refusing to go on",
        limit >> 20
    )
}

/// Go's rendering of an action's value.
fn print_val(v: &Val, out: &mut String) {
    match v {
        None => out.push_str("<no value>"),
        Some(v) => sprint_into(v, out),
    }
}

impl State<'_> {
    fn err(&self, pos: usize, context: &str, msg: impl Into<String>) -> FormatError {
        FormatError::exec(&self.tree.name, &self.tree.src, pos, context, msg)
    }

    /// Bytes still free in the budget.
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.out.len() + self.created)
    }

    /// Fails at `pos` once the output and what functions made pass the limit.
    fn check(&self, pos: usize, context: &str) -> Result<(), FormatError> {
        if self.out.len() + self.created > self.limit {
            return Err(self.err(pos, context, limit_message(self.limit)));
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, FormatError> {
        super::deep(|| self.walk_nodes(dot, nodes))
    }

    fn walk_nodes(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, FormatError> {
        for node in nodes {
            let flow = match node {
                Node::Text(t) => {
                    if t.len() > self.room() {
                        return Err(self.err(0, "text", limit_message(self.limit)));
                    }
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.pipe(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        print_val(&v, &mut self.out);
                        self.check(pipe.pos, "output")?;
                    }
                    Flow::Normal
                }
                Node::If(b) => self.if_or_with(dot, b, false)?,
                Node::With(b) => self.if_or_with(dot, b, true)?,
                Node::Range(b) => self.range(dot, b)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn if_or_with(&mut self, dot: &Value, b: &Branch, with: bool) -> Result<Flow, FormatError> {
        let mark = self.vars.len();
        let v = self.pipe(dot, &b.pipe)?;
        let flow = match v {
            Some(v) if v.is_true() => {
                if with {
                    self.walk(&v, &b.list)?
                } else {
                    self.walk(dot, &b.list)?
                }
            }
            _ => match &b.else_list {
                Some(list) => self.walk(dot, list)?,
                None => Flow::Normal,
            },
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn range(&mut self, dot: &Value, b: &Branch) -> Result<Flow, FormatError> {
        let mark = self.vars.len();
        let v = self.pipe(dot, &b.pipe)?;
        let items = match v {
            None | Some(Value::Nil) => Items::List(Vec::new().into_iter().enumerate()),
            Some(Value::List(l)) => Items::List(l.into_iter().enumerate()),
            Some(Value::Map(m)) => Items::Map(m.into_iter()),
            Some(Value::Int(n)) => Items::Int(0..n.max(0)),
            Some(Value::Uint(n)) => Items::Uint(0..n),
            Some(other) => {
                return Err(self.err(
                    b.pipe.pos,
                    "range",
                    format!("range can't iterate over {}", other.to_go_string()),
                ));
            }
        };
        if items.is_empty() {
            let flow = match &b.else_list {
                Some(list) => self.walk(dot, list)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(flow);
        }
        for (key, elem) in items {
            let values = match b.pipe.decl.len() {
                1 => vec![elem.clone()],
                2 => vec![key, elem.clone()],
                _ => Vec::new(),
            };
            for (i, (name, v)) in b.pipe.decl.iter().zip(values).enumerate() {
                if b.pipe.assign {
                    self.set_var(name, Some(v));
                } else {
                    self.vars[mark + i].1 = Some(v);
                }
            }
            let inner = self.vars.len();
            let flow = self.walk(&elem, &b.list)?;
            self.vars.truncate(inner);
            if flow == Flow::Break {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set_var(&mut self, name: &str, v: Val) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn pipe(&mut self, dot: &Value, pipe: &Pipe) -> Result<Val, FormatError> {
        super::deep(|| self.pipe_cmds(dot, pipe))
    }

    fn pipe_cmds(&mut self, dot: &Value, pipe: &Pipe) -> Result<Val, FormatError> {
        let mut last: Option<Val> = None;
        for cmd in &pipe.cmds {
            last = Some(self.command(dot, cmd, last)?);
        }
        let v = last.unwrap_or(None);
        for name in &pipe.decl {
            if pipe.assign {
                self.set_var(name, v.clone());
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(&mut self, dot: &Value, cmd: &Cmd, last: Option<Val>) -> Result<Val, FormatError> {
        let first = &cmd.args[0];
        if let ArgKind::Func(name) = &first.kind {
            return self.call(dot, name, first.pos, &cmd.args[1..], last);
        }
        if cmd.args.len() > 1 || last.is_some() {
            let ctx = first.kind.describe();
            return Err(self.err(
                first.pos,
                &ctx,
                format!("can't give argument to non-function {ctx}"),
            ));
        }
        self.arg(dot, first)
    }

    fn arg(&mut self, dot: &Value, a: &Arg) -> Result<Val, FormatError> {
        match &a.kind {
            ArgKind::Dot => Ok(Some(dot.clone())),
            ArgKind::Nil => Ok(Some(Value::Nil)),
            ArgKind::Const(v) => Ok(Some(v.clone())),
            ArgKind::Field(names) => self.fields(Some(dot), names, a),
            ArgKind::Var(name, names) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, v)| v.as_ref());
                self.fields(v, names, a)
            }
            ArgKind::Func(name) => self.call(dot, name, a.pos, &[], None),
            ArgKind::Chain(pipe, names) => {
                let v = self.pipe(dot, pipe)?;
                if names.is_empty() {
                    Ok(v)
                } else {
                    self.fields(v.as_ref(), names, a)
                }
            }
        }
    }

    /// Follows `.A.B` from `v` by reference; only the result is cloned.
    fn fields(&self, v: Option<&Value>, names: &[String], a: &Arg) -> Result<Val, FormatError> {
        let mut v = v;
        for name in names {
            v = match v {
                None => None,
                Some(Value::Map(m)) => m.get(name),
                Some(Value::Struct(fields)) => match struct_field(fields, name) {
                    Some(f) => Some(f),
                    None => {
                        let msg = format!("can't evaluate field {name} in type struct");
                        return Err(self.err(a.pos, &a.kind.describe(), msg));
                    }
                },
                Some(Value::Nil) => {
                    let msg = format!("nil pointer evaluating interface {{}}.{name}");
                    return Err(self.err(a.pos, &a.kind.describe(), msg));
                }
                Some(other) => {
                    let msg = format!("can't evaluate field {name} in type {}", other.type_name());
                    return Err(self.err(a.pos, &a.kind.describe(), msg));
                }
            };
        }
        Ok(v.cloned())
    }

    fn call(
        &mut self,
        dot: &Value,
        name: &str,
        pos: usize,
        args: &[Arg],
        last: Option<Val>,
    ) -> Result<Val, FormatError> {
        // `and`/`or` evaluate their arguments lazily, left to right.
        if name == "and" || name == "or" {
            let n = args.len() + usize::from(last.is_some());
            if n == 0 {
                return Err(self.err(
                    pos,
                    name,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut v: Val = None;
            for a in args {
                v = self.arg(dot, a)?;
                let t = v.as_ref().is_some_and(Value::is_true);
                if (name == "and") != t {
                    return Ok(v);
                }
            }
            if let Some(l) = last {
                v = l;
            }
            return Ok(v);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(dot, a)?.unwrap_or(Value::Nil));
        }
        if let Some(l) = last {
            vals.push(l.unwrap_or(Value::Nil));
        }
        let v = call_builtin(name, vals, self.room()).map_err(|e| {
            let msg = match e {
                CallError::Arity(m) => m,
                CallError::Failed(m) => format!("error calling {name}: {m}"),
                CallError::TooLarge => {
                    format!("error calling {name}: {}", limit_message(self.limit))
                }
            };
            self.err(pos, name, msg)
        })?;
        if creates(name) {
            self.created = self.created.saturating_add(size_of(&v));
            self.check(pos, name)?;
        }
        Ok(Some(v))
    }
}

/// `Number` → `number`: the JSON tag Go code gives an exported field of that name.
fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) if f.is_ascii_uppercase() => f.to_ascii_lowercase().to_string() + c.as_str(),
        _ => String::new(),
    }
}
