//! Signal names as Podman parses them: `TERM`, `SIGTERM`, `term`, `15`, `RTMIN+3`.

use crate::error::{Error, Result};

const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

pub fn parse(s: &str) -> Result<i32> {
    // Podman strips one leading dash (`kill -s -HUP`), then parses as Docker does.
    let s = s.strip_prefix('-').unwrap_or(s);
    let bad = || Error::invalid(format!("invalid signal: {s}"));
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return match n {
            0 => Err(bad()),
            1..=64 => Ok(n as i32),
            _ => Err(Error::invalid("valid signals are 1 through 64")),
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')
                .and_then(|r| r.parse::<i32>().ok())
                .ok_or_else(bad)?
        };
        let n = SIGRTMIN + off;
        return if n <= SIGRTMAX { Ok(n) } else { Err(bad()) };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')
                .and_then(|r| r.parse::<i32>().ok())
                .ok_or_else(bad)?
        };
        let n = SIGRTMAX - off;
        return if n >= SIGRTMIN { Ok(n) } else { Err(bad()) };
    }
    Err(bad())
}

/// `SIGTERM` for 15, as inspect's `Config.StopSignal` shows it.
pub fn name(n: i32) -> String {
    NAMES
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(k, _)| format!("SIG{k}"))
        .unwrap_or_else(|| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_spellings() {
        assert_eq!(parse("TERM").unwrap(), 15);
        assert_eq!(parse("sigkill").unwrap(), 9);
        assert_eq!(parse("SIGUSR1").unwrap(), 10);
        assert_eq!(parse("2").unwrap(), 2);
        assert_eq!(parse("RTMIN+3").unwrap(), 37);
        assert!(parse("NOPE").unwrap_err().to_string().contains("NOPE"));
        assert!(parse("0").is_err());
        assert_eq!(name(15), "SIGTERM");
    }
}
