//! Wire types of `peapod-monitor`, the conmon-compatible container monitor.
//!
//! Everything here is a contract with the outside: the engine (ours or Podman's)
//! speaks these formats to the monitor (ours or conmon). Nothing in this library
//! may depend on the engine.
//!
//! - the sync/start/attach pipes (`_OCI_SYNCPIPE`, `_OCI_STARTPIPE`, `_OCI_ATTACHPIPE`):
//!   newline-terminated JSON objects `{"data": N, "message": "…"}`;
//! - the `attach` SEQPACKET socket: every packet from the monitor starts with one
//!   byte naming the stream ([`STREAM_STDOUT`], [`STREAM_STDERR`]);
//! - the `ctl` fifo: lines `"<type> <height> <width>\n"`;
//! - the exit file: the decimal exit code, no newline;
//! - the k8s-file log format (see [`log`]).

pub mod attach;
pub mod cli;
pub mod exit;
pub mod health;
pub mod log;
pub mod oom;
pub mod run;
mod sys;

use serde::{Deserialize, Serialize};

/// Environment variable naming the fd of the sync pipe (pid or error goes back on it).
pub const ENV_SYNCPIPE: &str = "_OCI_SYNCPIPE";
/// Environment variable naming the fd of the start pipe (the engine writes one byte to go on).
pub const ENV_STARTPIPE: &str = "_OCI_STARTPIPE";
/// Environment variable naming the fd of the attach pipe (exec attach handshake).
pub const ENV_ATTACHPIPE: &str = "_OCI_ATTACHPIPE";

/// Stream ids on the attach socket (conmon's `stdpipe_t`).
pub const STREAM_STDIN: u8 = 1;
pub const STREAM_STDOUT: u8 = 2;
pub const STREAM_STDERR: u8 = 3;

/// conmon reads at most this much from the container at once; one attach packet each.
pub const STDIO_BUF_SIZE: usize = 8192;

/// `ctl` fifo event types.
pub const CTL_WIN_RESIZE: i32 = 1;
pub const CTL_REOPEN_LOGS: i32 = 2;

/// The version string `--version` prints. Podman 4.3 requires conmon >= 2.0.x, so the
/// monitor answers in conmon's form with a conmon version it accepts.
pub const CONMON_COMPAT_VERSION: &str = "2.1.6";

/// One message on a sync pipe: `{"data": N}` or `{"data": -1, "message": "…"}`.
///
/// With `--api-version 1` (what Podman passes) the key is `data`. Legacy callers used
/// `pid` (create) and `exit_code` (exec); we accept those when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMessage {
    #[serde(alias = "pid", alias = "exit_code")]
    pub data: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl SyncMessage {
    pub fn ok(data: i64) -> Self {
        SyncMessage {
            data,
            message: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        SyncMessage {
            data: -1,
            message: Some(message.into()),
        }
    }

    /// The line as written on the pipe, newline included: what serde_json writes for it,
    /// written by hand so the monitor does not carry a JSON serializer.
    pub fn to_line(&self) -> String {
        let mut s = format!("{{\"data\":{}", self.data);
        if let Some(m) = &self.message {
            s.push_str(",\"message\":\"");
            for ch in m.chars() {
                match ch {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    '\n' => s.push_str("\\n"),
                    '\r' => s.push_str("\\r"),
                    '\t' => s.push_str("\\t"),
                    '\u{8}' => s.push_str("\\b"),
                    '\u{c}' => s.push_str("\\f"),
                    c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
                    c => s.push(c),
                }
            }
            s.push('"');
        }
        s.push_str("}\n");
        s
    }

    /// Parse one line read from the pipe.
    pub fn parse(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line.trim())
    }
}

/// Parse the contents of an exit file (`0`, `137`, `-1`; conmon writes no newline).
pub fn parse_exit_file(contents: &str) -> Option<i32> {
    contents.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_message_round_trip() {
        assert_eq!(SyncMessage::ok(42).to_line(), "{\"data\":42}\n");
        // The hand-written line is what serde_json writes, for any message.
        for m in [
            "boom",
            "a \"quoted\" \\ path\n\ttab",
            "ctl \u{1}\u{1f}\u{8}\u{c}\r",
            "ünï €",
        ] {
            let msg = SyncMessage::error(m);
            let mut want = serde_json::to_string(&msg).unwrap();
            want.push('\n');
            assert_eq!(msg.to_line(), want);
            assert_eq!(SyncMessage::parse(&msg.to_line()).unwrap(), msg);
        }
        let e = SyncMessage::parse("{\"data\": -1, \"message\": \"boom\"}\n").unwrap();
        assert_eq!(e, SyncMessage::error("boom"));
        assert_eq!(SyncMessage::parse("{\"pid\": 7}").unwrap().data, 7);
    }

    #[test]
    fn exit_file() {
        assert_eq!(parse_exit_file("137"), Some(137));
        assert_eq!(parse_exit_file("-1"), Some(-1));
        assert_eq!(parse_exit_file(""), None);
    }
}
