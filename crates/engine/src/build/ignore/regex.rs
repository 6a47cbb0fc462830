//! The part of Go's regular-expression syntax (RE2, Perl flags) that moby's patternmatcher
//! can produce from an ignore pattern, and a matcher for it (a Pike VM: no backtracking).
//!
//! patternmatcher turns a pattern into a Go regex by rewriting `*`, `?`, `**` and a few
//! metacharacters, and passes everything else through, `[…]` classes and `\x` escapes
//! included; so a pattern means what that regex means to Go. Supported: literals, `.`
//! (not newline), `^` `$` (text start and end), `[…]` classes with ranges, negation (which
//! matches newline) and POSIX `[:name:]`, groups, `*` `+` `?` (lazy forms too), escapes of
//! punctuation, octal/hex/control escapes, `\d\s\w` and their negations, `\b` `\B` `\A`
//! `\z`, `\Q…\E`. Go's Unicode classes (`\pL`, `\p{Greek}`) are refused as a bad pattern
//! rather than approximated; Go refuses the rest of what is not listed, and so do we.

/// Inclusive character ranges.
type Ranges = Vec<(char, char)>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Char(char),
    /// `.`: anything but a newline.
    Any,
    Class(Class),
    Begin,
    End,
    WordBoundary(bool),
    Group(Vec<Node>),
    Repeat(Box<Node>, Rep),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rep {
    Star,
    Plus,
    Quest,
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(Class),
    Begin,
    End,
    WordBoundary(bool),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub(super) struct Regex {
    prog: Vec<Inst>,
}

/// Why an expression was refused (Go's error kinds, worded briefly).
pub(super) type Error = String;

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

const PERL_D: &[(char, char)] = &[('0', '9')];
const PERL_S: &[(char, char)] = &[('\t', '\n'), ('\x0c', '\r'), (' ', ' ')];
const PERL_W: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];

fn posix_class(name: &str) -> Option<Vec<(char, char)>> {
    Some(match name {
        "alnum" => vec![('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => vec![('A', 'Z'), ('a', 'z')],
        "ascii" => vec![('\0', '\x7f')],
        "blank" => vec![('\t', '\t'), (' ', ' ')],
        "cntrl" => vec![('\0', '\x1f'), ('\x7f', '\x7f')],
        "digit" => vec![('0', '9')],
        "graph" => vec![('!', '~')],
        "lower" => vec![('a', 'z')],
        "print" => vec![(' ', '~')],
        "punct" => vec![('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => vec![('\t', '\r'), (' ', ' ')],
        "upper" => vec![('A', 'Z')],
        "word" => PERL_W.to_vec(),
        "xdigit" => vec![('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

/// The complement of sorted, non-overlapping ranges.
fn negate(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut sorted = ranges.to_vec();
    sorted.sort();
    let mut out = Vec::new();
    let mut next = 0u32;
    for (lo, hi) in sorted {
        if (lo as u32) > next {
            if let (Some(a), Some(b)) = (char::from_u32(next), char::from_u32(lo as u32 - 1)) {
                out.push((a, b));
            }
        }
        next = next.max(hi as u32 + 1);
    }
    if next <= char::MAX as u32 {
        out.push((char::from_u32(next).unwrap_or(char::MAX), char::MAX));
    }
    out
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn sequence(&mut self, in_group: bool) -> Result<Vec<Node>, Error> {
        let mut seq: Vec<Node> = Vec::new();
        // Whether the last item was a repetition (Go refuses `a**`).
        let mut last_repeat = false;
        loop {
            let Some(c) = self.next() else {
                if in_group {
                    return Err("missing closing )".into());
                }
                return Ok(seq);
            };
            let rep = match c {
                '*' => Some(Rep::Star),
                '+' => Some(Rep::Plus),
                '?' => Some(Rep::Quest),
                _ => None,
            };
            if let Some(rep) = rep {
                if last_repeat {
                    return Err("invalid nested repetition operator".into());
                }
                let Some(prev) = seq.pop() else {
                    return Err("missing argument to repetition operator".into());
                };
                seq.push(Node::Repeat(Box::new(prev), rep));
                if self.peek() == Some('?') {
                    // Lazy: the same set of strings matches.
                    self.next();
                }
                last_repeat = true;
                continue;
            }
            last_repeat = false;
            let node = match c {
                ')' if in_group => return Ok(seq),
                ')' => return Err("unexpected )".into()),
                '(' => {
                    if self.peek() == Some('?') {
                        return Err("flags and named groups are not supported".into());
                    }
                    Node::Group(self.sequence(true)?)
                }
                '|' => return Err("alternation is not supported".into()),
                '[' => Node::Class(self.class()?),
                '.' => Node::Any,
                '^' => Node::Begin,
                '$' => Node::End,
                '\\' => match self.top_escape()? {
                    Some(n) => n,
                    None => continue,
                },
                c => Node::Char(c),
            };
            seq.push(node);
        }
    }

    /// An escape outside a class; `None` for an empty `\Q\E`.
    fn top_escape(&mut self) -> Result<Option<Node>, Error> {
        let Some(c) = self.peek() else {
            return Err("trailing backslash at end of expression".into());
        };
        let node = match c {
            'A' => Node::Begin,
            'z' => Node::End,
            'b' => Node::WordBoundary(true),
            'B' => Node::WordBoundary(false),
            'Q' => {
                self.next();
                let mut lit = Vec::new();
                while let Some(ch) = self.next() {
                    if ch == '\\' && self.peek() == Some('E') {
                        self.next();
                        break;
                    }
                    lit.push(Node::Char(ch));
                }
                return Ok(if lit.is_empty() {
                    None
                } else {
                    Some(Node::Group(lit))
                });
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.next();
                return Ok(Some(Node::Class(perl_class(c))));
            }
            'p' | 'P' => return Err("Unicode classes are not supported".into()),
            _ => return Ok(Some(Node::Char(self.escape()?))),
        };
        self.next();
        Ok(Some(node))
    }

    /// Go's `parseEscape` (the `\` already consumed).
    fn escape(&mut self) -> Result<char, Error> {
        let Some(c) = self.next() else {
            return Err("trailing backslash at end of expression".into());
        };
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            return Ok(c);
        }
        let octal = |c: Option<char>| c.is_some_and(|c| ('0'..='7').contains(&c));
        match c {
            '1'..='7' if !octal(self.peek()) => Err("invalid escape sequence".into()),
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    if !octal(self.peek()) {
                        break;
                    }
                    r = r * 8 + (self.next().unwrap_or('0') as u32 - '0' as u32);
                }
                char::from_u32(r).ok_or_else(|| "invalid escape sequence".into())
            }
            'x' => self.hex_escape(),
            'a' => Ok('\x07'),
            'f' => Ok('\x0c'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\x0b'),
            _ => Err("invalid escape sequence".into()),
        }
    }

    fn hex_escape(&mut self) -> Result<char, Error> {
        let bad = || -> Error { "invalid escape sequence".into() };
        let digits: String = if self.peek() == Some('{') {
            self.next();
            let mut d = String::new();
            loop {
                match self.next() {
                    Some('}') => break,
                    Some(h) if h.is_ascii_hexdigit() => d.push(h),
                    _ => return Err(bad()),
                }
            }
            if d.is_empty() {
                return Err(bad());
            }
            d
        } else {
            let a = self
                .next()
                .filter(char::is_ascii_hexdigit)
                .ok_or_else(bad)?;
            let b = self
                .next()
                .filter(char::is_ascii_hexdigit)
                .ok_or_else(bad)?;
            [a, b].iter().collect()
        };
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(bad)
    }

    /// A `[…]` class (the `[` consumed), as Go's `parseClass` reads it.
    fn class(&mut self) -> Result<Class, Error> {
        let negated = self.peek() == Some('^');
        if negated {
            self.next();
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err("missing closing ]".into());
            };
            if c == ']' && !first {
                self.next();
                break;
            }
            first = false;
            if c == '[' && self.chars.get(self.pos + 1) == Some(&':') {
                if let Some((name_ranges, len)) = self.posix_at()? {
                    ranges.extend(name_ranges);
                    self.pos += len;
                    continue;
                }
            }
            if c == '\\' {
                if let Some(p @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) =
                    self.chars.get(self.pos + 1).copied()
                {
                    self.pos += 2;
                    let cl = perl_class(p);
                    ranges.extend(if cl.negated {
                        negate(&cl.ranges)
                    } else {
                        cl.ranges
                    });
                    continue;
                }
                if matches!(self.chars.get(self.pos + 1), Some('p' | 'P')) {
                    return Err("Unicode classes are not supported".into());
                }
            }
            let lo = self.class_char()?;
            let mut hi = lo;
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| *c != ']') {
                self.next();
                hi = self.class_char()?;
                if hi < lo {
                    return Err("invalid character class range".into());
                }
            }
            ranges.push((lo, hi));
        }
        Ok(Class { ranges, negated })
    }

    fn class_char(&mut self) -> Result<char, Error> {
        match self.next() {
            None => Err("missing closing ]".into()),
            Some('\\') => self.escape(),
            Some(c) => Ok(c),
        }
    }

    /// `[:name:]` or `[:^name:]` at the current position: its ranges and length.
    fn posix_at(&self) -> Result<Option<(Ranges, usize)>, Error> {
        let rest: String = self.chars[self.pos + 2..].iter().collect();
        let Some(end) = rest.find(":]") else {
            return Ok(None);
        };
        let name = &rest[..end];
        let len = 2 + name.chars().count() + 2;
        let (neg, bare) = match name.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, name),
        };
        let ranges =
            posix_class(bare).ok_or_else(|| "invalid character class range".to_string())?;
        Ok(Some((if neg { negate(&ranges) } else { ranges }, len)))
    }
}

fn perl_class(c: char) -> Class {
    let ranges = match c.to_ascii_lowercase() {
        'd' => PERL_D,
        's' => PERL_S,
        _ => PERL_W,
    };
    Class {
        ranges: ranges.to_vec(),
        negated: c.is_ascii_uppercase(),
    }
}

fn compile(nodes: &[Node], prog: &mut Vec<Inst>) {
    for n in nodes {
        match n {
            Node::Char(c) => prog.push(Inst::Char(*c)),
            Node::Any => prog.push(Inst::Any),
            Node::Class(c) => prog.push(Inst::Class(c.clone())),
            Node::Begin => prog.push(Inst::Begin),
            Node::End => prog.push(Inst::End),
            Node::WordBoundary(b) => prog.push(Inst::WordBoundary(*b)),
            Node::Group(g) => compile(g, prog),
            Node::Repeat(inner, Rep::Star) => {
                let split = prog.len();
                prog.push(Inst::Split(0, 0));
                compile(std::slice::from_ref(inner), prog);
                prog.push(Inst::Jmp(split));
                let after = prog.len();
                prog[split] = Inst::Split(split + 1, after);
            }
            Node::Repeat(inner, Rep::Quest) => {
                let split = prog.len();
                prog.push(Inst::Split(0, 0));
                compile(std::slice::from_ref(inner), prog);
                let after = prog.len();
                prog[split] = Inst::Split(split + 1, after);
            }
            Node::Repeat(inner, Rep::Plus) => {
                let start = prog.len();
                compile(std::slice::from_ref(inner), prog);
                let split = prog.len();
                prog.push(Inst::Split(start, split + 1));
            }
        }
    }
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Regex {
    pub(super) fn new(expr: &str) -> Result<Regex, Error> {
        let mut p = Parser {
            chars: expr.chars().collect(),
            pos: 0,
        };
        let nodes = p.sequence(false)?;
        let mut prog = Vec::new();
        compile(&nodes, &mut prog);
        prog.push(Inst::Match);
        Ok(Regex { prog })
    }

    /// Whether the expression matches anywhere in `text` (Go's `MatchString`).
    pub(super) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut current: Vec<usize> = Vec::new();
        for pos in 0..=chars.len() {
            let mut seen = vec![false; self.prog.len()];
            for pc in std::mem::take(&mut current) {
                if self.add(&mut current, &mut seen, pc, pos, &chars) {
                    return true;
                }
            }
            // A match may also start here.
            if self.add(&mut current, &mut seen, 0, pos, &chars) {
                return true;
            }
            let Some(&c) = chars.get(pos) else { break };
            let mut next = Vec::new();
            for &pc in &current {
                let ok = match &self.prog[pc] {
                    Inst::Char(x) => *x == c,
                    Inst::Any => c != '\n',
                    Inst::Class(cl) => cl.matches(c),
                    _ => false,
                };
                if ok {
                    next.push(pc + 1);
                }
            }
            current = next;
        }
        false
    }

    /// Follow empty transitions from `pc` at `pos`; true when `Match` is reached.
    fn add(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [bool],
        pc: usize,
        pos: usize,
        chars: &[char],
    ) -> bool {
        if seen[pc] {
            return false;
        }
        seen[pc] = true;
        match &self.prog[pc] {
            Inst::Match => true,
            Inst::Jmp(t) => self.add(list, seen, *t, pos, chars),
            Inst::Split(a, b) => {
                self.add(list, seen, *a, pos, chars) || self.add(list, seen, *b, pos, chars)
            }
            Inst::Begin => pos == 0 && self.add(list, seen, pc + 1, pos, chars),
            Inst::End => pos == chars.len() && self.add(list, seen, pc + 1, pos, chars),
            Inst::WordBoundary(want) => {
                let before = pos.checked_sub(1).and_then(|i| chars.get(i)).copied();
                let boundary = is_word(before) != is_word(chars.get(pos).copied());
                boundary == *want && self.add(list, seen, pc + 1, pos, chars)
            }
            _ => {
                list.push(pc);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str, text: &str) -> bool {
        Regex::new(re)
            .unwrap_or_else(|e| panic!("{re}: {e}"))
            .is_match(text)
    }

    #[test]
    fn go_semantics() {
        assert!(m("^a[^/]*b$", "axxb"));
        assert!(!m("^a[^/]*b$", "ax/b"));
        assert!(m("^a[^/]*$", "a\nb"), "a negated class matches a newline");
        assert!(!m("^a.*$", "a\nb"), "dot does not");
        assert!(m("^(.*/)?x$", "x"));
        assert!(m("^(.*/)?x$", "a/b/x"));
        assert!(!m("^(.*/)?x$", "a/bx"));
        assert!(
            m("^[[^/]*]$", "[]"),
            "Go reads [[^/] as a class of '[', '^', '/'"
        );
        assert!(m("^[[^/]*]$", "^/]"));
        assert!(!m("^[[^/]*]$", "a]"));
        assert!(m("^[[:alpha:]]x$", "Qx"));
        assert!(!m("^[[:^alpha:]]x$", "Qx"));
        assert!(m("^[a-c\\]]$", "]"));
        assert!(m("^\\d\\s\\w$", "1 _"));
        assert!(m("^[\\d]$", "7"));
        assert!(m("\\bfoo\\b", "a foo b"));
        assert!(!m("\\bfoo\\b", "afoob"));
        assert!(m("^\\x41\\101\\Q*+\\E$", "AA*+"));
        assert!(!m("^a^b$", "ab"));
        assert!(m("^a]$", "a]"));
        assert!(m("^a*?$", "aaa"));
        assert!(m("^(ab)+$", "abab"));
    }

    #[test]
    fn go_refusals() {
        for re in [
            "a**",
            "*a",
            "(a",
            "a)",
            "[a",
            "[b-a]",
            "\\",
            "\\i",
            "\\1",
            "[[:nope:]]",
            "\\pL",
            "a|b",
            "(?i)a",
        ] {
            assert!(Regex::new(re).is_err(), "{re} should be refused");
        }
    }
}
