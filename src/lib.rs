//! egressgen: Microsoft Defender connectivity requirements in, proxy and
//! firewall configuration out.
//!
//! The flow is one-way: `sources` read Microsoft's files into a
//! [`model::Catalog`] (validated by `normalize`, with the provenance of
//! every row); later stages turn a catalog and a site's ruleset into a
//! policy and the backends render it.

pub mod backends;
pub mod baseline;
pub mod cli;
pub mod conformance;
pub mod error;
pub mod explain;
pub mod generate;
pub mod input;
pub mod model;
pub mod normalize;
pub mod policy;
pub mod publish;
pub mod ruleset;
pub mod sources;

pub use error::{Error, Result};
pub use model::Catalog;
pub use sources::{ReadOptions, read_sources};

/// The catalog a command works on: the given sources, or the built-in
/// baseline when there are none.
pub fn load_catalog<S: AsRef<str>>(specs: &[S], opts: &ReadOptions) -> Result<Catalog> {
    opts.check()?;
    if specs.is_empty() {
        baseline::load().map(sources::tls_guidance::with_current)
    } else {
        read_sources(specs, opts)
    }
}
