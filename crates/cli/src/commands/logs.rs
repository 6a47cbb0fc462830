//! `logs`: one or many containers' logs, `--follow`, `--since`/`--until`, `--names`.

use std::io::Write;

use peapod_engine::container::{Container, logs::LogOptions};
use peapod_engine::{Engine, Error};

use crate::CliResult;
use crate::cli::*;

pub fn logs(engine: &Engine, a: LogsArgs) -> CliResult {
    let since = a
        .since
        .as_deref()
        .map(peapod_engine::container::logs::parse_time)
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(peapod_engine::container::logs::parse_time)
        .transpose()?;
    // Podman prefixes lines only when it shows several containers: with the name under
    // --names, else the short id.
    let many = a.containers.len() > 1;
    let mut code = 0;
    let mut found = Vec::new();
    for name in &a.containers {
        match engine.container(name) {
            Ok(c) => found.push(c),
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::exit_code(&e);
            }
        }
    }
    let opts_for = |c: &Container| LogOptions {
        follow: a.follow,
        tail: if a.tail < 0 {
            None
        } else {
            Some(a.tail as usize)
        },
        since,
        until,
        timestamps: a.timestamps,
        prefix: many.then(|| {
            if a.names {
                c.name().to_string()
            } else {
                c.id()[..12].to_string()
            }
        }),
    };
    if a.follow && found.len() > 1 {
        // Follow them all at once, whole lines interleaved as they come.
        let stdout = std::sync::Mutex::new(());
        let engines = found
            .iter()
            .map(|_| engine.reopen())
            .collect::<Result<Vec<_>, _>>()?;
        let results: Vec<Result<(), Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = found
                .iter()
                .zip(engines)
                .map(|(c, engine)| {
                    let opts = opts_for(c);
                    let stdout = &stdout;
                    s.spawn(move || -> Result<(), Error> {
                        let mut out = LineLocked::new(stdout, false);
                        let mut err = LineLocked::new(stdout, true);
                        engine.logs(c, &opts, &mut out, &mut err)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::other("log reader panicked")))
                })
                .collect()
        });
        for r in results {
            if let Err(e) = r {
                eprintln!("Error: {e}");
                code = crate::exit_code(&e);
            }
        }
        return Ok(code);
    }
    for c in &found {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr();
        engine.logs(c, &opts_for(c), &mut out, &mut err)?;
        out.flush()?;
    }
    Ok(code)
}

/// Writes whole lines to stdout or stderr while holding a shared lock, so lines from
/// several threads never mix.
struct LineLocked<'a> {
    lock: &'a std::sync::Mutex<()>,
    stderr: bool,
    buf: Vec<u8>,
}

impl<'a> LineLocked<'a> {
    fn new(lock: &'a std::sync::Mutex<()>, stderr: bool) -> Self {
        LineLocked {
            lock,
            stderr,
            buf: Vec::new(),
        }
    }
}

impl Write for LineLocked<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if let Some(end) = self.buf.iter().rposition(|b| *b == b'\n') {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let lines: Vec<u8> = self.buf.drain(..=end).collect();
            if self.stderr {
                let mut e = std::io::stderr().lock();
                e.write_all(&lines)?;
                e.flush()?;
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(&lines)?;
                o.flush()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
