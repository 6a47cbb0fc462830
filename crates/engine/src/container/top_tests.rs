use super::*;

#[test]
fn descriptors_and_headers() {
    let d = translate(&[]).unwrap();
    let headers: Vec<&str> = d.iter().map(|(_, h)| *h).collect();
    assert_eq!(
        headers,
        [
            "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"
        ]
    );
    let d = translate(&["pid,ppid".into(), "%U".into(), "%a".into()]).unwrap();
    let names: Vec<&str> = d.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["pid", "ppid", "user", "args"]);
    let d = translate(&["%C".into(), "%x".into(), "%y".into(), "%z".into()]).unwrap();
    let headers: Vec<&str> = d.iter().map(|(_, h)| *h).collect();
    assert_eq!(headers, ["%CPU", "TIME", "TTY", "VSZ"]);
    assert_eq!(translate(&["hpid".into()]).unwrap()[0].1, "HPID");
    assert!(translate(&["-ef".into()]).is_none());
    assert!(translate(&["pid".into(), "wchan".into()]).is_none());
    // A space-separated list in one argument is not psgo's (Podman falls back to ps).
    assert!(translate(&["%p %U".into()]).is_none());
}

#[test]
fn go_durations() {
    assert_eq!(go_duration(Duration::ZERO), "0s");
    assert_eq!(go_duration(Duration::from_secs(5)), "5s");
    assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    assert_eq!(
        go_duration(Duration::from_nanos(1_944_649_324)),
        "1.944649324s"
    );
    assert_eq!(go_duration(Duration::from_secs(65)), "1m5s");
    assert_eq!(go_duration(Duration::from_secs(120)), "2m0s");
    assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    assert_eq!(go_duration(Duration::from_millis(3_723_500)), "1h2m3.5s");
    assert_eq!(go_duration(Duration::from_millis(2)), "2ms");
    assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
    assert_eq!(go_duration(Duration::from_nanos(7)), "7ns");
}

#[test]
fn caps_and_ttys() {
    assert_eq!(caps_string("0000000000000000", 40), "none");
    assert_eq!(caps_string("000001ffffffffff", 40), "full");
    // CHOWN (0), KILL (5), NET_BIND_SERVICE (10).
    assert_eq!(
        caps_string("0000000000000421", 40),
        "CHOWN,KILL,NET_BIND_SERVICE"
    );
    assert_eq!(tty_name(0), "?");
    assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    assert_eq!(tty_name((4 << 8) | 1), "tty1");
    assert_eq!(tty_name((5 << 8) | 1), "console");
}

#[test]
fn ps_output_is_filtered_by_pid() {
    let text = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 1000\n";
    let out = filter_ps_output(text, &[42]);
    assert_eq!(out.len(), 2);
    assert!(out[1].contains("sleep 1000"));
    // Without a PID column nothing can be filtered.
    assert_eq!(filter_ps_output("COMMAND\nsleep\n", &[42]).len(), 2);
}

#[test]
fn passwd_lookup() {
    let m = id_names("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n");
    assert_eq!(name_of(&m, "0"), "root");
    assert_eq!(name_of(&m, "65534"), "nobody");
    assert_eq!(name_of(&m, "1000"), "1000");
}
