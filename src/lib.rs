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

/// Checks for the book's generated parts.
#[cfg(test)]
pub(crate) mod generated_docs {
    /// Fails unless the book's page `page` (under docs/) holds exactly
    /// `generated` between the marker line `start` and `end`, printing
    /// what to paste when stale.
    pub fn assert_block(page: &str, start: &str, end: &str, generated: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(page);
        let readme = std::fs::read_to_string(&path).expect("a page of the book");
        let start = format!("{start}\n");
        let inside = readme
            .split_once(start.as_str())
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(t, _)| t);
        assert_eq!(
            inside,
            Some(generated),
            "a generated part of docs/{page} is stale; replace it with:\n{start}{generated}{end}"
        );
    }
}
