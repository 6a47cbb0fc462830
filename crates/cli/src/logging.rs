//! Log lines as Podman writes them (logrus' text format on stderr:
//! `time="…" level=info msg="…" key=value`), and `--log-level`/`--debug` as Podman checks
//! them.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Podman's levels, in its order.
pub const LEVELS: &[&str] = &[
    "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic",
];

/// The level `--log-level` and `--debug` ask for, or Podman's refusal (exit 1).
pub fn level(log_level: Option<&str>, debug: bool) -> Result<&'static str, String> {
    match (log_level, debug) {
        (Some(_), true) => Err("Setting --log-level and --debug is not allowed".into()),
        (None, true) => Ok("debug"),
        (None, false) => Ok("warn"),
        (Some(l), false) => match l {
            "trace" | "debug" | "info" | "warn" | "error" => {
                Ok(LEVELS.iter().find(|x| **x == l).copied().unwrap_or("warn"))
            }
            "warning" => Ok("warn"),
            "fatal" | "panic" => Ok("error"),
            other => Err(format!(
                "Log Level {other:?} is not supported, choose from: {}",
                LEVELS.join(", ")
            )),
        },
    }
}

/// logrus' `TextFormatter`: `LEVL[0000] msg` (seconds since start) on a terminal,
/// `time="…" level=… msg="…"` otherwise, as Podman's stderr looks either way.
pub struct Logrus {
    pub terminal: bool,
    pub start: std::time::Instant,
}

#[derive(Default)]
struct Fields {
    msg: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            let v = format!("{value:?}");
            let _ = write!(self.rest, " {}={}", field.name(), quote_if_needed(&v));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), quote_if_needed(value));
        }
    }
}

/// logrus quotes a value holding anything but letters, digits and `-._/@^+`.
fn quote_if_needed(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c))
    {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

impl<S, N> FormatEvent<S, N> for Logrus
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warning",
            Level::ERROR => "error",
        };
        let mut f = Fields::default();
        event.record(&mut f);
        if self.terminal {
            let short = match level {
                "warning" => "WARN".to_string(),
                l => l[..4].to_ascii_uppercase(),
            };
            let secs = self.start.elapsed().as_secs();
            return writeln!(writer, "{short}[{secs:04}] {}{}", f.msg, f.rest);
        }
        let time = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        writeln!(
            writer,
            "time=\"{time}\" level={level} msg={:?}{}",
            f.msg, f.rest
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_levels_and_refusals() {
        assert_eq!(level(None, false).unwrap(), "warn");
        assert_eq!(level(None, true).unwrap(), "debug");
        assert_eq!(level(Some("warning"), false).unwrap(), "warn");
        assert_eq!(level(Some("panic"), false).unwrap(), "error");
        assert_eq!(level(Some("trace"), false).unwrap(), "trace");
        assert_eq!(
            level(Some("telepathic"), false).unwrap_err(),
            "Log Level \"telepathic\" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic"
        );
        assert_eq!(
            level(Some("panic"), true).unwrap_err(),
            "Setting --log-level and --debug is not allowed"
        );
        assert_eq!(quote_if_needed("overlay"), "overlay");
        assert_eq!(quote_if_needed("two words"), "\"two words\"");
    }
}
