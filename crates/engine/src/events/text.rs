//! Podman's text line for an event (`ToHumanReadable`) and Go's time formats: the log's
//! `RFC3339Nano` and `time.Time.String()` as `events` prints it.

use chrono::{DateTime, FixedOffset, Timelike};

use super::{Event, EventType};

/// Go's `time.Time.String()` without the monotonic part:
/// `2026-12-05 23:10:20.804598269 +0000 UTC` (trailing zeros of the fraction dropped).
pub fn go_string(t: &DateTime<FixedOffset>) -> String {
    let offset = t.offset().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.abs();
    let numeric = format!("{sign}{:02}{:02}", abs / 3600, (abs % 3600) / 60);
    // Go names UTC; a zone without a name shows its offset again.
    let zone = if offset == 0 {
        "UTC".to_string()
    } else {
        numeric.clone()
    };
    format!(
        "{}{} {numeric} {zone}",
        t.format("%Y-%m-%d %H:%M:%S"),
        fraction(t.nanosecond())
    )
}

/// Go's `RFC3339Nano`: `2026-12-05T23:10:20.804598269Z`, `…+02:00` off UTC.
pub fn go_rfc3339nano(t: &DateTime<FixedOffset>) -> String {
    let offset = t.offset().local_minus_utc();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.abs();
        format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
    };
    format!(
        "{}{}{zone}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        fraction(t.nanosecond())
    )
}

/// `.804598269` with trailing zeros dropped; nothing for a whole second.
fn fraction(nanos: u32) -> String {
    let nanos = nanos % 1_000_000_000;
    if nanos == 0 {
        return String::new();
    }
    let s = format!(".{nanos:09}");
    s.trim_end_matches('0').to_string()
}

/// Podman 4.3's `ToHumanReadable` (labels in name order, where Go's map order is random).
pub fn human(e: &Event, truncate: bool) -> String {
    let id = if truncate && e.id.len() > 12 {
        &e.id[..12]
    } else {
        e.id.as_str()
    };
    let head = format!("{} {} {}", go_string(&e.time), e.kind.as_str(), e.status);
    match e.kind {
        EventType::Container | EventType::Pod => {
            let mut s = format!("{head} {id} (image={}, name={}", e.image, e.name);
            if !e.pod_id.is_empty() {
                s.push_str(&format!(", pod_id={}", e.pod_id));
            }
            if !e.health_status.is_empty() {
                s.push_str(&format!(", health_status={}", e.health_status));
            }
            for (k, v) in e.attributes.iter().flatten() {
                s.push_str(&format!(", {k}={v}"));
            }
            s.push(')');
            s
        }
        EventType::Network => match e.attributes.as_ref().and_then(|a| a.get("driver")) {
            Some(driver) if e.status == "create" || e.status == "remove" => {
                format!("{head} {} (name={}, type={driver})", e.id, e.network)
            }
            _ => format!("{head} {id} (container={id}, name={})", e.network),
        },
        EventType::Image => format!("{head} {id} {}", e.name),
        EventType::System if e.name.is_empty() => head,
        EventType::System | EventType::Volume | EventType::Machine => {
            format!("{head} {}", e.name)
        }
    }
}

/// Serde for the log's `Time`: Go's `RFC3339Nano` out, any RFC 3339 in.
pub mod rfc3339nano {
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<FixedOffset>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::go_rfc3339nano(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn go_time_formats() {
        let t = at("2026-12-05T23:10:20.804598269Z");
        assert_eq!(go_string(&t), "2026-12-05 23:10:20.804598269 +0000 UTC");
        assert_eq!(go_rfc3339nano(&t), "2026-12-05T23:10:20.804598269Z");
        let t = at("2026-12-05T23:10:21.054821260Z");
        assert_eq!(go_string(&t), "2026-12-05 23:10:21.05482126 +0000 UTC");
        let t = at("2022-04-06T11:26:42+02:00");
        assert_eq!(go_rfc3339nano(&t), "2022-04-06T11:26:42+02:00");
        assert_eq!(go_string(&t), "2022-04-06 11:26:42 +0200 +0200");
    }

    #[test]
    fn podman_json_line() {
        let mut e = Event::new(EventType::Container, "died");
        e.time = at("2026-12-05T23:10:24.35774087Z");
        e.id = "0015df7d".into();
        e.image = "localhost/bb:latest".into();
        e.name = "web".into();
        e.exit_code = 1;
        e.attributes = Some(BTreeMap::new());
        assert_eq!(
            e.to_json(),
            r#"{"ContainerExitCode":1,"ID":"0015df7d","Image":"localhost/bb:latest","Name":"web","Status":"died","Time":"2026-12-05T23:10:24.35774087Z","Type":"container","Attributes":{}}"#
        );
        let mut i = Event::new(EventType::Image, "pull");
        i.time = at("2026-12-05T23:10:20.739214543Z");
        i.name = "localhost/bb".into();
        assert_eq!(
            i.to_json(),
            r#"{"Name":"localhost/bb","Status":"pull","Time":"2026-12-05T23:10:20.739214543Z","Type":"image","Attributes":null}"#
        );
        // Podman's own lines read back.
        let line = r#"{"Name":"busybox","Status":"pull","Time":"2022-04-06T11:26:42.723667900+02:00","Type":"image","Attributes":null}"#;
        let back: Event = serde_json::from_str(line).unwrap();
        assert_eq!(back.name, "busybox");
        assert_eq!(back.to_json(), line.replace(".723667900", ".7236679"));
    }

    #[test]
    fn podman_text_lines() {
        let mut e = Event::new(EventType::Container, "create");
        e.time = at("2026-12-05T23:10:20.804598269Z");
        e.id = "0015df7d4f88aaaabbbbcccc".into();
        e.image = "localhost/bb:latest".into();
        e.name = "web".into();
        e.attributes = Some([("a".to_string(), "1".to_string())].into());
        assert_eq!(
            e.to_text(false),
            "2026-12-05 23:10:20.804598269 +0000 UTC container create 0015df7d4f88aaaabbbbcccc (image=localhost/bb:latest, name=web, a=1)"
        );
        assert!(e.to_text(true).contains(" 0015df7d4f88 (image="));
        let mut i = Event::new(EventType::Image, "pull");
        i.time = e.time;
        i.name = "localhost/bb".into();
        assert_eq!(
            i.to_text(false),
            "2026-12-05 23:10:20.804598269 +0000 UTC image pull  localhost/bb"
        );
        let mut r = Event::new(EventType::System, "log-rotation");
        r.time = e.time;
        r.name = "/x/events.log".into();
        assert!(
            r.to_text(false)
                .ends_with(" system log-rotation /x/events.log")
        );
        let mut v = Event::new(EventType::Volume, "create");
        v.time = e.time;
        v.name = "data".into();
        assert!(v.to_text(false).ends_with("UTC volume create data"));
        let mut n = Event::new(EventType::Network, "connect");
        n.time = e.time;
        n.id = "abc".into();
        n.network = "net1".into();
        assert!(
            n.to_text(false)
                .ends_with(" network connect abc (container=abc, name=net1)")
        );
    }
}
