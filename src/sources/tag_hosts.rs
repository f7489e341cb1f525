//! Which service tag stands for which published host pattern, as facts with provenance.
//!
//! Which service tag stands for which published host pattern, transcribed
//! as facts with provenance: a firewall that cannot match names (pfSense,
//! nftables) allows the tag's prefixes instead of the wildcard. A built-in
//! source like the TLS guidance, carried by every catalog, so its version
//! shows in output headers and `catalog`.

use crate::model::host::parse_pattern;
use crate::model::{Catalog, Provenance, SourceInfo, TagHost};

use super::Builtin;

const TABLE: &str = "Service tags for host patterns";
/// The newest page this transcription follows; bump it with any change.
const VERSION: &str = "2025-10-16";
const REFERENCE: &str = "Defender for Endpoint streamlined connectivity (the IP addresses sheet \
of the streamlined workbook); Defender for Identity proxy configuration";

const STREAMLINED: &str = "mde-streamlined-urls-commercial.xlsx, sheet IP addresses: \
MicrosoftDefenderForEndpoint and OneDsCollector";
const MDI: &str = "learn.microsoft.com/defender-for-identity/configure-proxy: \
the AzureAdvancedThreatProtection service tag";

/// `(tag, host pattern, reference)`, one row each.
const ROWS: &[(&str, &str, &str)] = &[
    ("AzureAdvancedThreatProtection", "*.atp.azure.com", MDI),
    ("AzureAdvancedThreatProtection", "*.atp.azure.us", MDI),
    ("AzureAdvancedThreatProtection", "*.atp.gcc.azure.com", MDI),
    (
        "MicrosoftDefenderForEndpoint",
        "*.endpoint.security.microsoft.com",
        STREAMLINED,
    ),
    ("OneDsCollector", "*.events.data.microsoft.com", STREAMLINED),
];

pub fn catalog() -> Catalog {
    let file = Builtin::TagHosts.spec();
    let tag_hosts = ROWS
        .iter()
        .enumerate()
        // Constants of this crate: the unit test below proves each parses.
        .filter_map(|(i, (tag, host, reference))| {
            Some(TagHost {
                tag: tag.to_string(),
                host: parse_pattern(host).ok()?,
                reference: reference.to_string(),
                provenance: Provenance {
                    file: file.to_string(),
                    sheet: Some(TABLE.to_string()),
                    row: u32::try_from(i + 1).ok(),
                    ..Default::default()
                },
            })
        })
        .collect();
    Catalog {
        sources: vec![SourceInfo::builtin(file, VERSION, REFERENCE)],
        tag_hosts,
        ..Catalog::default()
    }
}

/// Replaces any copy a catalog carries (a stored one, say) with this
/// binary's table.
pub fn with_current(mut catalog: Catalog) -> Catalog {
    catalog
        .sources
        .retain(|s| s.file != Builtin::TagHosts.spec());
    catalog.tag_hosts.clear();
    catalog.extend(self::catalog());
    catalog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_and_replacing_is_idempotent() {
        let c = catalog();
        assert_eq!(c.tag_hosts.len(), ROWS.len());
        let once = with_current(Catalog::default());
        assert_eq!(with_current(once.clone()), once);
    }
}
