//! Lexer for Go `text/template` source: text, `{{ }}` actions with trim
//! markers, comments, and the tokens inside actions.

use super::FormatError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Text(String),
    Left,
    Right,
    Ident(String),
    /// `.Name` (the name without the dot).
    Field(String),
    Dot,
    /// `$name` (with the dollar), or `$` alone.
    Var(String),
    Str(String),
    /// A numeric literal's source text (char constants become their code).
    Number(String),
    Bool(bool),
    Nil,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    /// Byte offset in the source.
    pub pos: usize,
    /// Whether whitespace preceded the token inside an action (separates
    /// `$x .F` (two arguments) from `$x.F` (a field chain)).
    pub spaced: bool,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    name: &'a str,
    pos: usize,
    out: Vec<Token>,
}

/// Splits `src` into tokens. `name` is the template name used in errors.
pub(super) fn lex(name: &str, src: &str) -> Result<Vec<Token>, FormatError> {
    let mut l = Lexer {
        src,
        name,
        pos: 0,
        out: Vec::new(),
    };
    l.run()?;
    Ok(l.out)
}

impl Lexer<'_> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> FormatError {
        FormatError::parse(self.name, self.src, pos, msg)
    }

    fn bytes(&self) -> &[u8] {
        self.src.as_bytes()
    }

    fn push(&mut self, tok: Tok, pos: usize, spaced: bool) {
        self.out.push(Token { tok, pos, spaced });
    }

    fn run(&mut self) -> Result<(), FormatError> {
        let mut trim_next_text = false;
        loop {
            let rest = &self.src[self.pos..];
            let text_end = rest.find("{{").map_or(self.src.len(), |i| self.pos + i);
            let mut text = &self.src[self.pos..text_end];
            if trim_next_text {
                text = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
            }
            let text_pos = text_end - text.len();
            if text_end == self.src.len() {
                if !text.is_empty() {
                    self.push(Tok::Text(text.to_owned()), text_pos, false);
                }
                self.push(Tok::Eof, self.src.len(), false);
                return Ok(());
            }
            // `{{- ` trims the text before the action.
            let b = self.bytes();
            let left_trim = b.get(text_end + 2) == Some(&b'-')
                && b.get(text_end + 3).is_some_and(|c| is_space(*c));
            if left_trim {
                text = text.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
            }
            if !text.is_empty() {
                self.push(Tok::Text(text.to_owned()), text_pos, false);
            }
            self.pos = text_end + 2 + if left_trim { 2 } else { 0 };
            trim_next_text = self.action(text_end)?;
        }
    }

    /// Checks for the right delimiter at the current position; returns
    /// `Some(trim)` and consumes it when found.
    fn right_delim(&mut self) -> Option<bool> {
        let rest = &self.src[self.pos..];
        if rest.starts_with("}}") {
            self.pos += 2;
            return Some(false);
        }
        if rest.len() >= 4 && is_space(rest.as_bytes()[0]) && rest[1..].starts_with("-}}") {
            self.pos += 4;
            return Some(true);
        }
        None
    }

    /// Lexes one action starting after its left delimiter. Returns whether
    /// it ended with a trim marker.
    fn action(&mut self, start: usize) -> Result<bool, FormatError> {
        // Comment: `{{/* ... */}}`, possibly with trim markers.
        let after_ws = self.src[self.pos..].trim_start_matches([' ', '\t', '\r', '\n']);
        if after_ws.starts_with("/*") {
            let cstart = self.src.len() - after_ws.len();
            let Some(end) = self.src[cstart + 2..].find("*/") else {
                return Err(self.err(start, "unclosed comment"));
            };
            self.pos = cstart + 2 + end + 2;
            return match self.right_delim() {
                Some(trim) => Ok(trim),
                None => Err(self.err(start, "comment ends before closing delimiter")),
            };
        }
        self.push(Tok::Left, start, false);
        let mut spaced = false;
        loop {
            if let Some(trim) = self.right_delim() {
                self.push(Tok::Right, self.pos - 2, spaced);
                return Ok(trim);
            }
            let Some(c) = self.src[self.pos..].chars().next() else {
                return Err(self.err(start, "unclosed action"));
            };
            let pos = self.pos;
            if c.is_ascii() && is_space(c as u8) {
                self.pos += 1;
                spaced = true;
                continue;
            }
            let tok = match c {
                '|' => self.single(Tok::Pipe),
                '(' => self.single(Tok::LParen),
                ')' => self.single(Tok::RParen),
                ',' => self.single(Tok::Comma),
                '=' => self.single(Tok::Assign),
                ':' => {
                    if self.src[pos..].starts_with(":=") {
                        self.pos += 2;
                        Tok::Declare
                    } else {
                        return Err(self.err(pos, "expected :="));
                    }
                }
                '"' => self.quoted()?,
                '`' => self.raw()?,
                '\'' => self.char_const()?,
                '$' => {
                    self.pos += 1;
                    let name = self.word();
                    Tok::Var(format!("${name}"))
                }
                '.' => {
                    let next = self.src[pos + 1..].chars().next();
                    if next.is_some_and(|n| n.is_ascii_digit()) {
                        self.number()
                    } else {
                        self.pos += 1;
                        let name = self.word();
                        if name.is_empty() {
                            Tok::Dot
                        } else {
                            Tok::Field(name)
                        }
                    }
                }
                '0'..='9' | '+' | '-' => self.number(),
                c if is_alnum(c) => {
                    let w = self.word();
                    match w.as_str() {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        _ => Tok::Ident(w),
                    }
                }
                c => return Err(self.err(pos, format!("unrecognized character in action: {c:?}"))),
            };
            self.push(tok, pos, spaced);
            spaced = false;
        }
    }

    fn single(&mut self, t: Tok) -> Tok {
        self.pos += 1;
        t
    }

    fn word(&mut self) -> String {
        let rest = &self.src[self.pos..];
        let len = rest.find(|c: char| !is_alnum(c)).unwrap_or(rest.len());
        self.pos += len;
        rest[..len].to_owned()
    }

    fn number(&mut self) -> Tok {
        let rest = &self.src[self.pos..];
        let mut len = 0;
        let b = rest.as_bytes();
        if matches!(b.first(), Some(b'+' | b'-')) {
            len = 1;
        }
        while len < b.len() {
            let c = b[len];
            let exp_sign = matches!(c, b'+' | b'-')
                && len > 0
                && matches!(b[len - 1], b'e' | b'E' | b'p' | b'P');
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
                len += 1;
            } else {
                break;
            }
        }
        self.pos += len;
        Tok::Number(rest[..len].to_owned())
    }

    fn quoted(&mut self) -> Result<Tok, FormatError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return Ok(Tok::Str(out));
                }
                '\n' => break,
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    let simple = match e {
                        'n' => Some('\n'),
                        't' => Some('\t'),
                        'r' => Some('\r'),
                        'a' => Some('\x07'),
                        'b' => Some('\x08'),
                        'f' => Some('\x0c'),
                        'v' => Some('\x0b'),
                        '\\' => Some('\\'),
                        '"' => Some('"'),
                        '\'' => Some('\''),
                        _ => None,
                    };
                    if let Some(s) = simple {
                        out.push(s);
                        continue;
                    }
                    let (digits, radix) = match e {
                        'x' => (2, 16),
                        'u' => (4, 16),
                        'U' => (8, 16),
                        '0'..='7' => (2, 8),
                        _ => return Err(self.err(start, format!("unknown escape sequence: \\{e}"))),
                    };
                    let mut code = if radix == 8 {
                        e.to_digit(8).unwrap_or(0)
                    } else {
                        0
                    };
                    for _ in 0..digits {
                        let d = chars.next().and_then(|(_, d)| d.to_digit(radix));
                        let Some(d) = d else {
                            return Err(self.err(start, "invalid escape sequence in string"));
                        };
                        code = code * radix + d;
                    }
                    match char::from_u32(code) {
                        Some(c) => out.push(c),
                        None => return Err(self.err(start, "invalid escape sequence in string")),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.err(start, "unterminated quoted string"))
    }

    fn raw(&mut self) -> Result<Tok, FormatError> {
        let start = self.pos;
        match self.src[start + 1..].find('`') {
            Some(end) => {
                self.pos = start + 1 + end + 1;
                Ok(Tok::Str(self.src[start + 1..start + 1 + end].to_owned()))
            }
            None => Err(self.err(start, "unterminated raw quoted string")),
        }
    }

    fn char_const(&mut self) -> Result<Tok, FormatError> {
        let start = self.pos;
        let rest = &self.src[start + 1..];
        let Some(end) = rest.find('\'') else {
            return Err(self.err(start, "unterminated character constant"));
        };
        let body = &rest[..end];
        let c = if let Some(esc) = body.strip_prefix('\\') {
            match esc {
                "n" => '\n',
                "t" => '\t',
                "r" => '\r',
                "\\" => '\\',
                "0" => '\0',
                _ => {
                    return Err(self.err(start, format!("unsupported character constant '{body}'")));
                }
            }
        } else {
            let mut it = body.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => c,
                _ => return Err(self.err(start, format!("malformed character constant '{body}'"))),
            }
        };
        self.pos = start + 1 + end + 1;
        Ok(Tok::Number((c as u32).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex("t", src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn text_and_fields() {
        assert_eq!(
            toks("a {{.A.B}} b"),
            [
                Tok::Text("a ".into()),
                Tok::Left,
                Tok::Field("A".into()),
                Tok::Field("B".into()),
                Tok::Right,
                Tok::Text(" b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(
            toks("a  {{- .X -}}  b {{/* c */}}x\n {{- /* c */ -}}\n y"),
            [
                Tok::Text("a".into()),
                Tok::Left,
                Tok::Field("X".into()),
                Tok::Right,
                Tok::Text("b ".into()),
                Tok::Text("x".into()),
                Tok::Text("y".into()),
                Tok::Eof
            ]
        );
        // `{{-3}}` is a number, not a trim marker.
        assert_eq!(toks("{{-3}}")[1], Tok::Number("-3".into()));
    }

    #[test]
    fn literals_and_operators() {
        assert_eq!(
            toks(r#"{{$x := "a\tb\u00e9" `r\n` 'a' 1.5e+3 true nil | (.)}}"#)[1..12],
            [
                Tok::Var("$x".into()),
                Tok::Declare,
                Tok::Str("a\tbé".into()),
                Tok::Str("r\\n".into()),
                Tok::Number("97".into()),
                Tok::Number("1.5e+3".into()),
                Tok::Bool(true),
                Tok::Nil,
                Tok::Pipe,
                Tok::LParen,
                Tok::Dot,
            ]
        );
    }

    #[test]
    fn errors_say_where() {
        let e = lex("ps", "ab\n{{.A").unwrap_err().to_string();
        assert_eq!(e, "template: ps:2: unclosed action");
        let e = lex("ps", "{{\"abc}}").unwrap_err().to_string();
        assert_eq!(e, "template: ps:1: unterminated quoted string");
    }
}
