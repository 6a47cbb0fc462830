//! Network reports: the `network ls` listing, filtered with Podman's keys. Truncated ids
//! and templates are the front end's.

use super::Network;
use crate::Engine;
use crate::error::Result;
use crate::filter::NetworkFilter;

impl Engine {
    /// `network ls`: every network that `filters` (`KEY=VALUE`) keep, by name.
    pub fn network_list(&self, filters: &[String]) -> Result<Vec<Network>> {
        let filters = NetworkFilter::parse_all(filters)?;
        Ok(self
            .networks()?
            .into_iter()
            .filter(|n| filters.iter().all(|f| f.matches(n)))
            .collect())
    }
}
