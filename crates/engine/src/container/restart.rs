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

/// `--restart`, parsed. Not given is `None` where it is held (`Option<RestartPolicy>`):
/// inspect shows `""` then, as Podman does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    /// Restart on a non-zero exit, at most `max_retries` times (0: no limit).
    OnFailure {
        max_retries: u32,
    },
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// Podman's name of the policy.
    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn max_retries(&self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max_retries } => *max_retries,
            _ => 0,
        }
    }

    /// Parse `--restart` with Podman's messages; `""` is "not given".
    pub fn parse(value: &str) -> Result<Option<RestartPolicy>> {
        let (name, retries) = match value.split_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (value, None),
        };
        let policy = match name {
            "" => None,
            "no" => Some(RestartPolicy::No),
            "on-failure" => Some(RestartPolicy::OnFailure { max_retries: 0 }),
            "always" => Some(RestartPolicy::Always),
            "unless-stopped" => Some(RestartPolicy::UnlessStopped),
            _ => {
                return Err(Error::invalid(format!(
                    "running container create option: {name:?} is not a valid restart policy: invalid argument"
                )));
            }
        };
        let Some(r) = retries else {
            return Ok(policy);
        };
        if name != "on-failure" {
            return Err(Error::invalid(
                "restart policy retries can only be specified with on-failure restart policy",
            ));
        }
        let n: i64 = r.parse().map_err(|_| {
            Error::invalid(format!(
                "parsing restart policy retry count: strconv.Atoi: parsing {r:?}: invalid syntax"
            ))
        })?;
        let max_retries = u32::try_from(n).map_err(|_| {
            Error::invalid(format!(
                "restart policy retry count must be a non-negative integer, got {n}"
            ))
        })?;
        Ok(Some(RestartPolicy::OnFailure { max_retries }))
    }
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
        self.emit_container(c, "restart");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_values() {
        let parse = RestartPolicy::parse;
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("no").unwrap(), Some(RestartPolicy::No));
        let p = parse("on-failure:3").unwrap().unwrap();
        assert_eq!((p.name(), p.max_retries()), ("on-failure", 3));
        assert_eq!(parse("on-failure").unwrap().unwrap().max_retries(), 0);
        assert_eq!(parse("always").unwrap(), Some(RestartPolicy::Always));
        assert_eq!(
            parse("unless-stopped").unwrap(),
            Some(RestartPolicy::UnlessStopped)
        );
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
