//! `events --filter/--since/--until`, with Podman's semantics: filters with the same key
//! are ORed, different keys ANDed; `since` and `until` are exclusive bounds.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, Utc};

use super::{Event, EventType};
use crate::error::{Error, Result};

/// One `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    /// `container=`, `image=`, `pod=`: the name, or a prefix of the id, of that type.
    Object(EventType, String),
    /// `volume=`: a prefix of the volume's name (Docker's and newer Podman's rule).
    Volume(String),
    /// `network=`: the network's name, or a prefix of its id.
    Network(String),
    /// `event=` / `status=` (`die` is Docker's word for `died`).
    Status(String),
    Type(String),
    /// `label=KEY=VALUE`, or `label=KEY`.
    Label(String, Option<String>),
}

impl Filter {
    fn parse(key: &str, value: &str, whole: &str) -> Result<Filter> {
        Ok(match key.to_ascii_lowercase().as_str() {
            "container" => Filter::Object(EventType::Container, value.into()),
            "image" => Filter::Object(EventType::Image, value.into()),
            "pod" => Filter::Object(EventType::Pod, value.into()),
            "volume" => Filter::Volume(value.into()),
            "network" => Filter::Network(value.into()),
            "event" | "status" => Filter::Status(if value == "die" {
                "died".into()
            } else {
                value.into()
            }),
            "type" => Filter::Type(value.into()),
            "label" => match value.split_once('=') {
                Some((k, v)) => Filter::Label(k.into(), Some(v.into())),
                None => Filter::Label(value.into(), None),
            },
            _ => {
                return Err(Error::invalid(format!(
                    "failed to parse event filters: {key} is an invalid filter (filter {whole:?}; valid keys: container, event, image, label, network, pod, status, type, volume)"
                )));
            }
        })
    }

    fn matches(&self, e: &Event) -> bool {
        match self {
            Filter::Object(kind, v) => e.kind == *kind && (e.name == *v || e.id.starts_with(v)),
            Filter::Volume(v) => e.kind == EventType::Volume && e.name.starts_with(v),
            Filter::Network(v) => {
                e.kind == EventType::Network
                    && (e.network == *v || (!e.id.is_empty() && e.id.starts_with(v)))
            }
            Filter::Status(s) => e.status == *s,
            Filter::Type(t) => e.kind.as_str() == t,
            Filter::Label(k, v) => e
                .attributes
                .as_ref()
                .and_then(|a| a.get(k))
                .is_some_and(|have| v.as_ref().is_none_or(|want| want == have)),
        }
    }
}

/// Parsed filters and time bounds.
#[derive(Debug, Clone, Default)]
pub struct EventFilters {
    groups: BTreeMap<String, Vec<Filter>>,
    since: Option<DateTime<FixedOffset>>,
    until: Option<DateTime<FixedOffset>>,
}

impl EventFilters {
    pub fn parse(filters: &[String], since: Option<&str>, until: Option<&str>) -> Result<Self> {
        let mut groups: BTreeMap<String, Vec<Filter>> = BTreeMap::new();
        for f in filters {
            let Some((key, value)) = f.split_once('=') else {
                return Err(Error::invalid(format!(
                    "failed to parse event filters: {f} is an invalid filter"
                )));
            };
            groups
                .entry(key.to_string())
                .or_default()
                .push(Filter::parse(key, value, f)?);
        }
        let bound = |s: Option<&str>, since: bool| -> Result<Option<DateTime<FixedOffset>>> {
            s.filter(|s| !s.is_empty())
                .map(|s| {
                    parse_input_time(s, since).map_err(|e| {
                        Error::invalid(format!(
                            "failed to parse event filters: unable to convert {} time of {s}: {e}",
                            if since { "since" } else { "until" }
                        ))
                    })
                })
                .transpose()
        };
        Ok(EventFilters {
            groups,
            since: bound(since, true)?,
            until: bound(until, false)?,
        })
    }

    pub fn matches(&self, e: &Event) -> bool {
        if self.since.is_some_and(|s| e.time <= s) || self.until.is_some_and(|u| e.time >= u) {
            return false;
        }
        self.groups
            .values()
            .all(|group| group.iter().any(|f| f.matches(e)))
    }

    /// A stream with `--until` ends once that time has come.
    pub fn until_passed(&self) -> bool {
        self.until.is_some_and(|u| Utc::now() >= u)
    }
}

/// Podman's `ParseInputTime`: RFC 3339 (with or without fractions), `2006-01-02T15:04:05`
/// (UTC), a date with or without a zone, unix seconds (`1700000000.5`), or a Go duration
/// (`5m`, `1h30m`): back from now for `since`, ahead of now for `until`.
pub fn parse_input_time(
    s: &str,
    since: bool,
) -> std::result::Result<DateTime<FixedOffset>, String> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d);
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.and_utc().fixed_offset());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(midnight(d, FixedOffset::east_opt(0).expect("UTC")));
    }
    if let Some(d) = date_with_zone(t) {
        return Ok(d);
    }
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
    {
        let whole = secs.trunc() as i64;
        let nanos = ((secs - secs.trunc()) * 1e9) as u32;
        if let Some(d) = DateTime::from_timestamp(whole, nanos) {
            return Ok(d.fixed_offset());
        }
    }
    let d = crate::container::logs::parse_duration(t)
        .ok_or_else(|| "unable to interpret time value".to_string())?;
    let now = Local::now().fixed_offset();
    Ok(if since { now - d } else { now + d })
}

/// `2006-01-02Z07:00`: a date and a zone (`Z` or `±hh:mm`).
fn date_with_zone(t: &str) -> Option<DateTime<FixedOffset>> {
    if t.len() < 11 || !t.is_char_boundary(10) {
        return None;
    }
    let (date, zone) = t.split_at(10);
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let offset = if zone == "Z" {
        FixedOffset::east_opt(0)?
    } else {
        let sign = match zone.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = zone[1..].split_once(':')?;
        let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
        FixedOffset::east_opt(sign * secs)?
    };
    Some(midnight(date, offset))
}

fn midnight(d: NaiveDate, offset: FixedOffset) -> DateTime<FixedOffset> {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(offset)
        .single()
        .expect("a fixed offset has one midnight")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventType, status: &str, id: &str, name: &str) -> Event {
        let mut e = Event::new(kind, status);
        e.id = id.into();
        e.name = name.into();
        e
    }

    fn f(list: &[&str]) -> EventFilters {
        let v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        EventFilters::parse(&v, None, None).unwrap()
    }

    #[test]
    fn same_key_ors_different_keys_and() {
        let foo = ev(EventType::Container, "start", "aaaa1111", "foo");
        let bar = ev(EventType::Container, "start", "bbbb2222", "bar");
        let baz = ev(EventType::Container, "start", "cccc3333", "baz");
        let foo_died = ev(EventType::Container, "died", "aaaa1111", "foo");
        let filters = f(&["container=foo", "container=bar", "event=start"]);
        assert!(filters.matches(&foo));
        assert!(filters.matches(&bar));
        assert!(!filters.matches(&baz));
        assert!(!filters.matches(&foo_died));
        // An id prefix matches; a container filter never matches an image.
        assert!(f(&["container=bbbb"]).matches(&bar));
        let img = ev(EventType::Image, "pull", "", "foo");
        assert!(!f(&["container=foo"]).matches(&img));
        assert!(f(&["image=foo", "type=image"]).matches(&img));
        assert!(f(&["status=die"]).matches(&foo_died));
    }

    #[test]
    fn labels_volumes_and_networks() {
        let mut c = ev(EventType::Container, "start", "aaaa", "foo");
        c.attributes = Some([("app".to_string(), "web server".to_string())].into());
        assert!(f(&["label=app=web server"]).matches(&c));
        assert!(f(&["label=app"]).matches(&c));
        assert!(!f(&["label=app=db"]).matches(&c));
        assert!(!f(&["label=other"]).matches(&c));
        let v = ev(EventType::Volume, "create", "", "data1");
        assert!(f(&["volume=data"]).matches(&v));
        assert!(!f(&["volume=x"]).matches(&v));
        let mut n = ev(EventType::Network, "connect", "aaaa", "foo");
        n.network = "net1".into();
        assert!(f(&["network=net1"]).matches(&n));
        assert!(!f(&["network=net2"]).matches(&n));
    }

    #[test]
    fn bad_filters_are_errors_naming_them() {
        let e = EventFilters::parse(&["bogus=1".into()], None, None).unwrap_err();
        assert!(e.to_string().contains("bogus is an invalid filter"), "{e}");
        let e = EventFilters::parse(&["container".into()], None, None).unwrap_err();
        assert!(
            e.to_string().contains("container is an invalid filter"),
            "{e}"
        );
        let e = EventFilters::parse(&[], Some("yesterday"), None).unwrap_err();
        assert!(
            e.to_string()
                .contains("unable to convert since time of yesterday"),
            "{e}"
        );
    }

    #[test]
    fn podman_time_formats() {
        let utc = |s: &str| parse_input_time(s, true).unwrap().timestamp();
        assert_eq!(utc("2022-04-06T11:26:42+02:00"), 1649237202);
        assert_eq!(utc("2022-04-06T09:26:42.5Z"), 1649237202);
        assert_eq!(utc("2022-04-06T09:26:42"), 1649237202);
        assert_eq!(utc("2022-04-06"), 1649203200);
        assert_eq!(utc("2022-04-06Z"), 1649203200);
        assert_eq!(utc("2022-04-06+02:00"), 1649203200 - 7200);
        assert_eq!(utc("1649237202"), 1649237202);
        assert_eq!(
            parse_input_time("1649237202.25", true)
                .unwrap()
                .timestamp_subsec_millis(),
            250
        );
        let now = Utc::now().timestamp();
        let back = utc("5m");
        assert!((now - 300 - back).abs() <= 1, "{back}");
        let ahead = parse_input_time("1h", false).unwrap().timestamp();
        assert!((now + 3600 - ahead).abs() <= 1);
        assert!(parse_input_time("soon", true).is_err());
    }

    #[test]
    fn since_and_until_are_exclusive() {
        let mut e = ev(EventType::Container, "start", "a", "b");
        e.time = parse_input_time("2022-04-06T10:00:00Z", true).unwrap();
        let win = |s: &str, u: &str| {
            EventFilters::parse(&[], Some(s), Some(u))
                .unwrap()
                .matches(&e)
        };
        assert!(win("2022-04-06T09:59:59Z", "2022-04-06T10:00:01Z"));
        assert!(!win("2022-04-06T10:00:00Z", "2022-04-06T10:00:01Z"));
        assert!(!win("2022-04-06T09:00:00Z", "2022-04-06T10:00:00Z"));
    }
}
