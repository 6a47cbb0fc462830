//! moby's `patternmatcher`, ported: patterns are `filepath.Clean`ed, `!` marks an
//! exception, the syntax is checked with Go's `filepath.Match`, and matching uses the
//! regex patternmatcher builds (`*` and `?` stop at `/`, `**` spans directories, `**` at
//! the start matches any suffix, at the end any prefix). Later patterns win; a path also
//! matches when one of its parent directories does.

use super::regex::Regex;
use crate::build::gopath::{go_clean, go_match};

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `foo**`: the text before `**` is a prefix.
    Prefix,
    /// `**foo` (no other wildcard): the text after `**` is a suffix.
    Suffix,
    Regex(Regex),
}

/// One line of an ignore file.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    /// The pattern, cleaned, without its `!`.
    pub fn text(&self) -> &str {
        &self.cleaned
    }

    /// A `!` exception (re-includes what earlier patterns excluded).
    pub fn is_exception(&self) -> bool {
        self.exclusion
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// Regex metacharacters that mean nothing to `filepath.Match` and are escaped.
fn should_escape(c: char) -> bool {
    matches!(c, '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$')
}

/// patternmatcher's `compile`.
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq, Eq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut detected = Detected::Exact;
    let mut pos = 0;
    let mut first = true;
    while pos < chars.len() {
        let ch = chars[pos];
        pos += 1;
        match ch {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                // `**/` is `**`.
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        re.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if first {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                detected = Detected::Regex;
            }
            c if should_escape(c) => {
                re.push('\\');
                re.push(c);
            }
            '\\' => match chars.get(pos) {
                Some(&next) => {
                    re.push('\\');
                    re.push(next);
                    pos += 1;
                    detected = Detected::Regex;
                }
                None => re.push('\\'),
            },
            '[' | ']' => {
                re.push(ch);
                detected = Detected::Regex;
            }
            c => re.push(c),
        }
        first = false;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix,
        Detected::Suffix => Kind::Suffix,
        Detected::Regex => {
            re.push('$');
            Kind::Regex(Regex::new(&re).map_err(|_| "syntax error in pattern".to_string())?)
        }
    })
}

/// What a directory's patterns matched, handed to its children
/// (patternmatcher's `MatchInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo(Vec<bool>);

/// An ignore file's patterns, ready to match slash-separated paths relative to the context.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// Go's `filepath.Dir` for `/` paths.
fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => go_clean(&path[..=i]),
        None => ".".to_string(),
    }
}

impl Matcher {
    /// patternmatcher's `New`.
    pub fn new(patterns: &[String]) -> Result<Matcher, (String, String)> {
        let mut m = Matcher::default();
        for raw in patterns {
            let p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = go_clean(p);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err((raw.clone(), "illegal exclusion pattern: \"!\"".to_string()));
                }
                exclusion = true;
                p = rest.to_string();
                m.exclusions = true;
            }
            let bad = || (raw.clone(), "syntax error in pattern".to_string());
            go_match(&p, ".").map_err(|_| bad())?;
            let kind = compile(&p).map_err(|_| bad())?;
            m.patterns.push(Pattern {
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(m)
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// There is at least one `!` exception.
    pub fn has_exceptions(&self) -> bool {
        self.exclusions
    }

    /// Whether `path` is excluded (`MatchesOrParentMatches`): the last pattern that
    /// matches the path or one of its parent directories decides.
    pub fn matches(&self, path: &str) -> bool {
        let parent = go_dir(path);
        let dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches(path);
            if !hit && parent != "." {
                hit = (0..dirs.len()).any(|i| p.matches(&dirs[..=i].join("/")));
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// [`Matcher::matches`], reusing what the parent directory matched
    /// (`MatchesUsingParentResults`); an empty `parent` means "not known".
    pub fn matches_with_parent(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let known = !parent.0.is_empty();
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = known && parent.0.get(i).copied().unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(path);
                if !hit && !known {
                    let dir = go_dir(path);
                    if dir != "." {
                        let dirs: Vec<&str> = dir.split('/').collect();
                        hit = (0..dirs.len()).any(|k| p.matches(&dirs[..=k].join("/")));
                    }
                }
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, MatchInfo(info))
    }
}

#[cfg(test)]
mod tests;
