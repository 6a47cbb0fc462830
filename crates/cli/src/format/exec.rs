//! Evaluator of a parsed template over a [`Value`], and the template functions
//! (Go's builtins plus Podman's `pkg/report` ones).
//!
//! Values during evaluation are `Option<Value>`: `None` is Go's "invalid"
//! value, produced by a missing map key; it prints `<no value>`, is false,
//! and looking up a field on it gives `None` again, as in Go.

use std::cmp::Ordering;

use super::FormatError;
use super::parse::{Arg, ArgKind, Branch, Cmd, Node, Pipe, Tree};
use super::value::{Value, go_exponent, go_float, sprint_into};

type Val = Option<Value>;

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "lower", "upper", "title", "join", "split", "truncate", "pad",
];

pub(super) fn is_function(name: &str) -> bool {
    FUNCS.contains(&name)
}

/// Runs `tree` on `data` and returns the output.
pub(super) fn execute(tree: &Tree, data: &Value) -> Result<String, FormatError> {
    let mut st = State {
        tree,
        vars: vec![("$".into(), Some(data.clone()))],
        out: String::new(),
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

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, FormatError> {
        for node in nodes {
            let flow = match node {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.pipe(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        print_val(&v, &mut self.out);
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
        let items: Vec<(Value, Value)> = match v {
            None | Some(Value::Nil) => Vec::new(),
            Some(Value::List(l)) => l
                .into_iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e))
                .collect(),
            Some(Value::Map(m)) => m.into_iter().map(|(k, e)| (Value::String(k), e)).collect(),
            Some(Value::Int(n)) => (0..n.max(0))
                .map(|i| (Value::Int(i), Value::Int(i)))
                .collect(),
            Some(Value::Uint(n)) => (0..n).map(|i| (Value::Uint(i), Value::Uint(i))).collect(),
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
                Some(Value::Struct(fields)) => match fields.iter().find(|(k, _)| k == name) {
                    Some((_, f)) => Some(f),
                    // Podman's structs name the field `ID` and tag it `Id` in JSON; templates
                    // see the Go name, and Podman rewrites `{{.Id}}` to it.
                    None if name == "ID" && fields.iter().any(|(k, _)| k == "Id") => {
                        fields.iter().find(|(k, _)| k == "Id").map(|(_, f)| f)
                    }
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
        call_builtin(name, vals).map(Some).map_err(|e| {
            let msg = match e {
                CallError::Arity(m) => m,
                CallError::Failed(m) => format!("error calling {name}: {m}"),
            };
            self.err(pos, name, msg)
        })
    }
}

enum CallError {
    Arity(String),
    Failed(String),
}

impl From<String> for CallError {
    fn from(s: String) -> Self {
        CallError::Failed(s)
    }
}

fn arity(name: &str, args: &[Value], min: usize, max: Option<usize>) -> Result<(), CallError> {
    let n = args.len();
    match max {
        Some(m) if m == min && n != m => Err(CallError::Arity(format!(
            "wrong number of args for {name}: want {m} got {n}"
        ))),
        Some(m) if n > m => Err(CallError::Arity(format!(
            "wrong number of args for {name}: want at most {m} got {n}"
        ))),
        _ if n < min => Err(CallError::Arity(format!(
            "wrong number of args for {name}: want at least {min} got {n}"
        ))),
        _ => Ok(()),
    }
}

fn want_str(v: &Value) -> Result<&str, String> {
    match v {
        Value::String(s) => Ok(s),
        Value::Nil => Err("invalid value; expected string".into()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
    }
}

fn want_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| format!("{u} overflows int")),
        Value::Nil => Err("invalid value; expected int".into()),
        other => Err(format!(
            "wrong type for value; expected int; got {}",
            other.type_name()
        )),
    }
}

fn want_usize(v: &Value) -> Result<usize, String> {
    let i = want_int(v)?;
    usize::try_from(i).map_err(|_| format!("negative count: {i}"))
}

fn call_builtin(name: &str, a: Vec<Value>) -> Result<Value, CallError> {
    Ok(match name {
        "not" => {
            arity(name, &a, 1, Some(1))?;
            Value::Bool(!a[0].is_true())
        }
        "len" => {
            arity(name, &a, 1, Some(1))?;
            let n = match &a[0] {
                Value::String(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                Value::Nil => return Err("len of nil pointer".to_string().into()),
                other => return Err(format!("len of type {}", other.type_name()).into()),
            };
            Value::Int(n as i64)
        }
        "index" => {
            arity(name, &a, 1, None)?;
            let mut it = a.into_iter();
            let mut cur = it.next().unwrap_or(Value::Nil);
            for key in it {
                cur = index(cur, &key)?;
            }
            cur
        }
        "slice" => {
            arity(name, &a, 1, Some(4))?;
            slice(&a)?
        }
        "print" => Value::String(sprint(&a)),
        "println" => {
            let parts: Vec<String> = a.iter().map(Value::to_go_string).collect();
            Value::String(parts.join(" ") + "\n")
        }
        "printf" => {
            arity(name, &a, 1, None)?;
            Value::String(sprintf(want_str(&a[0])?, &a[1..]))
        }
        "eq" | "ne" => {
            arity(name, &a, 2, if name == "ne" { Some(2) } else { None })?;
            let mut truth = false;
            for other in &a[1..] {
                if eq(&a[0], other)? {
                    truth = true;
                    break;
                }
            }
            Value::Bool(if name == "eq" { truth } else { !truth })
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(name, &a, 2, Some(2))?;
            let ord = compare(&a[0], &a[1])?;
            Value::Bool(match name {
                "lt" => ord == Ordering::Less,
                "le" => ord != Ordering::Greater,
                "gt" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            })
        }
        "json" => {
            arity(name, &a, 1, Some(1))?;
            // serde_json never escapes HTML characters, like Podman's
            // encoder with SetEscapeHTML(false); no trailing newline.
            Value::String(serde_json::to_string(&a[0]).map_err(|e| e.to_string())?)
        }
        "lower" => {
            arity(name, &a, 1, Some(1))?;
            Value::String(want_str(&a[0])?.to_lowercase())
        }
        "upper" => {
            arity(name, &a, 1, Some(1))?;
            Value::String(want_str(&a[0])?.to_uppercase())
        }
        "title" => {
            arity(name, &a, 1, Some(1))?;
            Value::String(title(want_str(&a[0])?))
        }
        "join" => {
            arity(name, &a, 2, Some(2))?;
            let sep = want_str(&a[1])?;
            match &a[0] {
                Value::Nil => Value::String(String::new()),
                // Deviation from Go, on purpose: Podman renders table headers
                // by running the row template on a map of header strings, so
                // `table {{join .Names ","}}` fails there; joining a lone
                // string gives it back and the header renders.
                Value::String(s) => Value::String(s.clone()),
                Value::List(l) => {
                    let parts = l
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(s.as_str()),
                            _ => Err(
                                "wrong type for value; expected []string; got []interface {}"
                                    .to_string(),
                            ),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Value::String(parts.join(sep))
                }
                other => {
                    return Err(format!(
                        "wrong type for value; expected []string; got {}",
                        other.type_name()
                    )
                    .into());
                }
            }
        }
        "split" => {
            arity(name, &a, 2, Some(2))?;
            let (s, sep) = (want_str(&a[0])?, want_str(&a[1])?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_owned())).collect()
            };
            Value::List(parts)
        }
        "truncate" => {
            arity(name, &a, 2, Some(2))?;
            let (s, n) = (want_str(&a[0])?, want_usize(&a[1])?);
            // Podman cuts at a byte length; we stop at the last character
            // boundary not beyond it so the result stays valid UTF-8.
            let mut end = n.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            Value::String(s[..end].to_owned())
        }
        "pad" => {
            arity(name, &a, 3, Some(3))?;
            let (s, pre, post) = (want_str(&a[0])?, want_usize(&a[1])?, want_usize(&a[2])?);
            if s.is_empty() {
                Value::String(String::new())
            } else {
                Value::String(format!("{}{s}{}", " ".repeat(pre), " ".repeat(post)))
            }
        }
        other => return Err(format!("function {other:?} not defined").into()),
    })
}

/// Go's `strings.Title`: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let is_sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_sep(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// The zero value Go would return for a missing key of a map whose element
/// type we infer from its other values (empty maps are taken as
/// `map[string]string`, the common case: labels, annotations, options).
fn zero_like(sample: Option<&Value>) -> Value {
    match sample {
        None | Some(Value::String(_)) => Value::String(String::new()),
        Some(Value::Int(_)) => Value::Int(0),
        Some(Value::Uint(_)) => Value::Uint(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(Value::Bool(_)) => Value::Bool(false),
        Some(_) => Value::Nil,
    }
}

fn index_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => Ok(i64::try_from(*u).unwrap_or(i64::MAX)),
        Value::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn index(item: Value, key: &Value) -> Result<Value, String> {
    match item {
        Value::List(mut l) => {
            let i = index_int(key)?;
            if i < 0 || i as usize >= l.len() {
                return Err(format!("index out of range: {i}"));
            }
            Ok(l.swap_remove(i as usize))
        }
        Value::String(s) => {
            let i = index_int(key)?;
            match usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i)) {
                Some(b) => Ok(Value::Uint((*b).into())),
                None => Err(format!("index out of range: {i}")),
            }
        }
        Value::Map(mut m) => {
            let k = match key {
                Value::String(k) => k.clone(),
                Value::Nil => return Err("value is nil; should be of type string".into()),
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ));
                }
            };
            match m.remove(&k) {
                Some(v) => Ok(v),
                None => Ok(zero_like(m.values().next())),
            }
        }
        Value::Nil => Err("index of untyped nil".into()),
        other => Err(format!("can't index item of type {}", other.type_name())),
    }
}

fn slice(a: &[Value]) -> Result<Value, String> {
    let len = match &a[0] {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Nil => return Err("slice of untyped nil".into()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0usize, len, len];
    for (i, v) in a[1..].iter().enumerate() {
        let n = index_int(v)?;
        if n < 0 || n as usize > len {
            return Err(format!("index out of range: {n}"));
        }
        idx[i] = n as usize;
    }
    if idx[0] > idx[1] || idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    match &a[0] {
        Value::String(s) => {
            if a.len() == 4 {
                return Err("cannot 3-index slice a string".into());
            }
            s.get(idx[0]..idx[1])
                .map(|s| Value::String(s.to_owned()))
                .ok_or_else(|| "slice splits a character".into())
        }
        Value::List(l) => Ok(Value::List(l[idx[0]..idx[1]].to_vec())),
        _ => unreachable!("checked above"),
    }
}

fn eq(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Uint(x), Value::Uint(y)) => x == y,
        (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
            u64::try_from(*x).is_ok_and(|x| x == *y)
        }
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        (Value::Struct(_), Value::Struct(_)) => a == b,
        (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
            return Err(format!("non-comparable type {}", a.type_name()));
        }
        _ => return Err("incompatible types for comparison".into()),
    })
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    let bad = || "incompatible types for comparison".to_string();
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Uint(x), Value::Uint(y)) => x.cmp(y),
        (Value::Int(x), Value::Uint(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (Value::Uint(x), Value::Int(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).ok_or_else(bad)?,
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (
            Value::Int(_) | Value::Uint(_) | Value::Float(_) | Value::String(_),
            Value::Int(_) | Value::Uint(_) | Value::Float(_) | Value::String(_),
        ) => {
            return Err(bad());
        }
        _ => return Err("invalid type for comparison".into()),
    })
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 && !matches!(v, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        sprint_into(v, &mut out);
    }
    out
}

/// Go's `strconv.Quote`.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %+v %s %q %d %t %x %X
/// %o %b %c %e %f %g %%`, with flags, width and precision.
pub(super) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let num = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        spec.width = num(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(num(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let (body, numeric) = format_verb(verb, &spec, arg);
        pad(&mut out, &body, &spec, numeric);
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|v| format!("{}={}", v.type_name(), v.to_go_string()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn pad(out: &mut String, body: &str, spec: &Spec, numeric: bool) {
    let len = body.chars().count();
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if spec.minus {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        let (sign, digits) = match body.strip_prefix(['-', '+']) {
            Some(rest) => (&body[..1], rest),
            None => ("", body),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(body);
    }
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        v => format!("%!{verb}({}={})", v.type_name(), v.to_go_string()),
    }
}

fn signed(spec: &Spec, neg: bool, digits: String) -> String {
    if neg {
        format!("-{digits}")
    } else if spec.plus {
        format!("+{digits}")
    } else if spec.space {
        format!(" {digits}")
    } else {
        digits
    }
}

/// Formats one argument; returns the text and whether zero padding applies.
fn format_verb(verb: char, spec: &Spec, v: &Value) -> (String, bool) {
    let int = match v {
        Value::Int(i) => Some((*i < 0, i.unsigned_abs())),
        Value::Uint(u) => Some((false, *u)),
        _ => None,
    };
    match (verb, v) {
        ('v', Value::Struct(fields)) if spec.plus => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, f)| format!("{k}:{}", f.to_go_string()))
                .collect();
            (format!("{{{}}}", parts.join(" ")), false)
        }
        ('v', Value::Int(_) | Value::Uint(_) | Value::Float(_)) => {
            let s = v.to_go_string();
            let neg = s.starts_with('-');
            (
                signed(spec, neg, s.trim_start_matches('-').to_owned()),
                true,
            )
        }
        ('v', _) => (v.to_go_string(), false),
        ('s', Value::String(s)) => (truncate_chars(s, spec.prec), false),
        ('s', Value::List(_) | Value::Map(_) | Value::Struct(_)) => (v.to_go_string(), false),
        ('q', Value::String(s)) => (go_quote(s), false),
        ('q', Value::Int(_) | Value::Uint(_)) => {
            let c = int
                .and_then(|(neg, u)| if neg { None } else { char::from_u32(u as u32) })
                .unwrap_or('\u{fffd}');
            let q = go_quote(&c.to_string());
            (
                format!("'{}'", &q[1..q.len() - 1].replace("\\\"", "\"")),
                false,
            )
        }
        ('t', Value::Bool(b)) => (b.to_string(), false),
        ('d', _) if int.is_some() => {
            let (neg, u) = int.unwrap_or_default();
            (signed(spec, neg, u.to_string()), true)
        }
        ('x' | 'X' | 'o' | 'b', _) if int.is_some() => {
            let (neg, u) = int.unwrap_or_default();
            let (digits, prefix) = match verb {
                'x' => (format!("{u:x}"), "0x"),
                'X' => (format!("{u:X}"), "0X"),
                'o' => (format!("{u:o}"), "0"),
                _ => (format!("{u:b}"), "0b"),
            };
            let digits = if spec.sharp {
                format!("{prefix}{digits}")
            } else {
                digits
            };
            (signed(spec, neg, digits), true)
        }
        ('x' | 'X', Value::String(s)) => {
            let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            (if verb == 'X' { hex.to_uppercase() } else { hex }, false)
        }
        ('c', _) if int.is_some() => {
            let (_, u) = int.unwrap_or_default();
            (
                char::from_u32(u as u32).unwrap_or('\u{fffd}').to_string(),
                false,
            )
        }
        ('e' | 'f' | 'F' | 'g', Value::Float(f)) => {
            let f = *f;
            let body = match verb {
                'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f.abs()),
                'e' => {
                    let s = format!("{:.*e}", spec.prec.unwrap_or(6), f.abs());
                    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                    go_exponent(m, e.parse().unwrap_or(0))
                }
                _ => go_float(f.abs()),
            };
            (
                signed(spec, f.is_sign_negative() && !f.is_nan(), body),
                true,
            )
        }
        _ => (bad_verb(verb, v), false),
    }
}

fn truncate_chars(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn printf_verbs() {
        assert_eq!(
            sprintf("%s|%-6s|%6s|", &[s("a"), s("bc"), s("de")]),
            "a|bc    |    de|"
        );
        assert_eq!(
            sprintf(
                "%d %5d %-4d| %05d %+d",
                &[
                    Value::Int(1),
                    Value::Int(-2),
                    Value::Uint(3),
                    Value::Int(-42),
                    Value::Int(7)
                ]
            ),
            "1    -2 3   | -0042 +7"
        );
        assert_eq!(
            sprintf(
                "%q %t %x %X %v",
                &[
                    s("a\"b\n"),
                    Value::Bool(true),
                    Value::Int(255),
                    s("hi"),
                    Value::Float(1.5)
                ]
            ),
            "\"a\\\"b\\n\" true ff 6869 1.5"
        );
        assert_eq!(
            sprintf(
                "%.2f %e %g %.3s",
                &[
                    Value::Float(1.23456),
                    Value::Float(1234.5),
                    Value::Float(1e7),
                    s("abcdef")
                ]
            ),
            "1.23 1.234500e+03 1e+07 abc"
        );
        assert_eq!(sprintf("%d%%", &[Value::Int(5)]), "5%");
        assert_eq!(sprintf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%s %s", &[s("x")]), "x %!s(MISSING)");
        assert_eq!(sprintf("%s", &[s("x"), Value::Int(3)]), "x%!(EXTRA int=3)");
        assert_eq!(
            sprintf(
                "%v",
                &[Value::Struct(vec![
                    ("A".into(), s("")),
                    ("B".into(), s("8080"))
                ])]
            ),
            "{ 8080}"
        );
        assert_eq!(
            sprintf(
                "%+v",
                &[Value::Struct(vec![
                    ("A".into(), s("")),
                    ("B".into(), s("8080"))
                ])]
            ),
            "{A: B:8080}"
        );
        assert_eq!(sprintf("%q %c", &[Value::Int(97), Value::Int(98)]), "'a' b");
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(
            sprint(&[
                Value::Int(1),
                Value::Int(2),
                s("a"),
                Value::Int(3),
                s("b"),
                s("c")
            ]),
            "1 2a3bc"
        );
    }

    #[test]
    fn title_is_go_s() {
        assert_eq!(title("hello wORLD foo_bar a-b"), "Hello WORLD Foo_bar A-B");
    }

    #[test]
    fn comparisons() {
        assert_eq!(eq(&Value::Int(3), &Value::Uint(3)), Ok(true));
        assert_eq!(eq(&Value::Int(-1), &Value::Uint(u64::MAX)), Ok(false));
        assert!(eq(&Value::Int(3), &s("3")).is_err());
        assert!(eq(&Value::List(vec![]), &Value::List(vec![])).is_err());
        assert_eq!(compare(&s("a"), &s("b")), Ok(Ordering::Less));
        assert_eq!(
            compare(&Value::Int(-1), &Value::Uint(0)),
            Ok(Ordering::Less)
        );
        assert!(compare(&Value::Bool(true), &Value::Bool(false)).is_err());
    }
}
