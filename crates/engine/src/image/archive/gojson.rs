//! JSON written the way Go's `encoding/json` writes it, for the few files of a
//! docker-archive that c/image derives from other JSON (the legacy per-layer `json`, whose
//! digest is the legacy layer id, and `repositories`). Matching Go byte for byte keeps an
//! archive saved by peapod identical to Podman's for the same image.
//!
//! Go sorts map keys, escapes `<`, `>`, `&`, U+2028 and U+2029 in strings (HTML-safe
//! output), and writes a `json.RawMessage` compacted but otherwise as it came.

use std::collections::BTreeMap;

/// Appends `s` as a Go JSON string (Go 1.19's escapes: `\"`, `\\`, `\n`, `\r`, `\t`,
/// `\u00XX` for other control characters and for `<`, `>`, `&`, and U+2028/U+2029).
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the raw JSON value `raw` as Go's encoder writes a `json.RawMessage`: whitespace
/// between tokens dropped, `<`, `>`, `&`, U+2028 and U+2029 inside strings escaped, every
/// other byte kept. `raw` must be valid JSON (it came out of a parser).
pub fn push_compact(out: &mut String, raw: &str) {
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            match c {
                _ if escaped => {
                    escaped = false;
                    out.push(c);
                }
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_string = false;
                    out.push(c);
                }
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
                c => out.push(c),
            }
        } else {
            match c {
                ' ' | '\t' | '\n' | '\r' => {}
                '"' => {
                    in_string = true;
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
}

/// A value of a Go `map[string]interface{}` being encoded (a string or raw JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoValue {
    String(String),
    /// Already JSON (a `json.RawMessage`, or `null` for a nil one).
    Raw(String),
}

/// Encodes a Go map: keys in byte order, no whitespace.
pub fn encode_map(m: &BTreeMap<String, GoValue>) -> String {
    let mut out = String::new();
    push_map(&mut out, m);
    out
}

fn push_map(out: &mut String, m: &BTreeMap<String, GoValue>) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, k);
        out.push(':');
        match v {
            GoValue::String(s) => push_string(out, s),
            GoValue::Raw(r) => push_compact(out, r),
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_go_does() {
        let mut s = String::new();
        push_string(&mut s, "a\"b\\c\n<x>&\u{1}\u{2028}é");
        assert_eq!(s, r#""a\"b\\c\n\u003cx\u003e\u0026\u0001\u2028é""#);
    }

    #[test]
    fn raw_messages_are_compacted_and_html_escaped() {
        let mut s = String::new();
        push_compact(
            &mut s,
            "{ \"Cmd\" : [ \"a > b\", \"\\\"q\\\"\" ],\n \"N\": 1.50 }",
        );
        assert_eq!(s, r#"{"Cmd":["a \u003e b","\"q\""],"N":1.50}"#);
    }

    #[test]
    fn maps_sort_their_keys() {
        let mut m = BTreeMap::new();
        m.insert("os".to_string(), GoValue::Raw("\"linux\"".into()));
        m.insert("config".to_string(), GoValue::Raw("null".into()));
        m.insert("id".to_string(), GoValue::String("abc".into()));
        assert_eq!(encode_map(&m), r#"{"config":null,"id":"abc","os":"linux"}"#);
    }
}
