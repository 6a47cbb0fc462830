//! Many objects at once: one bounded pool of worker threads for every command that acts on
//! several containers or pods (`stop a b c`, `rm -af`, `pod stop --all`, `kube down`…).
//!
//! Podman's `pkg/parallel` runs such operations on a semaphore of `--max-workers` slots
//! (3 × CPUs + 1 by default); we do the same with scoped threads. Each worker opens its own
//! [`Engine`] handle (its own database connection and runtime cell: a handle is not
//! `Sync`), so the per-object `flock`s and SQLite's busy wait order the workers exactly as
//! they order separate `peapod` processes.
//!
//! Results come back in the order of the targets, whatever order they finish in: front
//! ends print them in argument order, as Podman does.
//!
//! Looking targets up ([`Engine::resolve_containers`], [`Engine::resolve_pods`]) happens
//! before any worker starts, because Podman looks every name up first: one missing name
//! fails the whole command and nothing is acted on (`--ignore` skips it instead).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Engine;
use crate::error::{Error, Result};

/// Podman's default `--max-workers`: three per CPU, plus one.
pub fn max_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 3 + 1
}

/// A target as the user named it and the full id it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What was given on the command line (or the id, for `--all`).
    pub given: String,
    pub id: String,
}

impl Engine {
    /// Run `op` on every target through a pool of at most [`max_workers`] threads; the
    /// results in the targets' order. One target runs on this handle, with no thread.
    pub fn on_many<T, F>(&self, targets: &[String], op: F) -> Vec<Result<T>>
    where
        T: Send,
        F: Fn(&Engine, &str) -> Result<T> + Sync,
    {
        if let [one] = targets {
            return vec![op(self, one)];
        }
        let opts = self.options().clone();
        on_pool(targets, max_workers(), || Engine::open(opts.clone()), op)
    }

    /// Every container reference, resolved before anything is done: the first missing one
    /// is the error, unless `ignore_missing` (then it is left out).
    pub fn resolve_containers(
        &self,
        references: &[String],
        ignore_missing: bool,
    ) -> Result<Vec<Target>> {
        resolve(references, |r| match self.db.lookup_container(r) {
            Ok(c) => Ok(Some(c.id().to_string())),
            Err(Error::NoSuchContainer(_)) if ignore_missing => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Every pod reference, resolved first, as [`Engine::resolve_containers`].
    pub fn resolve_pods(&self, references: &[String], ignore_missing: bool) -> Result<Vec<Target>> {
        resolve(references, |r| match self.db.lookup_pod(r) {
            Ok(p) => Ok(Some(p.id().to_string())),
            Err(Error::NoSuchPod(_)) if ignore_missing => Ok(None),
            Err(e) => Err(e),
        })
    }
}

fn resolve(
    references: &[String],
    lookup: impl Fn(&str) -> Result<Option<String>>,
) -> Result<Vec<Target>> {
    let mut out = Vec::with_capacity(references.len());
    for r in references {
        if let Some(id) = lookup(r)? {
            out.push(Target {
                given: r.clone(),
                id,
            });
        }
    }
    Ok(out)
}

/// The pool itself, generic over the per-worker context so it can be tested without a
/// store: `open` makes one context per worker thread (a failure to open is that worker's
/// answer for each target it takes), `op` runs one target.
fn on_pool<C, T, O, F>(targets: &[String], workers: usize, open: O, op: F) -> Vec<Result<T>>
where
    T: Send,
    O: Fn() -> Result<C> + Sync,
    F: Fn(&C, &str) -> Result<T> + Sync,
{
    let workers = workers.clamp(1, targets.len().max(1));
    let slots: Vec<Mutex<Option<Result<T>>>> = targets.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let ctx = open();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(i) else { break };
                    let r = match &ctx {
                        Ok(c) => op(c, target),
                        Err(e) => Err(Error::other(format!("opening a worker: {e}"))),
                    };
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(Error::other("a worker panicked")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i}")).collect()
    }

    #[test]
    fn results_keep_the_targets_order() {
        // Later targets finish first; the answers still line up with the targets.
        let t = names(6);
        let out = on_pool(
            &t,
            6,
            || Ok(()),
            |_, name| {
                let i: u64 = name[1..].parse().unwrap();
                std::thread::sleep(Duration::from_millis(60 - i * 10));
                Ok(name.to_uppercase())
            },
        );
        let got: Vec<String> = out.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(got, vec!["T0", "T1", "T2", "T3", "T4", "T5"]);
    }

    #[test]
    fn targets_run_concurrently() {
        let t = names(4);
        let start = Instant::now();
        let out = on_pool(
            &t,
            4,
            || Ok(()),
            |_, _| {
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            },
        );
        assert!(out.iter().all(|r| r.is_ok()));
        // Serially this is 1.2 s.
        assert!(
            start.elapsed() < Duration::from_millis(900),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn the_pool_is_bounded() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let opened = AtomicUsize::new(0);
        let t = names(12);
        let out = on_pool(
            &t,
            3,
            || {
                opened.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |_, _| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            },
        );
        assert_eq!(out.len(), 12);
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(opened.load(Ordering::SeqCst), 3, "one context per worker");
    }

    #[test]
    fn failures_stay_with_their_target() {
        let t = names(5);
        let out = on_pool(
            &t,
            2,
            || Ok(()),
            |_, name| {
                if name == "t2" {
                    Err(Error::other("boom"))
                } else {
                    Ok(())
                }
            },
        );
        let failed: Vec<usize> = (0..5).filter(|i| out[*i].is_err()).collect();
        assert_eq!(failed, vec![2]);
    }

    #[test]
    fn a_worker_that_cannot_open_answers_for_its_targets() {
        let t = names(3);
        let out: Vec<Result<()>> =
            on_pool(&t, 2, || Err::<(), _>(Error::other("no db")), |_, _| Ok(()));
        assert!(
            out.iter()
                .all(|r| r.as_ref().is_err_and(|e| e.to_string().contains("no db")))
        );
    }

    #[test]
    fn no_targets_no_work() {
        let out: Vec<Result<()>> = on_pool(&[], 4, || Ok(()), |_, _| Ok(()));
        assert!(out.is_empty());
    }

    #[test]
    fn podman_default_worker_count() {
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(max_workers(), cpus * 3 + 1);
    }
}
