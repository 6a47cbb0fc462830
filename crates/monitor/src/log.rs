//! The k8s-file (CRI) log format, as conmon writes it:
//! `<RFC3339Nano local time with ±HH:MM> <stdout|stderr> <P|F> <text>\n`.
//!
//! The monitor writes it; the engine's `logs` reads it.

/// Which stream a log record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One parsed k8s-file record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The timestamp exactly as written.
    pub timestamp: &'a str,
    pub stream: Stream,
    /// `false` for a `P` (partial) record: the text had no newline at this point.
    pub full: bool,
    pub text: &'a str,
}

/// Parse one line of a k8s-file log (without its trailing newline).
pub fn parse_line(line: &str) -> Option<Record<'_>> {
    let mut parts = line.splitn(4, ' ');
    let timestamp = parts.next()?;
    let stream = match parts.next()? {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let full = match parts.next()? {
        "F" => true,
        "P" => false,
        _ => return None,
    };
    let text = parts.next().unwrap_or("");
    Some(Record { timestamp, stream, full, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conmon_lines() {
        let r = parse_line("2024-05-01T10:00:00.123456789+02:00 stdout F hello world").unwrap();
        assert_eq!(r.stream, Stream::Stdout);
        assert!(r.full);
        assert_eq!(r.text, "hello world");
        let p = parse_line("2024-05-01T10:00:00.123456789+02:00 stderr P ").unwrap();
        assert!(!p.full);
        assert_eq!(p.text, "");
        assert!(parse_line("garbage").is_none());
    }
}
