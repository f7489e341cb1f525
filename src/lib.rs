//! egressgen: Defender connectivity requirements in, proxy and firewall configuration out.
//!
//! The flow is one-way: `sources` read Microsoft's files into a
//! [`model::Catalog`] (validated by `normalize`, with the provenance of
//! every row); later stages turn a catalog and a site's ruleset into a
//! policy and the backends render it.

pub mod audit;
pub mod backends;
pub mod cache;
pub mod cli;
pub mod conformance;
pub mod diff;
pub mod error;
pub mod explain;
pub mod generate;
pub mod input;
pub mod model;
pub mod normalize;
pub mod policy;
pub mod publish;
pub mod refresh;
pub mod ruleset;
pub mod site;
pub mod sources;
pub mod values;
pub mod verify;

#[cfg(test)]
mod layout_tests;

/// Checks for the README's generated parts.
#[cfg(test)]
pub(crate) mod readme {
    /// Fails unless the README holds exactly `generated` between the
    /// marker line `start` and `end`, printing what to paste when stale.
    pub fn assert_block(start: &str, end: &str, generated: &str) {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let start = format!("{start}\n");
        let inside = readme
            .split_once(start.as_str())
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(t, _)| t);
        assert_eq!(
            inside,
            Some(generated),
            "a generated part of README.md is stale; replace it with:\n{start}{generated}{end}"
        );
    }
}
