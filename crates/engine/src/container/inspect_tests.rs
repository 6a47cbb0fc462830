use super::*;

#[test]
fn go_time_strings_trim_the_fraction() {
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 120_000_000).unwrap();
    let s = go_time_string(t);
    assert!(s.contains(":20.12 ") || s.contains(".12 "), "{s}");
    let whole = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    assert!(
        !go_time_string(whole).contains('.'),
        "{}",
        go_time_string(whole)
    );
}

#[test]
fn go_time_format() {
    assert_eq!(go_time(None), ZERO_TIME);
    let t = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.120Z")
        .unwrap()
        .with_timezone(&Utc);
    let s = go_time(Some(t));
    assert!(s.contains(".12"), "{s}");
    assert!(!s.contains(".120"), "{s}");
}
