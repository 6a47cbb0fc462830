//! The user's subordinate ids (`/etc/subuid`, `/etc/subgid`) and the mapping they make.
//!
//! Pure parsing and comparison, unit tested; the files are read by the caller. The mapping
//! is Podman's: the user's own id is 0 in the namespace, then each of its ranges follows
//! from 1 on, in file order (`0 1001 1`, `1 100000 65536`).

use serde::Serialize;

/// One line of a uid_map or gid_map: `size` ids from `container_id` in the namespace are
/// `host_id…` outside (containers/storage's `idtools.IDMap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// A subordinate range of host ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRange {
    pub start: u32,
    pub count: u32,
}

impl SubRange {
    /// Whether `id` falls inside the range.
    pub fn contains(&self, id: u32) -> bool {
        id >= self.start && u64::from(id) < u64::from(self.start) + u64::from(self.count)
    }
}

/// The ranges `/etc/subuid`-style `content` gives the user, by name or by numeric id (as
/// shadow's newuidmap accepts both), in file order. Comments, blank and malformed lines,
/// empty ranges and ranges past the last id are skipped.
pub fn ranges_for(content: &str, name: &str, id: u32) -> Vec<SubRange> {
    let id = id.to_string();
    content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
            if f.next().is_some() || (owner != name && owner != id) {
                return None;
            }
            let start: u32 = start.trim().parse().ok()?;
            let count: u32 = count.trim().parse().ok()?;
            let end = u64::from(start) + u64::from(count);
            (count > 0 && end <= u64::from(u32::MAX)).then_some(SubRange { start, count })
        })
        .collect()
}

/// The mapping of a namespace for a user whose own id is `own`: `own` is 0, each range
/// follows from 1 on. Without ranges, the single mapping.
pub fn mapping(own: u32, ranges: &[SubRange]) -> Vec<IdMap> {
    let mut out = vec![IdMap {
        container_id: 0,
        host_id: own,
        size: 1,
    }];
    let mut next = 1u32;
    for r in ranges {
        out.push(IdMap {
            container_id: next,
            host_id: r.start,
            size: r.count,
        });
        next = next.saturating_add(r.count);
    }
    out
}

/// The triplets of `/proc/PID/uid_map` (or gid_map).
pub fn parse_map(content: &str) -> Vec<IdMap> {
    content
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some(IdMap {
                container_id: f.next()??,
                host_id: f.next()??,
                size: f.next()??,
            })
        })
        .collect()
}

/// Ids of the namespace: the total the mapping covers (inside ids `0..n` are mapped).
pub fn mapped_ids(map: &[IdMap]) -> u64 {
    map.iter().map(|m| u64::from(m.size)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "# managed by useradd\n\
        alice:100000:65536\n\
        bob:165536:65536\n\
        \n\
        1003:231072:1000\n\
        alice:300000:10\n\
        broken line\n\
        alice:x:5\n\
        alice:400000:0\n\
        alice:4294967290:100\n\
        alice:1:2:3\n";

    #[test]
    fn ranges_by_name_and_by_uid_in_file_order() {
        assert_eq!(
            ranges_for(SUBUID, "alice", 1001),
            vec![
                SubRange {
                    start: 100000,
                    count: 65536
                },
                SubRange {
                    start: 300000,
                    count: 10
                }
            ]
        );
        assert_eq!(
            ranges_for(SUBUID, "carol", 1003),
            vec![SubRange {
                start: 231072,
                count: 1000
            }]
        );
        assert!(ranges_for(SUBUID, "dave", 1004).is_empty());
        assert!(ranges_for("", "alice", 1001).is_empty());
        // A prefix of a name is not the name.
        assert!(ranges_for(SUBUID, "ali", 1).is_empty());
    }

    #[test]
    fn mapping_as_podman_makes_it() {
        let ranges = ranges_for(SUBUID, "alice", 1001);
        assert_eq!(
            mapping(1001, &ranges),
            vec![
                IdMap {
                    container_id: 0,
                    host_id: 1001,
                    size: 1
                },
                IdMap {
                    container_id: 1,
                    host_id: 100000,
                    size: 65536
                },
                IdMap {
                    container_id: 65537,
                    host_id: 300000,
                    size: 10
                },
            ]
        );
        assert_eq!(
            mapping(1002, &[]),
            vec![IdMap {
                container_id: 0,
                host_id: 1002,
                size: 1
            }]
        );
        assert_eq!(mapped_ids(&mapping(1001, &ranges)), 65547);
    }

    #[test]
    fn proc_maps_parse_and_compare_with_the_files() {
        let live = "         0       1001          1\n         1     100000      65536\n";
        assert_eq!(
            parse_map(live),
            mapping(
                1001,
                &[SubRange {
                    start: 100000,
                    count: 65536
                }]
            )
        );
        // A changed range is a different mapping.
        assert_ne!(
            parse_map(live),
            mapping(
                1001,
                &[SubRange {
                    start: 200000,
                    count: 65536
                }]
            )
        );
        assert!(parse_map("").is_empty());
    }

    #[test]
    fn contains() {
        let r = SubRange {
            start: 1000,
            count: 10,
        };
        assert!(r.contains(1000) && r.contains(1009));
        assert!(!r.contains(999) && !r.contains(1010));
    }
}
