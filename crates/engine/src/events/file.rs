//! The log file: appended by many processes at once, rotated at its bound, read and
//! followed by `events`.
//!
//! Appending: `O_APPEND` and one `write(2)` per line, under a shared `flock` on
//! `PATH.lock`, so appends never wait for each other. A writer that would take the file
//! to its bound takes the lock exclusively (no append is then half-way) and rotates as
//! Podman does: the newer half of the file is kept (from the first whole line past the
//! middle), then a `system log-rotation` event is written, then the event. The newest
//! events are never lost, and the file never grows past about its bound.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::{Event, EventType};
use crate::error::{Error, IoContext, Result};

/// Append `event` to the log at `path`, rotating first if the line would take the file to
/// `max_size` bytes (0: no bound).
pub fn append(path: &Path, max_size: u64, event: &Event) -> Result<()> {
    let mut line = event.to_json();
    line.push('\n');
    let lock = open_lock(path)?;
    let shared = Flock::lock(lock, FlockArg::LockShared)
        .map_err(|(_, e)| Error::io("locking", lock_path(path), e.into()))?;
    let mut log = open_append(path)?;
    let size = log.metadata().ctx("reading", path)?.len();
    if max_size == 0 || size + (line.len() as u64 - 1) < max_size {
        log.write_all(line.as_bytes()).ctx("writing", path)?;
        return Ok(());
    }
    // Over the bound: rotate with the lock held alone, then write.
    drop(log);
    let lock = shared
        .unlock()
        .map_err(|(_, e)| Error::io("unlocking", lock_path(path), e.into()))?;
    let _exclusive = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io("locking", lock_path(path), e.into()))?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut text = String::new();
    if size + (line.len() as u64 - 1) >= max_size {
        keep_newer_half(path)?;
        let mut rotated = Event::new(EventType::System, "log-rotation");
        rotated.name = path.display().to_string();
        text.push_str(&rotated.to_json());
        text.push('\n');
    }
    text.push_str(&line);
    open_append(path)?
        .write_all(text.as_bytes())
        .ctx("writing", path)
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn open_lock(path: &Path) -> Result<File> {
    let lock = lock_path(path);
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock)
    };
    match open() {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).ctx("creating events dir", dir)?;
            }
            open().ctx("opening", &lock)
        }
        Err(e) => Err(Error::io("opening", lock, e)),
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .ctx("opening", path)
}

/// Podman's `truncate`: keep what follows the first newline at or past the middle.
fn keep_newer_half(path: &Path) -> Result<()> {
    let mut orig = File::open(path).ctx("opening", path)?;
    let size = orig.metadata().ctx("reading", path)?.len();
    orig.seek(SeekFrom::Start(size / 2)).ctx("reading", path)?;
    let mut reader = BufReader::new(orig);
    let mut partial = Vec::new();
    reader
        .read_until(b'\n', &mut partial)
        .ctx("reading", path)?;
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).ctx("reading", path)?;
    // The exclusive lock keeps other peapod processes out: the name needs only the pid.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.rotate-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&rest));
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("rotating", path, e));
    }
    Ok(())
}

/// Reads the log from a position on, and notices a rotation.
pub struct Reader {
    path: PathBuf,
    /// Where the next unread line starts, in the file whose inode is `ino`.
    offset: u64,
    ino: u64,
    /// The last whole line returned: after a rotation, reading goes on after it.
    last: Option<String>,
    /// A line not yet ended by a newline (a writer is half-way).
    pending: Vec<u8>,
}

impl Reader {
    /// A reader at the start of the log, or at its end. A missing log is created empty
    /// (as Podman does, so a reader never waits on a file that is not there).
    pub fn open(path: &Path, from_start: bool) -> Result<Reader> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ctx("creating events dir", dir)?;
        }
        let f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .ctx("opening", path)?;
        let m = f.metadata().ctx("reading", path)?;
        Ok(Reader {
            path: path.to_path_buf(),
            offset: if from_start { 0 } else { m.len() },
            ino: m.ino(),
            last: None,
            pending: Vec::new(),
        })
    }

    /// The events written since the last call.
    pub fn read_new(&mut self) -> Result<Vec<Event>> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("opening", &self.path, e)),
        };
        let m = f.metadata().ctx("reading", &self.path)?;
        let mut skip_through_last = false;
        if m.ino() != self.ino || m.len() < self.offset {
            // Rotated (or replaced): go on after the last line we returned, which the
            // rotation kept; from the start if it is not there.
            self.ino = m.ino();
            self.offset = 0;
            self.pending.clear();
            skip_through_last = self.last.is_some();
        }
        if m.len() == self.offset {
            return Ok(Vec::new());
        }
        f.seek(SeekFrom::Start(self.offset))
            .ctx("reading", &self.path)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).ctx("reading", &self.path)?;
        self.offset += buf.len() as u64;
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(&buf);
        let mut lines: Vec<String> = Vec::new();
        let mut start = 0;
        while let Some(nl) = data[start..].iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&data[start..start + nl]).into_owned();
            start += nl + 1;
            if !line.trim().is_empty() {
                lines.push(line);
            }
        }
        self.pending = data[start..].to_vec();
        if skip_through_last
            && let Some(last) = &self.last
            && let Some(i) = lines.iter().position(|l| l == last)
        {
            lines.drain(..=i);
        }
        let mut events = Vec::with_capacity(lines.len());
        for line in &lines {
            let e: Event = serde_json::from_str(line).map_err(|e| {
                Error::other(format!(
                    "reading event log {}: {e}: {line}",
                    self.path.display()
                ))
            })?;
            events.push(e);
        }
        if let Some(l) = lines.pop() {
            self.last = Some(l);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> Event {
        let mut e = Event::new(EventType::Image, "pull");
        e.name = format!("image{n:04}");
        // Lines of one length, as in Podman's rotation test.
        e.time =
            chrono::DateTime::parse_from_rfc3339("2022-04-06T11:26:42.723667901+02:00").unwrap();
        e
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn appends_one_line_per_event_and_creates_the_dir() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("events").join("events.log");
        append(&path, 0, &event(1)).unwrap();
        append(&path, 0, &event(2)).unwrap();
        let l = lines(&path);
        assert_eq!(l.len(), 2);
        assert!(l[1].contains("\"Name\":\"image0002\""), "{}", l[1]);
    }

    #[test]
    fn rotation_keeps_the_newer_half_and_the_newest_event() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("events.log");
        for i in 0..100 {
            append(&path, 0, &event(i)).unwrap();
        }
        let size = std::fs::metadata(&path).unwrap().len();
        append(&path, size / 2, &event(100)).unwrap();
        let l = lines(&path);
        let n = l.len();
        assert!(l[n - 1].contains("image0100"), "newest kept: {}", l[n - 1]);
        assert!(l[n - 2].contains("\"Status\":\"log-rotation\""));
        assert!(l[n - 3].contains("image0099"));
        // Podman's cut: from the first whole line past the middle.
        assert_eq!(n, 49 + 2, "{l:?}");
        assert!(l[0].contains("image0051"), "{}", l[0]);
        assert!(std::fs::metadata(&path).unwrap().len() < size);
    }

    #[test]
    fn many_writers_bounded_log_keeps_the_last_events() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("events.log");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        append(&path, 20_000, &event(t * 1000 + i)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() < 20_000);
        let l = lines(&path);
        for line in &l {
            serde_json::from_str::<Event>(line).expect("whole lines only");
        }
        // The newest line is a writer's last event, and each writer's lines kept their order.
        let last = l.last().unwrap();
        assert!(
            (0..4).any(|t| last.contains(&format!("image{:04}", t * 1000 + 499))),
            "{last}"
        );
        for t in 0..4 {
            let mine: Vec<usize> = l
                .iter()
                .filter_map(|x| serde_json::from_str::<Event>(x).ok())
                .filter_map(|e| e.name.strip_prefix("image").map(|n| n.parse().unwrap()))
                .filter(|n: &usize| n / 1000 == t)
                .collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        }
    }

    #[test]
    fn reader_follows_appends_and_rotations_without_repeating() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("events.log");
        let mut r = Reader::open(&path, true).unwrap();
        assert!(r.read_new().unwrap().is_empty());
        for i in 0..10 {
            append(&path, 0, &event(i)).unwrap();
        }
        assert_eq!(r.read_new().unwrap().len(), 10);
        let size = std::fs::metadata(&path).unwrap().len();
        append(&path, size / 2, &event(10)).unwrap();
        let after: Vec<String> = r
            .read_new()
            .unwrap()
            .into_iter()
            .map(|e| e.status)
            .collect();
        assert_eq!(after, vec!["log-rotation", "pull"]);
        append(&path, 0, &event(11)).unwrap();
        let next = r.read_new().unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].name, "image0011");
    }

    #[test]
    fn reader_from_the_end_sees_only_new_events() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("events.log");
        append(&path, 0, &event(1)).unwrap();
        let mut r = Reader::open(&path, false).unwrap();
        assert!(r.read_new().unwrap().is_empty());
        append(&path, 0, &event(2)).unwrap();
        let e = r.read_new().unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name, "image0002");
    }
}
