use super::*;
use serde_json::json;

fn flags(cmd: &str) -> HealthFlags {
    HealthFlags {
        cmd: Some(cmd.into()),
        ..Default::default()
    }
}

#[test]
fn flags_give_podmans_defaults_and_forms() {
    let hc = resolve(&flags("test -e /ok"), None).unwrap().unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "test -e /ok"]);
    assert_eq!(
        (hc.interval, hc.timeout, hc.start_period, hc.retries),
        (30_000_000_000, 30_000_000_000, 0, 3)
    );
    let hc = resolve(&flags(r#"["/bin/check", "-q"]"#), None)
        .unwrap()
        .unwrap();
    assert_eq!(hc.test, ["CMD", "/bin/check", "-q"]);
    let hc = resolve(&flags(r#"["CMD-SHELL", "true"]"#), None)
        .unwrap()
        .unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "true"]);
    assert_eq!(resolve(&flags("none"), None).unwrap(), None);
    let f = HealthFlags {
        interval: Some("1m30s".into()),
        timeout: Some("2s".into()),
        start_period: Some("500ms".into()),
        retries: Some(1),
        on_failure: Some("kill".into()),
        ..flags("true")
    };
    let hc = resolve(&f, None).unwrap().unwrap();
    assert_eq!(
        (
            hc.interval,
            hc.timeout,
            hc.start_period,
            hc.retries,
            hc.on_failure
        ),
        (
            90_000_000_000,
            2_000_000_000,
            500_000_000,
            1,
            OnFailure::Kill
        )
    );
    let f = HealthFlags {
        interval: Some("disable".into()),
        ..flags("true")
    };
    assert_eq!(resolve(&f, None).unwrap().unwrap().interval, 0);
}

#[test]
fn the_image_check_unless_flags_say_otherwise() {
    let image = json!({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 5_000_000_000u64, "Retries": 2});
    let hc = resolve(&HealthFlags::default(), Some(&image))
        .unwrap()
        .unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "curl -f localhost"]);
    assert_eq!(
        (hc.interval, hc.timeout, hc.retries),
        (5_000_000_000, 30_000_000_000, 2)
    );
    // A flag overrides one field, the rest stays the image's.
    let f = HealthFlags {
        retries: Some(7),
        ..Default::default()
    };
    let hc = resolve(&f, Some(&image)).unwrap().unwrap();
    assert_eq!((hc.interval, hc.retries), (5_000_000_000, 7));
    let off = HealthFlags {
        disabled: true,
        ..Default::default()
    };
    assert_eq!(resolve(&off, Some(&image)).unwrap(), None);
    assert_eq!(
        resolve(&HealthFlags::default(), Some(&json!({"Test": ["NONE"]}))).unwrap(),
        None
    );
    assert_eq!(resolve(&HealthFlags::default(), None).unwrap(), None);
}

#[test]
fn bad_flags_are_errors_naming_them() {
    let err = |f: HealthFlags| resolve(&f, None).unwrap_err().to_string();
    assert!(
        err(HealthFlags {
            interval: Some("soon".into()),
            ..flags("true")
        })
        .contains("healthcheck-interval \"soon\"")
    );
    assert!(
        err(HealthFlags {
            timeout: Some("10ms".into()),
            ..flags("true")
        })
        .contains("at least 1 second")
    );
    assert!(
        err(HealthFlags {
            retries: Some(0),
            ..flags("true")
        })
        .contains("greater than 0")
    );
    assert!(
        err(HealthFlags {
            on_failure: Some("explode".into()),
            ..flags("true")
        })
        .contains("\"explode\"")
    );
    assert!(
        err(HealthFlags {
            disabled: true,
            ..flags("true")
        })
        .contains("--no-healthcheck")
    );
    assert!(err(flags("  ")).contains("must not be empty"));
}

fn result(code: i32) -> HealthResult {
    HealthResult {
        start: Utc::now(),
        end: Utc::now(),
        exit_code: code,
        output: String::new(),
    }
}

#[test]
fn status_moves_as_podmans() {
    let mut log = HealthLog {
        status: STARTING.into(),
        ..Default::default()
    };
    log.record(result(1), 2, false);
    assert_eq!((log.status.as_str(), log.failing_streak), (STARTING, 1));
    log.record(result(1), 2, false);
    assert_eq!((log.status.as_str(), log.failing_streak), (UNHEALTHY, 2));
    log.record(result(0), 2, false);
    assert_eq!((log.status.as_str(), log.failing_streak), (HEALTHY, 0));
    // In the start period a failure does not count.
    log.record(result(1), 1, true);
    assert_eq!((log.status.as_str(), log.failing_streak), (HEALTHY, 0));
    for _ in 0..10 {
        log.record(result(0), 1, false);
    }
    assert_eq!(log.log.as_ref().map(Vec::len), Some(KEPT_RESULTS));
}

#[test]
fn on_failure_needs_a_check_and_output_is_kept_as_podman_keeps_it() {
    let f = HealthFlags {
        on_failure: Some("kill".into()),
        ..Default::default()
    };
    let e = resolve(&f, None).unwrap_err().to_string();
    assert_eq!(
        e,
        "cannot set on-failure action to kill without a health check"
    );
    let none = HealthFlags {
        on_failure: Some("none".into()),
        ..Default::default()
    };
    assert_eq!(resolve(&none, None).unwrap(), None);
    assert_eq!(
        kept_output(b"a on stdout\nb on stderr\n"),
        "a on stdout\nb on stderr"
    );
    assert_eq!(kept_output(&[b'x'; 600]).len(), 500);
}
