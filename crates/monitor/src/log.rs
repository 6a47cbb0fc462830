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
    Some(Record {
        timestamp,
        stream,
        full,
        text,
    })
}

/// A moment in local time, broken down (as `localtime_r` gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// Seconds east of UTC.
    pub offset: i32,
}

impl LocalTime {
    /// Now, in the local time zone (`TZ`, else `/etc/localtime`, as libc reads them).
    pub fn now() -> LocalTime {
        crate::sys::local_now()
    }
}

/// conmon's timestamp: RFC 3339 in local time, exactly 9 fractional digits, `±HH:MM`.
pub fn format_timestamp(t: &LocalTime) -> String {
    let sign = if t.offset < 0 { '-' } else { '+' };
    let off = t.offset.unsigned_abs();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}{sign}{:02}:{:02}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.nanos,
        off / 3600,
        off % 3600 / 60
    )
}

/// Append the k8s-file records for one chunk read from `stream` to `out`, one record per
/// line, all with the timestamp `ts`; a trailing piece without newline becomes a `P`
/// record (and gets a newline in the file). Returns the records' byte sizes in order.
pub fn encode_chunk(ts: &str, stream: Stream, chunk: &[u8], out: &mut Vec<u8>) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut rest = chunk;
    while !rest.is_empty() {
        let (line, full, used) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true, i + 1),
            None => (rest, false, rest.len()),
        };
        let start = out.len();
        out.extend_from_slice(ts.as_bytes());
        out.push(b' ');
        out.extend_from_slice(stream.as_str().as_bytes());
        out.extend_from_slice(if full { b" F " } else { b" P " });
        out.extend_from_slice(line);
        out.push(b'\n');
        sizes.push(out.len() - start);
        rest = &rest[used..];
    }
    sizes
}

/// A k8s-file log being written, with size-triggered rotation.
///
/// conmon truncates the file when `--log-size-max` would be exceeded (losing data) unless
/// `--log-rotate` is given; Podman 4.3 passes only `--log-size-max`, so we always rotate:
/// `ctr.log` → `ctr.log.1` → `ctr.log.2` …, keeping `max_files` old files. A record is never
/// split across files.
#[derive(Debug)]
pub struct K8sWriter {
    path: std::path::PathBuf,
    file: std::fs::File,
    written: u64,
    size_max: Option<u64>,
    max_files: u32,
}

impl K8sWriter {
    /// Open (create, append) the log at `path`, mode 0640.
    pub fn open(
        path: &std::path::Path,
        size_max: Option<u64>,
        max_files: u32,
    ) -> std::io::Result<K8sWriter> {
        let file = open_log(path)?;
        let written = file.metadata()?.len();
        Ok(K8sWriter {
            path: path.to_path_buf(),
            file,
            written,
            size_max,
            max_files,
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Write one chunk read from the container, stamped with the current local time.
    pub fn write_chunk(&mut self, stream: Stream, chunk: &[u8]) -> std::io::Result<()> {
        let ts = format_timestamp(&LocalTime::now());
        self.write_chunk_at(&ts, stream, chunk)
    }

    /// Write one chunk with a given timestamp (all its records share it).
    pub fn write_chunk_at(
        &mut self,
        ts: &str,
        stream: Stream,
        chunk: &[u8],
    ) -> std::io::Result<()> {
        use std::io::Write;
        let mut buf = Vec::with_capacity(chunk.len() + 64);
        let sizes = encode_chunk(ts, stream, chunk, &mut buf);
        let mut pending_start = 0;
        let mut offset = 0;
        for size in sizes {
            let size64 = size as u64;
            if let Some(max) = self.size_max
                && self.written > 0
                && self.written + size64 > max
            {
                self.file.write_all(&buf[pending_start..offset])?;
                pending_start = offset;
                self.rotate()?;
            }
            self.written += size64;
            offset += size;
        }
        self.file.write_all(&buf[pending_start..offset])
    }

    /// Shift the old files up by one, move the log to `.1`, and start a new empty log.
    /// With `max_files == 0` the log is simply started afresh.
    pub fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            std::path::PathBuf::from(p)
        };
        if self.max_files == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.max_files).rev() {
                match std::fs::rename(numbered(n), numbered(n + 1)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.reopen()
    }

    /// Open the log path again (after someone moved it away, or after rotation).
    pub fn reopen(&mut self) -> std::io::Result<()> {
        self.file = open_log(&self.path)?;
        self.written = self.file.metadata()?.len();
        Ok(())
    }

    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_all()
    }
}

fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
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

#[cfg(test)]
mod writer_tests {
    use super::*;

    const TS: &str = "2024-05-01T10:00:00.123456789+02:00";

    #[test]
    fn encodes_lines_and_partials() {
        let mut out = Vec::new();
        let sizes = encode_chunk(TS, Stream::Stdout, b"a\nbc\n\nd", &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], format!("{TS} stdout F a"));
        assert_eq!(lines[1], format!("{TS} stdout F bc"));
        assert_eq!(lines[2], format!("{TS} stdout F "));
        assert_eq!(lines[3], format!("{TS} stdout P d"));
        assert_eq!(sizes.iter().sum::<usize>(), text.len());
        let mut out = Vec::new();
        encode_chunk(TS, Stream::Stderr, b"x\n", &mut out);
        assert_eq!(out, format!("{TS} stderr F x\n").as_bytes());
        for l in lines {
            assert!(parse_line(l).is_some());
        }
    }

    #[test]
    fn timestamp_format() {
        let t = LocalTime {
            year: 2024,
            month: 5,
            day: 1,
            hour: 10,
            minute: 0,
            second: 0,
            nanos: 1234,
            offset: 2 * 3600,
        };
        assert_eq!(format_timestamp(&t), "2024-05-01T10:00:00.000001234+02:00");
        let t = LocalTime {
            year: 2024,
            month: 1,
            day: 2,
            hour: 3,
            minute: 4,
            second: 5,
            nanos: 0,
            offset: -(5 * 3600 + 1800),
        };
        assert_eq!(format_timestamp(&t), "2024-01-02T03:04:05.000000000-05:30");
    }

    #[test]
    fn local_now_agrees_with_chrono() {
        use chrono::{Datelike, Offset, Timelike};
        // Two readings a moment apart: equal to the second unless a second ticked between.
        for _ in 0..3 {
            let ours = LocalTime::now();
            let theirs = chrono::Local::now();
            let same = (
                ours.year,
                ours.month,
                ours.day,
                ours.hour,
                ours.minute,
                ours.second,
            ) == (
                theirs.year(),
                theirs.month(),
                theirs.day(),
                theirs.hour(),
                theirs.minute(),
                theirs.second(),
            );
            if same {
                assert_eq!(ours.offset, theirs.offset().fix().local_minus_utc());
                assert!(ours.nanos < 1_000_000_000);
                return;
            }
        }
        panic!("LocalTime::now and chrono::Local::now disagree");
    }

    #[test]
    fn rotation_keeps_every_record_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let rec = format!("{TS} stdout F 0000\n").len() as u64;
        let mut w = K8sWriter::open(&path, Some(rec * 3), 2).unwrap();
        for i in 0..10 {
            w.write_chunk_at(TS, Stream::Stdout, format!("{i:04}\n").as_bytes())
                .unwrap();
        }
        // 10 records, 3 per file: 1 in ctr.log, 3 in .1, 3 in .2, the oldest 3 dropped.
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
        let cur = read(&path);
        let one = read(&dir.path().join("ctr.log.1"));
        let two = read(&dir.path().join("ctr.log.2"));
        assert!(!dir.path().join("ctr.log.3").exists());
        let texts = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| parse_line(l).unwrap().text.to_string())
                .collect()
        };
        assert_eq!(texts(&two), ["0003", "0004", "0005"]);
        assert_eq!(texts(&one), ["0006", "0007", "0008"]);
        assert_eq!(texts(&cur), ["0009"]);
        // One chunk holding several lines is split between files only at record bounds.
        w.write_chunk_at(TS, Stream::Stdout, b"aaaa\nbbbb\ncccc\n")
            .unwrap();
        assert_eq!(texts(&read(&path)), ["cccc"]);
        assert_eq!(
            texts(&read(&dir.path().join("ctr.log.1"))),
            ["0009", "aaaa", "bbbb"]
        );
    }

    #[test]
    fn appends_and_counts_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        std::fs::write(&path, "x".repeat(100)).unwrap();
        let mut w = K8sWriter::open(&path, Some(120), 1).unwrap();
        w.write_chunk_at(TS, Stream::Stdout, b"hello\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ctr.log.1"))
                .unwrap()
                .len(),
            100
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}
