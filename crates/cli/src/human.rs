//! Durations and sizes as Podman (go-units) prints them.

use chrono::{DateTime, Utc};

/// go-units `HumanDuration`.
pub fn duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = d.num_minutes();
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (d.num_seconds() as f64 / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", d.num_hours() / 24 / 365)
}

pub fn ago(t: DateTime<Utc>) -> String {
    format!("{} ago", duration(Utc::now() - t))
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits.
pub fn size(bytes: u64) -> String {
    peapod_engine::container::resources::human_size_with_precision(bytes, 3, " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_units() {
        assert_eq!(
            duration(chrono::Duration::milliseconds(300)),
            "Less than a second"
        );
        assert_eq!(duration(chrono::Duration::seconds(5)), "5 seconds");
        assert_eq!(duration(chrono::Duration::seconds(90)), "About a minute");
        assert_eq!(duration(chrono::Duration::minutes(5)), "5 minutes");
        assert_eq!(duration(chrono::Duration::hours(3)), "3 hours");
        assert_eq!(duration(chrono::Duration::days(3)), "3 days");
        assert_eq!(size(2_013_288), "2.01 MB");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_000), "1 kB");
        assert_eq!(size(123_456_789), "123 MB");
        assert_eq!(size(12_300_000), "12.3 MB");
    }
}
