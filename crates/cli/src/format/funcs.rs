//! The functions templates can call: Go's builtins (`and or not len index slice print
//! printf println eq ne lt le gt ge`) and Podman's (`json lower upper title join split
//! truncate pad`).
//!
//! Functions that make new text are given the room left in the template's output budget
//! and refuse ([`CallError::TooLarge`]) to build anything bigger, so a template cannot
//! make the process allocate without bound (`pad "x" 999999999999 0`, a string doubled in
//! a loop, `split` of a huge string into characters).

use std::cmp::Ordering;

use super::printf::{Overflow, sprint, sprintf};
use super::value::Value;

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "lower", "upper", "title", "join", "split", "truncate", "pad",
];

pub(super) fn is_function(name: &str) -> bool {
    FUNCS.contains(&name)
}

/// Why a function call failed.
pub(super) enum CallError {
    /// Wrong number of arguments (Go's message stands alone).
    Arity(String),
    /// Go's `error calling NAME: …`.
    Failed(String),
    /// The result would not fit in what is left of the output budget.
    TooLarge,
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

/// Calls the function `name`; a result that makes new text may take at most `room` bytes.
pub(super) fn call_builtin(name: &str, a: Vec<Value>, room: usize) -> Result<Value, CallError> {
    match name {
        "not" | "len" | "index" | "slice" => call_core(name, a),
        "print" | "println" | "printf" => call_print(name, &a, room),
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => call_compare(name, &a),
        "json" | "lower" | "upper" | "title" | "join" => call_text(name, &a, room),
        "split" | "truncate" | "pad" => call_cut(name, &a, room),
        other => Err(format!("function {other:?} not defined").into()),
    }
}

/// Whether `name` makes new text or lists (charged to the output budget) rather than
/// returning a value or a part of one.
pub(super) fn creates(name: &str) -> bool {
    matches!(
        name,
        "print"
            | "println"
            | "printf"
            | "json"
            | "lower"
            | "upper"
            | "title"
            | "join"
            | "split"
            | "pad"
    )
}

/// Roughly the memory `v` takes: what the budget charges for a created value.
pub(super) fn size_of(v: &Value) -> usize {
    let node = std::mem::size_of::<Value>();
    match v {
        Value::String(s) => s.len(),
        Value::List(l) => l.iter().map(|e| node + size_of(e)).sum(),
        Value::Map(m) => m.iter().map(|(k, e)| node + k.len() + size_of(e)).sum(),
        Value::Struct(f) => f.iter().map(|(k, e)| node + k.len() + size_of(e)).sum(),
        _ => node,
    }
}

fn fits(len: usize, room: usize) -> Result<(), CallError> {
    if len > room {
        Err(CallError::TooLarge)
    } else {
        Ok(())
    }
}

fn call_core(name: &str, a: Vec<Value>) -> Result<Value, CallError> {
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
                // A nil map or slice (an omitted field): Go's len of those is 0.
                Value::Nil => 0,
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
        _ => {
            arity(name, &a, 1, Some(4))?;
            slice(&a)?
        }
    })
}

fn call_print(name: &str, a: &[Value], room: usize) -> Result<Value, CallError> {
    let text = match name {
        "printf" => {
            arity(name, a, 1, None)?;
            sprintf(want_str(&a[0])?, &a[1..], room).map_err(|Overflow| CallError::TooLarge)?
        }
        "print" => {
            // Each operand is a value that already exists; stop once they add up past the room.
            let mut total = 0;
            for v in a {
                total += size_of(v) + 1;
                fits(total, room)?;
            }
            sprint(a)
        }
        _ => {
            let mut parts = Vec::with_capacity(a.len());
            let mut total = 0;
            for v in a {
                let s = v.to_go_string();
                total += s.len() + 1;
                fits(total, room)?;
                parts.push(s);
            }
            parts.join(" ") + "\n"
        }
    };
    fits(text.len(), room)?;
    Ok(Value::String(text))
}

fn call_compare(name: &str, a: &[Value]) -> Result<Value, CallError> {
    Ok(match name {
        "eq" | "ne" => {
            arity(name, a, 2, if name == "ne" { Some(2) } else { None })?;
            let mut truth = false;
            for other in &a[1..] {
                if eq(&a[0], other)? {
                    truth = true;
                    break;
                }
            }
            Value::Bool(if name == "eq" { truth } else { !truth })
        }
        _ => {
            arity(name, a, 2, Some(2))?;
            let ord = compare(&a[0], &a[1])?;
            Value::Bool(match name {
                "lt" => ord == Ordering::Less,
                "le" => ord != Ordering::Greater,
                "gt" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            })
        }
    })
}

fn call_text(name: &str, a: &[Value], room: usize) -> Result<Value, CallError> {
    if name == "join" {
        arity(name, a, 2, Some(2))?;
        return join(&a[0], want_str(&a[1])?, room);
    }
    arity(name, a, 1, Some(1))?;
    let out = match name {
        // serde_json never escapes HTML characters, like Podman's encoder with
        // SetEscapeHTML(false); no trailing newline. At most 6 bytes per input byte.
        "json" => {
            fits(size_of(&a[0]), room / 6)?;
            serde_json::to_string(&a[0]).map_err(|e| e.to_string())?
        }
        // A character's case mapping is at most three times as long.
        "lower" => {
            fits(want_str(&a[0])?.len(), room / 3)?;
            want_str(&a[0])?.to_lowercase()
        }
        "upper" => {
            fits(want_str(&a[0])?.len(), room / 3)?;
            want_str(&a[0])?.to_uppercase()
        }
        _ => {
            fits(want_str(&a[0])?.len(), room / 3)?;
            title(want_str(&a[0])?)
        }
    };
    Ok(Value::String(out))
}

fn join(list: &Value, sep: &str, room: usize) -> Result<Value, CallError> {
    Ok(match list {
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
                        "wrong type for value; expected []string; got []interface {}".to_string(),
                    ),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let total = parts.iter().map(|p| p.len() + sep.len()).sum::<usize>();
            fits(total, room)?;
            Value::String(parts.join(sep))
        }
        other => {
            return Err(format!(
                "wrong type for value; expected []string; got {}",
                other.type_name()
            )
            .into());
        }
    })
}

fn call_cut(name: &str, a: &[Value], room: usize) -> Result<Value, CallError> {
    Ok(match name {
        "split" => {
            arity(name, a, 2, Some(2))?;
            let (s, sep) = (want_str(&a[0])?, want_str(&a[1])?);
            let parts = if sep.is_empty() {
                s.chars().count()
            } else {
                s.matches(sep).count() + 1
            };
            fits(parts * std::mem::size_of::<Value>() + s.len(), room)?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_owned())).collect()
            };
            Value::List(parts)
        }
        "truncate" => {
            arity(name, a, 2, Some(2))?;
            let (s, n) = (want_str(&a[0])?, want_usize(&a[1])?);
            // Podman cuts at a byte length; we stop at the last character
            // boundary not beyond it so the result stays valid UTF-8.
            let mut end = n.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            Value::String(s[..end].to_owned())
        }
        _ => {
            arity(name, a, 3, Some(3))?;
            let (s, pre, post) = (want_str(&a[0])?, want_usize(&a[1])?, want_usize(&a[2])?);
            if s.is_empty() {
                Value::String(String::new())
            } else {
                fits(pre.saturating_add(post).saturating_add(s.len()), room)?;
                Value::String(format!("{}{s}{}", " ".repeat(pre), " ".repeat(post)))
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
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
