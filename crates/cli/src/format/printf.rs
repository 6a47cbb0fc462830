//! Go's `fmt` as templates use it: `print`/`println` ([`sprint`]) and `printf`
//! ([`sprintf`]) with Go's verbs, flags, width, precision, `*` and `[n]` operands, and Go's
//! in-band error strings (`%!d(string=x)`, `%!d(MISSING)`, `%!(EXTRA int=1)`,
//! `%!(NOVERB)`, `%!(BADWIDTH)`, `%!(BADPREC)`, `%!d(BADINDEX)`).
//!
//! Sizes are bounded as Go bounds them. A width or precision written in the format stops
//! being read once it passes 10^6: Go's `parsenum` then gives up and swallows the rest of
//! the format, which ends in `%!(NOVERB)` (so `%999999999d` prints `%!(NOVERB)`, never a
//! gigabyte of spaces). One taken from an operand with `*` must lie within ±10^6, else
//! `%!(BADWIDTH)` / `%!(BADPREC)`. One verb therefore writes at most about 10 MB, and
//! [`sprintf`] stops with [`Overflow`] once its output passes the caller's limit, so a
//! format that repeats a wide verb cannot exhaust memory either.
//!
//! Not supported: `%x`/`%X` of floats (Go's hexadecimal mantissa form) and Go-syntax
//! `%#v` beyond quoting strings.

mod float;

use super::value::{Value, go_exponent, go_float};

/// Go's `tooLarge`: a width or precision beyond ±10^6 is refused.
const MAX_WIDTH: i64 = 1_000_000;

/// Decimal places after which every f64 is exact in `%f` form (2^-1074 has 1074) and
/// significant digits after which it is exact in `%e` form (at most 767): Rust's
/// formatter refuses precisions past 65535, so larger ones are computed up to these
/// and padded with the zeros that follow anyway.
const EXACT_F: usize = 1100;
const EXACT_E: usize = 800;

fn too_large(x: i64) -> bool {
    !(-MAX_WIDTH..=MAX_WIDTH).contains(&x)
}

/// The output would pass the caller's size limit.
#[derive(Debug, PartialEq)]
pub(super) struct Overflow;

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    /// `%+v`: field names in structs; the plus flag itself is dropped (Go's `plusV`).
    plus_v: bool,
    /// `%#v`: Go syntax (here: quoted strings); the sharp flag itself is dropped.
    sharp_v: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 && !matches!(v, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        super::value::sprint_into(v, &mut out);
    }
    out
}

/// Go's `fmt.Sprintf`; `Err(Overflow)` as soon as the output passes `limit` bytes.
pub(super) fn sprintf(format: &str, args: &[Value], limit: usize) -> Result<String, Overflow> {
    let mut p = Printer {
        args,
        arg_num: 0,
        reordered: false,
        good_arg_num: true,
        out: String::new(),
    };
    p.run(format, limit)?;
    Ok(p.out)
}

struct Printer<'a> {
    args: &'a [Value],
    arg_num: usize,
    /// An explicit `[n]` was used: unused operands are not reported (as Go).
    reordered: bool,
    good_arg_num: bool,
    out: String,
}

/// Go's `parsenum`: the number at `s[start..end]`, whether there was one, and where it
/// ends. A number that grows past 10^6 is "crazy long": nothing is returned and the rest
/// of the format is consumed.
fn parse_num(s: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let (mut num, mut isnum, mut i) = (0i64, false, start);
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// Go's `parseArgNumber` on `[n]…`: the 0-based index, the bytes taken, and whether it
/// parsed.
fn parse_arg_number(f: &[u8]) -> (i64, usize, bool) {
    if f.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..f.len() {
        if f[i] == b']' {
            let (n, ok, end) = parse_num(f, 1, i);
            if !ok || end != i {
                return (0, i + 1, false);
            }
            return (n - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

impl Printer<'_> {
    fn run(&mut self, format: &str, limit: usize) -> Result<(), Overflow> {
        let f = format.as_bytes();
        let end = f.len();
        let mut i = 0;
        while i < end {
            self.good_arg_num = true;
            let last = i;
            while i < end && f[i] != b'%' {
                i += 1;
            }
            self.out.push_str(&format[last..i]);
            if i >= end {
                break;
            }
            i += 1;
            let mut spec = Spec::default();
            while i < end {
                match f[i] {
                    b'#' => spec.sharp = true,
                    b'0' => spec.zero = !spec.minus,
                    b'+' => spec.plus = true,
                    b'-' => {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    b' ' => spec.space = true,
                    _ => break,
                }
                i += 1;
            }
            i = self.width_and_precision(f, i, &mut spec);
            if i >= end {
                self.out.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('?');
            i += verb.len_utf8();
            self.verb(verb, &mut spec);
            if self.out.len() > limit {
                return Err(Overflow);
            }
        }
        if !self.reordered && self.arg_num < self.args.len() {
            let extra: Vec<String> = self.args[self.arg_num..]
                .iter()
                .map(|v| match v {
                    Value::Nil => "<nil>".to_string(),
                    v => format!("{}={}", v.type_name(), v.to_go_string()),
                })
                .collect();
            self.out
                .push_str(&format!("%!(EXTRA {})", extra.join(", ")));
        }
        if self.out.len() > limit {
            return Err(Overflow);
        }
        Ok(())
    }

    /// Operand index, width and precision after the flags; returns where the verb is.
    fn width_and_precision(&mut self, f: &[u8], mut i: usize, spec: &mut Spec) -> usize {
        let end = f.len();
        let mut after_index;
        (i, after_index) = self.arg_number(f, i);
        if i < end && f[i] == b'*' {
            i += 1;
            match self.int_from_arg() {
                Some(w) if w < 0 => {
                    spec.width = Some(w.unsigned_abs() as usize);
                    spec.minus = true;
                    spec.zero = false;
                }
                Some(w) => spec.width = Some(w as usize),
                None => self.out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, ok, next) = parse_num(f, i, end);
            i = next;
            if ok {
                spec.width = Some(w as usize);
                if after_index {
                    self.good_arg_num = false;
                }
            }
        }
        if i + 1 < end && f[i] == b'.' {
            i += 1;
            if after_index {
                self.good_arg_num = false;
            }
            (i, after_index) = self.arg_number(f, i);
            if i < end && f[i] == b'*' {
                i += 1;
                match self.int_from_arg() {
                    Some(p) if p >= 0 => spec.prec = Some(p as usize),
                    _ => self.out.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (p, ok, next) = parse_num(f, i, end);
                i = next;
                spec.prec = Some(if ok { p as usize } else { 0 });
            }
        }
        if !after_index {
            (i, _) = self.arg_number(f, i);
        }
        i
    }

    /// Go's `argNumber`: an explicit `[n]` at `i` selects the next operand.
    fn arg_number(&mut self, f: &[u8], i: usize) -> (usize, bool) {
        if f.len() <= i || f[i] != b'[' {
            return (i, false);
        }
        self.reordered = true;
        let (index, width, ok) = parse_arg_number(&f[i..]);
        if ok && index >= 0 && (index as usize) < self.args.len() {
            self.arg_num = index as usize;
            return (i + width, true);
        }
        self.good_arg_num = false;
        (i + width, ok)
    }

    /// Go's `intFromArg` for `*`: None when missing, not an integer, or too large.
    fn int_from_arg(&mut self) -> Option<i64> {
        let a = self.args.get(self.arg_num)?;
        self.arg_num += 1;
        let n = match a {
            Value::Int(i) => *i,
            Value::Uint(u) => i64::try_from(*u).ok()?,
            _ => return None,
        };
        (!too_large(n)).then_some(n)
    }

    fn verb(&mut self, verb: char, spec: &mut Spec) {
        if verb == '%' {
            // Percent takes no operand and ignores width and precision.
            self.out.push('%');
        } else if !self.good_arg_num {
            self.out.push_str(&format!("%!{verb}(BADINDEX)"));
        } else if self.arg_num >= self.args.len() {
            self.out.push_str(&format!("%!{verb}(MISSING)"));
        } else {
            if verb == 'v' && spec.plus {
                spec.plus = false;
                spec.plus_v = true;
            }
            if verb == 'v' && spec.sharp {
                spec.sharp = false;
                spec.sharp_v = true;
            }
            let arg = &self.args[self.arg_num];
            self.arg_num += 1;
            print_arg(&mut self.out, arg, verb, spec);
        }
    }
}

/// Writes `s` padded to the width: spaces (zeros with the `0` flag) on the left, spaces on
/// the right with `-`. The width counts characters, as Go counts runes.
fn pad(out: &mut String, s: &str, spec: &Spec) {
    let fill = spec.width.unwrap_or(0).saturating_sub(s.chars().count());
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        let c = if spec.zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(c, fill));
        out.push_str(s);
    }
}

fn pad_spaces(out: &mut String, s: &str, spec: &Spec) {
    pad(
        out,
        s,
        &Spec {
            zero: false,
            ..*spec
        },
    );
}

/// Go's `badVerb`: `%!d(string=x)`, the operand printed with `%v` and the same flags.
fn bad_verb(out: &mut String, verb: char, v: &Value, spec: &Spec) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if let Value::Nil = v {
        out.push_str("<nil>");
    } else {
        out.push_str(v.type_name());
        out.push('=');
        print_arg(out, v, 'v', spec);
    }
    out.push(')');
}

/// Go's `printArg`/`printValue`: containers print their elements with the same verb.
fn print_arg(out: &mut String, v: &Value, verb: char, spec: &Spec) {
    if verb == 'T' {
        return fmt_str(out, v.type_name(), spec);
    }
    match v {
        Value::Nil | Value::Omitted if verb == 'v' => pad(out, "<nil>", spec),
        Value::Nil | Value::Omitted => bad_verb(out, verb, v, spec),
        Value::Bool(b) if matches!(verb, 't' | 'v') => {
            pad(out, if *b { "true" } else { "false" }, spec)
        }
        Value::Bool(_) => bad_verb(out, verb, v, spec),
        Value::Int(i) => fmt_integer(out, *i < 0, i.unsigned_abs(), verb, spec, v),
        Value::Uint(u) => fmt_integer(out, false, *u, verb, spec, v),
        Value::Float(f) => float::fmt_float(out, *f, verb, spec, v),
        Value::String(s) => fmt_string(out, s, verb, spec, v),
        Value::List(items) => {
            out.push('[');
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_arg(out, e, verb, spec);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_arg(out, &Value::String(k.clone()), verb, spec);
                out.push(':');
                print_arg(out, e, verb, spec);
            }
            out.push(']');
        }
        Value::Struct(fields) => {
            out.push('{');
            for (i, (k, e)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                if spec.plus_v {
                    out.push_str(k);
                    out.push(':');
                }
                print_arg(out, e, verb, spec);
            }
            out.push('}');
        }
    }
}

/// Go's `truncateString` then padding (`%s`, `%v`).
fn fmt_str(out: &mut String, s: &str, spec: &Spec) {
    match spec.prec {
        Some(p) => pad(out, &s.chars().take(p).collect::<String>(), spec),
        None => pad(out, s, spec),
    }
}

fn fmt_string(out: &mut String, s: &str, verb: char, spec: &Spec, v: &Value) {
    match verb {
        'v' if spec.sharp_v => pad(out, &go_quote(s), spec),
        'v' | 's' => fmt_str(out, s, spec),
        'x' | 'X' => fmt_hex_string(out, s, verb == 'X', spec),
        'q' => {
            let s: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_owned(),
            };
            let q = if spec.sharp && can_backquote(&s) {
                format!("`{s}`")
            } else if spec.plus {
                quote_with(&s, '"', true)
            } else {
                go_quote(&s)
            };
            pad(out, &q, spec);
        }
        _ => bad_verb(out, verb, v, spec),
    }
}

/// Go's `fmtSbx`: two hex digits a byte, at most `prec` bytes; `0x` once with `#`, or
/// before each byte with `# ` (bytes then separated by spaces, as with ` ` alone).
fn fmt_hex_string(out: &mut String, s: &str, upper: bool, spec: &Spec) {
    let bytes = &s.as_bytes()[..spec.prec.unwrap_or(usize::MAX).min(s.len())];
    let prefix = if upper { "0X" } else { "0x" };
    let mut hex = String::with_capacity(bytes.len() * 5 + 2);
    if spec.sharp && !bytes.is_empty() {
        hex.push_str(prefix);
    }
    for (i, b) in bytes.iter().enumerate() {
        if spec.space && i > 0 {
            hex.push(' ');
            if spec.sharp {
                hex.push_str(prefix);
            }
        }
        if upper {
            hex.push_str(&format!("{b:02X}"));
        } else {
            hex.push_str(&format!("{b:02x}"));
        }
    }
    pad(out, &hex, spec);
}

/// Go's `fmtInteger` and the rune verbs: precision is a minimum number of digits (and
/// `%.0d` of 0 prints nothing); the `0` flag pads with zeros after the sign only when no
/// precision is given.
fn fmt_integer(out: &mut String, neg: bool, u: u64, verb: char, spec: &Spec, v: &Value) {
    let digits = match verb {
        'v' | 'd' => u.to_string(),
        'b' => format!("{u:b}"),
        'o' | 'O' => format!("{u:o}"),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        'c' => return pad(out, &rune_of(neg, u).to_string(), spec),
        'q' => {
            let r = rune_of(neg, u);
            let q = if spec.sharp && !r.is_control() {
                format!("'{r}'")
            } else {
                quote_with(&r.to_string(), '\'', spec.plus)
            };
            return pad(out, &q, spec);
        }
        'U' => return fmt_unicode(out, neg, u, spec),
        _ => return bad_verb(out, verb, v, spec),
    };
    let mut prec = 0;
    if let Some(p) = spec.prec {
        if p == 0 && u == 0 {
            return pad_spaces(out, "", spec);
        }
        prec = p;
    } else if spec.zero
        && let Some(w) = spec.width
    {
        prec = if neg || spec.plus || spec.space {
            w.saturating_sub(1)
        } else {
            w
        };
    }
    let mut body = String::with_capacity(prec.max(digits.len()) + 4);
    if neg {
        body.push('-');
    } else if spec.plus {
        body.push('+');
    } else if spec.space {
        body.push(' ');
    }
    if verb == 'O' {
        body.push_str("0o");
    }
    let zeros = prec.saturating_sub(digits.len());
    if spec.sharp {
        match verb {
            'b' => body.push_str("0b"),
            'o' | 'O' if zeros == 0 && !digits.starts_with('0') => body.push('0'),
            'x' => body.push_str("0x"),
            'X' => body.push_str("0X"),
            _ => {}
        }
    }
    body.extend(std::iter::repeat_n('0', zeros));
    body.push_str(&digits);
    pad_spaces(out, &body, spec);
}

/// The rune `%c`/`%q` print for an integer: invalid code points are U+FFFD.
fn rune_of(neg: bool, u: u64) -> char {
    if neg {
        return '\u{fffd}';
    }
    u32::try_from(u)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}')
}

/// `%U`: `U+0041` (precision: minimum hex digits), `%#U`: `U+0041 'A'`.
fn fmt_unicode(out: &mut String, neg: bool, u: u64, spec: &Spec) {
    let digits = format!("{:X}", if neg { u.wrapping_neg() } else { u });
    let want = spec.prec.unwrap_or(4).max(4);
    let mut s = format!(
        "U+{}{digits}",
        "0".repeat(want.saturating_sub(digits.len()))
    );
    let r = rune_of(neg, u);
    if spec.sharp && !neg && u <= 0x10FFFF && !r.is_control() && r != '\u{fffd}' {
        s.push_str(&format!(" '{r}'"));
    }
    pad_spaces(out, &s, spec);
}

/// Go's `strconv.Quote`.
pub(super) fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// strconv's quoting with `quote` as delimiter; `ascii` escapes everything non-ASCII
/// (`%+q`).
fn quote_with(s: &str, quote: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
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
            c if c.is_control() || (ascii && !c.is_ascii()) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// strconv's `CanBackquote`: one line, no backquote, no control characters but tab.
fn can_backquote(s: &str) -> bool {
    !s.chars()
        .any(|c| c == '`' || c == '\u{feff}' || (c.is_control() && c != '\t'))
}

// 3.14159 is the literal the expected strings were printed from, not an attempt at π.
#[cfg(test)]
#[path = "printf_tests.rs"]
mod tests;
