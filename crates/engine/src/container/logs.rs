//! `logs`: read the k8s-file log the monitor writes, across rotated files (`ctr.log.N` …
//! `ctr.log.1`, then `ctr.log`), and follow it, across rotation, while the container runs.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use peapod_monitor::log::{Stream, parse_line};

use super::Container;
use crate::Engine;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<usize>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub timestamps: bool,
    /// Prefix every line with this (for `--names` and pod logs).
    pub prefix: Option<String>,
}

/// One log line, joined from its partial records.
struct Line {
    timestamp: String,
    time: Option<DateTime<FixedOffset>>,
    stream: Stream,
    text: String,
}

/// The rotated files of `path`, oldest first, then `path` itself.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for e in entries.flatten() {
            let fname = e.file_name();
            let Some(f) = fname.to_str() else { continue };
            if let Some(n) = f
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|r| r.parse::<u32>().ok())
            {
                rotated.push((n, e.path()));
            }
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    out.push(path.to_path_buf());
    out
}

/// Accumulates records into lines: a `P` record continues into the next record of the same
/// stream (a stderr record may come between two halves of a stdout line).
#[derive(Default)]
struct Joiner {
    /// The pending partial line of stdout and of stderr.
    partial: [Option<Line>; 2],
}

impl Joiner {
    fn push(&mut self, raw: &str) -> Option<Line> {
        let rec = parse_line(raw)?;
        let slot = &mut self.partial[(rec.stream == Stream::Stderr) as usize];
        let line = match slot.take() {
            Some(mut p) => {
                p.text.push_str(rec.text);
                p
            }
            None => Line {
                timestamp: rec.timestamp.to_string(),
                time: DateTime::parse_from_rfc3339(rec.timestamp).ok(),
                stream: rec.stream,
                text: rec.text.to_string(),
            },
        };
        if rec.full {
            Some(line)
        } else {
            *slot = Some(line);
            None
        }
    }
}

struct Printer<'a> {
    opts: &'a LogOptions,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl Printer<'_> {
    fn wanted(&self, l: &Line) -> bool {
        match l.time {
            Some(t) => {
                self.opts.since.is_none_or(|s| t >= s) && self.opts.until.is_none_or(|u| t <= u)
            }
            None => true,
        }
    }

    fn print(&mut self, l: &Line) -> std::io::Result<()> {
        if !self.wanted(l) {
            return Ok(());
        }
        let w: &mut dyn Write = if l.stream == Stream::Stderr {
            &mut *self.err
        } else {
            &mut *self.out
        };
        if let Some(p) = &self.opts.prefix {
            write!(w, "{p} ")?;
        }
        if self.opts.timestamps {
            write!(w, "{} ", l.timestamp)?;
        }
        writeln!(w, "{}", l.text)
    }
}

impl Engine {
    pub fn logs(
        &self,
        c: &Container,
        opts: &LogOptions,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<()> {
        if c.config.log_driver != "k8s-file" {
            return Err(Error::invalid(format!(
                "this container is using the '{}' log driver, cannot read logs: this container is not logging output",
                c.config.log_driver
            )));
        }
        let path = PathBuf::from(&c.config.log_path);
        let mut printer = Printer { opts, out, err };
        let mut joiner = Joiner::default();
        let files = log_files(&path);
        let mut lines = Vec::new();
        for f in &files[..files.len() - 1] {
            if let Ok(file) = File::open(f) {
                for raw in BufReader::new(file).lines().map_while(|l| l.ok()) {
                    lines.extend(joiner.push(&raw));
                }
            }
        }
        // The live file: remember where we stopped so following continues from there.
        let mut live = File::open(&path).ok();
        let mut pending = String::new();
        if let Some(f) = live.as_mut() {
            let mut reader = BufReader::new(&mut *f);
            let mut buf = String::new();
            loop {
                buf.clear();
                match reader.read_line(&mut buf) {
                    Ok(0) => break,
                    Ok(_) if buf.ends_with('\n') => {
                        lines.extend(joiner.push(buf.trim_end_matches('\n')))
                    }
                    Ok(_) => {
                        pending = buf.clone();
                        break;
                    }
                    Err(_) => break,
                }
            }
            let pos = reader.stream_position().unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(pos - pending.len() as u64));
        }
        let skip = opts
            .tail
            .map(|t| lines.len().saturating_sub(t))
            .unwrap_or(0);
        for l in &lines[skip..] {
            printer.print(l).map_err(write_err)?;
        }
        if !opts.follow {
            return Ok(());
        }
        self.follow(c, &path, live, &mut joiner, &mut printer)
    }

    fn follow(
        &self,
        c: &Container,
        path: &Path,
        mut live: Option<File>,
        joiner: &mut Joiner,
        printer: &mut Printer<'_>,
    ) -> Result<()> {
        let mut buf = String::new();
        let mut idle_checks = 0u32;
        loop {
            let mut progressed = false;
            if let Some(f) = live.as_mut() {
                progressed |= drain(f, &mut buf, joiner, printer)?;
            }
            // Rotated? The path now names a new file: finish the old one, then switch.
            let current_ino = std::fs::metadata(path).map(|m| m.ino()).ok();
            let open_ino = live
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map(|m| m.ino());
            if current_ino.is_some() && current_ino != open_ino {
                if let Some(f) = live.as_mut() {
                    drain(f, &mut buf, joiner, printer)?;
                }
                buf.clear();
                // A fast writer may have rotated more than once since we looked: read the
                // files rotated after ours, up to the one we follow next.
                let next = File::open(path).ok();
                let next_ino = next
                    .as_ref()
                    .and_then(|f| f.metadata().ok())
                    .map(|m| m.ino());
                for mut f in rotated_between(path, open_ino, next_ino) {
                    drain(&mut f, &mut buf, joiner, printer)?;
                    buf.clear();
                }
                live = next;
                continue;
            }
            if !progressed {
                idle_checks += 1;
                if idle_checks % 4 == 0 {
                    let running = match self.container(c.id()) {
                        Ok(now) => now.state.status.is_active(),
                        Err(_) => false,
                    };
                    if !running {
                        // The monitor drains the pipes before it writes the exit file: one
                        // more read sees everything.
                        if let Some(f) = live.as_mut() {
                            drain(f, &mut buf, joiner, printer)?;
                        }
                        return Ok(());
                    }
                }
                std::thread::sleep(Duration::from_millis(25));
            } else {
                idle_checks = 0;
            }
        }
    }
}

/// The rotated files newer than the one with inode `after` (all of them if it is gone) and
/// older than the one with inode `before`, oldest first, opened.
fn rotated_between(path: &Path, after: Option<u64>, before: Option<u64>) -> Vec<File> {
    let files = log_files(path);
    let opened: Vec<(File, u64)> = files[..files.len() - 1]
        .iter()
        .filter_map(|p| File::open(p).ok())
        .filter_map(|f| {
            let ino = f.metadata().ok()?.ino();
            Some((f, ino))
        })
        .collect();
    let start = after
        .and_then(|a| opened.iter().position(|(_, i)| *i == a))
        .map(|p| p + 1)
        .unwrap_or(0);
    opened
        .into_iter()
        .skip(start)
        .take_while(|(_, i)| Some(*i) != before)
        .map(|(f, _)| f)
        .collect()
}

/// Read whatever complete lines the file has grown by; keep an unfinished line in `buf`.
fn drain(
    f: &mut File,
    buf: &mut String,
    joiner: &mut Joiner,
    printer: &mut Printer<'_>,
) -> Result<bool> {
    let mut reader = BufReader::new(f);
    let mut progressed = false;
    loop {
        let mut chunk = String::new();
        match reader.read_line(&mut chunk) {
            Ok(0) => break,
            Ok(_) => {
                progressed = true;
                buf.push_str(&chunk);
                if buf.ends_with('\n') {
                    if let Some(l) = joiner.push(buf.trim_end_matches('\n')) {
                        printer.print(&l).map_err(write_err)?;
                    }
                    buf.clear();
                }
            }
            Err(_) => break,
        }
    }
    Ok(progressed)
}

fn write_err(e: std::io::Error) -> Error {
    Error::other(format!("writing logs: {e}"))
}

/// `--since`/`--until`: RFC 3339, a date, a unix timestamp, or a duration back from now
/// (`10m`, `1h30m`, `90s`), as Podman accepts them.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S") {
        return Ok(d.and_utc());
    }
    if let Ok(secs) = t.parse::<f64>() {
        let whole = secs.trunc() as i64;
        let nanos = ((secs - secs.trunc()) * 1e9) as u32;
        return DateTime::from_timestamp(whole, nanos)
            .ok_or_else(|| Error::invalid(format!("invalid time {s:?}")));
    }
    let d = parse_duration(t).ok_or_else(|| {
        Error::invalid(format!(
            "invalid time {s:?}: use RFC 3339, a unix timestamp or a duration like 10m"
        ))
    })?;
    Ok(Utc::now() - d)
}

/// A Go duration: `1h30m`, `10m`, `45s`, `500ms`.
pub fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() || n == 'µ' {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().ok()?;
        num.clear();
        let mult = match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += v * mult;
        any = true;
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(chrono::Duration::nanoseconds((total * 1e9) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_partial_records() {
        let mut j = Joiner::default();
        assert!(
            j.push("2024-01-01T00:00:00.000000000+00:00 stdout P hel")
                .is_none()
        );
        let l = j
            .push("2024-01-01T00:00:00.000000001+00:00 stdout F lo")
            .unwrap();
        assert_eq!(l.text, "hello");
        assert_eq!(l.timestamp, "2024-01-01T00:00:00.000000000+00:00");
    }

    #[test]
    fn a_stderr_record_between_two_halves_loses_nothing() {
        let mut j = Joiner::default();
        assert!(j.push("2024-01-01T00:00:00.1+00:00 stdout P hel").is_none());
        let e = j.push("2024-01-01T00:00:00.2+00:00 stderr F oops").unwrap();
        assert_eq!(e.text, "oops");
        let l = j.push("2024-01-01T00:00:00.3+00:00 stdout F lo").unwrap();
        assert_eq!((l.text.as_str(), l.stream), ("hello", Stream::Stdout));
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(
            parse_duration("1h30m").unwrap(),
            chrono::Duration::minutes(90)
        );
        assert_eq!(
            parse_duration("500ms").unwrap(),
            chrono::Duration::milliseconds(500)
        );
        assert!(parse_duration("10").is_none());
        assert!(parse_duration("abc").is_none());
        assert_eq!(
            parse_time("2024-01-02T03:04:05Z").unwrap().timestamp(),
            1704164645
        );
        assert_eq!(parse_time("1704164645").unwrap().timestamp(), 1704164645);
        let ago = parse_time("10m").unwrap();
        assert!(
            (Utc::now() - ago - chrono::Duration::minutes(10))
                .num_seconds()
                .abs()
                < 5
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn rotated_files_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        for f in ["ctr.log", "ctr.log.1", "ctr.log.2", "ctr.log.tmp"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let files = log_files(&p);
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, vec!["ctr.log.2", "ctr.log.1", "ctr.log"]);
    }
}
