//! The built-in baseline catalog, so the tool works offline on its first run.
//!
//! The built-in baseline catalog, so the tool works offline on its first
//! run. It is our own file, `data/baseline.json`, in the stable catalog JSON
//! shape, derived from Microsoft's published files by
//! `egressgen baseline --data-dir DIR` (see the README); a test checks that it still
//! matches what those files give.

use std::path::Path;

use super::{Builtin, ReadOptions, SourceSpec, read_sources};
use crate::error::{Error, Result};
use crate::model::Catalog;

const BASELINE_JSON: &str = include_str!("../../data/baseline.json");

/// The files the baseline is built from, relative to the shared data
/// directory, in the order they are read. `builtin:` entries are ours.
/// Each list is in its newest published version only (standard
/// commercial 2026-03-11, standard Gov 2025-10-16, streamlined commercial
/// and Gov 2025-12-25): an older version of the same list would bring back
/// hosts Microsoft has since removed.
pub const BASELINE_SOURCES: [&str; 8] = [
    "mde/standard-device-connectivity-urls-commercial.learn.md",
    "mde/standard-device-connectivity-urls-gov.urltables.md",
    "mde/streamlined-device-connectivity-urls-commercial.learn.md",
    "mde/streamlined-device-connectivity-urls-gov.learn.md",
    "servicetags/ServiceTags_Public_20251013.json",
    "servicetags/ServiceTags_AzureGovernment_20251013.json",
    "builtin:mma",
    "builtin:mdi",
];

/// Parses and re-validates the embedded baseline.
pub fn load() -> Result<Catalog> {
    super::catalog_json::parse(BASELINE_JSON).map_err(|e| Error::Baseline(e.detail))
}

/// Builds the baseline from a directory laid out like Microsoft's
/// downloads in `../shared/data` (see [`BASELINE_SOURCES`]).
pub fn build(data_dir: &Path) -> Result<Catalog> {
    let specs = BASELINE_SOURCES
        .iter()
        .map(|s| SourceSpec::parse(s).map(|spec| spec.relative_to(data_dir)))
        .collect::<Result<Vec<_>>>()?;
    // The TLS guidance and the tag hosts are the binary's own and join
    // every catalog when it is read (sources::with_builtin_facts): a copy
    // in the baseline could only go stale.
    let mut catalog = read_sources(&specs, &ReadOptions::default())?;
    catalog
        .sources
        .retain(|s| s.file != Builtin::TlsGuidance.spec() && s.file != Builtin::TagHosts.spec());
    catalog.tls_guidance.clear();
    catalog.tag_hosts.clear();
    Ok(catalog)
}
