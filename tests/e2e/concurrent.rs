//! Concurrent invocations never corrupt state or hand out the same id or name twice.

use std::collections::BTreeSet;

use crate::util::{IMG, TestEnv, is_full_id, name};

#[test]
fn twenty_concurrent_detached_runs() {
    let env = TestEnv::new("concurrent");
    env.import_busybox();
    let names: Vec<String> = (0..20).map(|i| name(&format!("c{i}"))).collect();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| {
                let env = &env;
                s.spawn(move || {
                    let out = env.ok(&["run", "-d", "--name", n, IMG, "sleep", "1000"]);
                    out.trim().to_owned()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a run -d thread panicked"))
            .collect()
    });
    for id in &ids {
        assert!(is_full_id(id), "run -d printed {id:?}, not a 64-hex id");
    }
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 20, "ids are not distinct: {ids:?}");

    let listed: BTreeSet<String> = env.ids_all().into_iter().collect();
    let want: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        listed, want,
        "ps -a -q --no-trunc should list exactly the 20 ids"
    );

    let listed_names: BTreeSet<String> = env.names_all().into_iter().collect();
    let want_names: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(listed_names, want_names);

    let running = env.ok(&["ps", "-q", "--no-trunc", "--filter", "status=running"]);
    assert_eq!(
        running.lines().count(),
        20,
        "all 20 should be running:\n{running}"
    );

    // Concurrent removal is just as safe.
    std::thread::scope(|s| {
        for n in &names {
            let env = &env;
            s.spawn(move || {
                env.ok(&["rm", "-f", "-t", "0", n]);
            });
        }
    });
    assert!(env.ids_all().is_empty());
    env.assert_no_mounts();
    env.assert_no_processes();
}
