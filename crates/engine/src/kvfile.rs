//! `KEY=VALUE` files as Podman reads them (`--env-file`, `--label-file`): one entry a line,
//! read with Go's `bufio.Scanner`.
//!
//! The scanner's 64 KiB buffer must hold a line and its newline, so a line of more than
//! 65535 bytes is an error ("bufio.Scanner: token too long"), whatever comes after it.
//! The reader never holds more than one such line, however long the line in the file is.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The longest line Go's `bufio.Scanner` returns with its default buffer (a `\r` before
/// the newline counts).
pub const MAX_LINE: usize = 64 * 1024 - 1;

/// Why a file could not be read.
#[derive(Debug)]
pub enum KvFileError {
    Io(std::io::Error),
    /// Line `line` (1-based) is longer than [`MAX_LINE`].
    TooLong {
        line: usize,
    },
    /// Line `line` is not UTF-8.
    NotUtf8 {
        line: usize,
    },
}

impl fmt::Display for KvFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvFileError::Io(e) => write!(f, "{e}"),
            // Podman's message is the scanner's; the line number says where.
            KvFileError::TooLong { line } => write!(
                f,
                "line {line} is longer than {MAX_LINE} bytes: bufio.Scanner: token too long"
            ),
            KvFileError::NotUtf8 { line } => write!(f, "line {line} is not valid UTF-8"),
        }
    }
}

impl From<std::io::Error> for KvFileError {
    fn from(e: std::io::Error) -> Self {
        KvFileError::Io(e)
    }
}

/// The entries of the file at `path`: each line with a trailing `\r` dropped and leading
/// blanks trimmed, skipping blank lines and `#` comments.
pub fn entries(path: &Path) -> Result<Vec<String>, KvFileError> {
    read_entries(std::fs::File::open(path)?)
}

fn read_entries(input: impl Read) -> Result<Vec<String>, KvFileError> {
    let mut reader = BufReader::new(input);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for line in 1.. {
        buf.clear();
        // One byte more than a line may hold: enough to tell that it is too long.
        let got = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if got == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.len() > MAX_LINE {
            return Err(KvFileError::TooLong { line });
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let text = std::str::from_utf8(&buf).map_err(|_| KvFileError::NotUtf8 { line })?;
        let entry = text.trim_start_matches([' ', '\t']);
        if !entry.is_empty() && !entry.starts_with('#') {
            out.push(entry.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Vec<String>, KvFileError> {
        read_entries(bytes)
    }

    #[test]
    fn lines_comments_blanks_and_crlf() {
        let got = read(b"A=1\n\n  # c\n  B = 2 \nC\r\nD=x").unwrap();
        assert_eq!(got, ["A=1", "B = 2 ", "C", "D=x"]);
    }

    /// The bounds Podman 4.3 showed: 65535 bytes and a newline pass, with or without the
    /// newline; 65536 fail, with or without it.
    #[test]
    fn line_length_is_go_scanner_s() {
        let ok = format!("A={}", "x".repeat(MAX_LINE - 2));
        assert_eq!(
            read(format!("{ok}\n").as_bytes()).unwrap(),
            std::slice::from_ref(&ok)
        );
        assert_eq!(read(ok.as_bytes()).unwrap(), std::slice::from_ref(&ok));
        let long = format!("{ok}x");
        for text in [format!("B=1\n{long}\n"), format!("B=1\n{long}")] {
            let e = read(text.as_bytes()).unwrap_err();
            assert!(matches!(e, KvFileError::TooLong { line: 2 }), "{e}");
            assert_eq!(
                e.to_string(),
                "line 2 is longer than 65535 bytes: bufio.Scanner: token too long"
            );
        }
        // A 10 MB line is refused without reading it whole.
        let huge = vec![b'x'; 10 << 20];
        assert!(matches!(read(&huge), Err(KvFileError::TooLong { line: 1 })));
    }

    #[test]
    fn not_utf8_names_the_line() {
        let e = read(b"A=1\nB=\xff\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2 is not valid UTF-8");
    }
}
