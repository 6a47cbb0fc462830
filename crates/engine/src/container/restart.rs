//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`), applied where
//! Podman applies them: in the cleanup the monitor runs when the container exits
//! (libpod's `handleRestartPolicy`).
//!
//! Podman's rules, followed here: nothing restarts a container the user stopped or killed
//! through the engine (`stop` and `kill` both set `StoppedByUser`); `on-failure` restarts on
//! a non-zero exit while `RestartCount < N` (N = 0: no limit); `always` and
//! `unless-stopped` restart on any exit. Each restart increments `RestartCount`.

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};

/// A parsed `--restart` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// `""` (not given), `no`, `on-failure`, `always`, `unless-stopped`.
    pub name: String,
    pub max_retries: u32,
}

/// Parse `--restart`, with Podman's messages.
pub fn parse(value: &str) -> Result<RestartPolicy> {
    let (name, retries) = match value.split_once(':') {
        Some((n, r)) => (n, Some(r)),
        None => (value, None),
    };
    if !matches!(name, "" | "no" | "on-failure" | "always" | "unless-stopped") {
        return Err(Error::invalid(format!(
            "running container create option: {name:?} is not a valid restart policy: invalid argument"
        )));
    }
    let max_retries = match retries {
        None => 0,
        Some(_) if name != "on-failure" => {
            return Err(Error::invalid(
                "restart policy retries can only be specified with on-failure restart policy",
            ));
        }
        Some(r) => {
            let n: i64 = r.parse().map_err(|_| {
                Error::invalid(format!(
                    "parsing restart policy retry count: strconv.Atoi: parsing {r:?}: invalid syntax"
                ))
            })?;
            u32::try_from(n).map_err(|_| {
                Error::invalid(format!(
                    "restart policy retry count must be a non-negative integer, got {n}"
                ))
            })?
        }
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        max_retries,
    })
}

/// Should a container that just stopped be restarted? (libpod `handleRestartPolicy`.)
pub fn should_restart(
    policy: &str,
    max_retries: u32,
    exit_code: i32,
    restart_count: u32,
    stopped_by_user: bool,
) -> bool {
    if stopped_by_user {
        return false;
    }
    match policy {
        "always" | "unless-stopped" => true,
        "on-failure" => exit_code != 0 && (max_retries == 0 || restart_count < max_retries),
        _ => false,
    }
}

impl Engine {
    /// Called under the container's lock by cleanup, after a stopped container was cleaned
    /// up: restart it if its policy says so. True when it runs again.
    pub(crate) fn handle_restart_policy(&self, c: &mut Container) -> Result<bool> {
        if c.state.status != Status::Exited
            || !should_restart(
                &c.config.restart_policy,
                c.config.restart_retries,
                c.state.exit_code,
                c.state.restart_count,
                c.state.stopped_by_user,
            )
        {
            return Ok(false);
        }
        tracing::debug!(
            id = c.id(),
            policy = %c.config.restart_policy,
            count = c.state.restart_count + 1,
            "restarting container due to its restart policy"
        );
        c.state.restart_count += 1;
        self.db.update_state(c.id(), &c.state)?;
        self.init(c)?;
        self.run_initialized(c)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_values() {
        assert_eq!(parse("").unwrap().name, "");
        assert_eq!(parse("no").unwrap().name, "no");
        let p = parse("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.max_retries), ("on-failure", 3));
        assert_eq!(parse("on-failure").unwrap().max_retries, 0);
        assert_eq!(parse("always").unwrap().name, "always");
        assert_eq!(parse("unless-stopped").unwrap().name, "unless-stopped");
        assert_eq!(
            parse("bogus").unwrap_err().to_string(),
            "running container create option: \"bogus\" is not a valid restart policy: invalid argument"
        );
        assert_eq!(
            parse("on-failure:x").unwrap_err().to_string(),
            "parsing restart policy retry count: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse("always:3").unwrap_err().to_string(),
            "restart policy retries can only be specified with on-failure restart policy"
        );
        assert!(parse("on-failure:-1").is_err());
    }

    #[test]
    fn restart_decisions() {
        // on-failure: only non-zero exits, up to N restarts (0: unlimited).
        assert!(should_restart("on-failure", 2, 1, 0, false));
        assert!(should_restart("on-failure", 2, 1, 1, false));
        assert!(!should_restart("on-failure", 2, 1, 2, false));
        assert!(!should_restart("on-failure", 2, 0, 0, false));
        assert!(should_restart("on-failure", 0, 3, 100, false));
        // always / unless-stopped: any exit, unless the user stopped or killed it.
        assert!(should_restart("always", 0, 0, 7, false));
        assert!(should_restart("unless-stopped", 0, 137, 0, false));
        assert!(!should_restart("always", 0, 137, 0, true));
        assert!(!should_restart("on-failure", 0, 1, 0, true));
        // no policy.
        assert!(!should_restart("", 0, 1, 0, false));
        assert!(!should_restart("no", 0, 1, 0, false));
    }
}
