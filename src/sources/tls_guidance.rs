//! Microsoft's guidance on TLS inspection, transcribed as facts with provenance.
//!
//! Microsoft's guidance on TLS inspection, transcribed as facts with
//! provenance: which Defender connections must not be inspected, and which
//! storage wildcards must never be exempted. It is a built-in source like
//! `builtin:mma`, carried by every catalog, so its version shows in output
//! headers, `catalog` and `explain`; the policy applies it.

use std::collections::BTreeSet;

use crate::model::host::parse_pattern;
use crate::model::{
    Catalog, GuidanceTarget, Product, Provenance, SourceInfo, TlsGuidance, TlsHandling,
};

pub const FILE: &str = super::Builtin::TlsGuidance.spec();
const TABLE: &str = "TLS inspection guidance";
/// The newest page this transcription follows; bump it with any change.
const VERSION: &str = "2026-03-11";
const REFERENCE: &str = "Defender for Endpoint configure-environment, device-connectivity and \
streamlined-connectivity pages (2023 revisions and 2025-2026 successors); Defender Antivirus \
network connections; Defender for Identity proxy configuration; Log Analytics agent firewall \
requirements";

const MDE_PAGES: &str = "learn.microsoft.com/defender-endpoint/configure-environment and \
device connectivity (2025-2026); connectivity pages of 2023";
const MDAV_PAGE: &str = "learn.microsoft.com/defender-endpoint/configure-network-connections-microsoft-defender-antivirus";
const MDI_PAGE: &str = "learn.microsoft.com/defender-for-identity/configure-proxy";
const MMA_PAGE: &str =
    "learn.microsoft.com/azure/azure-monitor/agents/log-analytics-agent (firewall requirements)";
const STREAMLINED_PAGE: &str =
    "learn.microsoft.com/defender-endpoint/configure-device-connectivity (streamlined)";

const STORAGE_WHY: &str = "Don't exclude *.blob.core.windows.net from network inspection. Exclude only \
the Defender for Endpoint blob URLs listed (anyone can host anything in a storage account)";
const MAPS_WHY: &str = "Defender Antivirus cloud protection (MAPS) pins its certificates (SSLOptions \
default 3): don't use TLS inspection for Defender cloud connections";

/// What a guidance row applies to, before validation.
enum Target {
    Products(&'static [Product]),
    Host(&'static str),
}

struct Row {
    id: &'static str,
    target: Target,
    tls: TlsHandling,
    reason: &'static str,
    reference: &'static str,
}

const fn exempt(
    id: &'static str,
    target: Target,
    reason: &'static str,
    reference: &'static str,
) -> Row {
    Row {
        id,
        target,
        tls: TlsHandling::MustNotInspect,
        reason,
        reference,
    }
}

const fn storage(id: &'static str, host: &'static str, reason: &'static str) -> Row {
    Row {
        id,
        target: Target::Host(host),
        tls: TlsHandling::MustBeInspected,
        reason,
        reference: MDE_PAGES,
    }
}

const ROWS: &[Row] = &[
    exempt(
        "defender-endpoint",
        Target::Products(&[Product::Mde, Product::SmartScreen]),
        "Defender for Endpoint service connections use certificate pinning and TLS; traffic \
         inspection is not supported (exclude the listed domains from HTTPS scanning; macOS and \
         Linux do not support SSL inspection)",
        MDE_PAGES,
    ),
    exempt(
        "defender-antivirus",
        Target::Products(&[Product::Mdav]),
        "Don't use TLS inspection for Defender cloud connections",
        MDAV_PAGE,
    ),
    exempt(
        "defender-identity",
        Target::Products(&[Product::Mdi]),
        "Defender for Identity sensors authenticate with certificates (mutual TLS): SSL \
         inspection and interception are not supported",
        MDI_PAGE,
    ),
    exempt(
        "monitoring-agent",
        Target::Products(&[Product::Mma]),
        "Log Analytics agent firewall table: Bypass HTTPS inspection: yes",
        MMA_PAGE,
    ),
    exempt(
        "maps-wdcp",
        Target::Host("*.wdcp.microsoft.com"),
        MAPS_WHY,
        MDAV_PAGE,
    ),
    exempt(
        "maps-wdcpalt",
        Target::Host("*.wdcpalt.microsoft.com"),
        MAPS_WHY,
        MDAV_PAGE,
    ),
    exempt(
        "maps-wd",
        Target::Host("*.wd.microsoft.com"),
        MAPS_WHY,
        MDAV_PAGE,
    ),
    exempt(
        "streamlined-commercial",
        Target::Host("*.endpoint.security.microsoft.com"),
        "Exclude traffic to *.endpoint.security.microsoft.com from SSL/TLS inspection, HTTPS \
         interception, and MITM proxying",
        STREAMLINED_PAGE,
    ),
    exempt(
        "streamlined-gov",
        Target::Host("*.endpoint.security.microsoft.us"),
        "Exclude traffic to *.endpoint.security.microsoft.us from SSL/TLS inspection, HTTPS \
         interception, and MITM proxying",
        STREAMLINED_PAGE,
    ),
    storage("storage-commercial", "*.blob.core.windows.net", STORAGE_WHY),
    storage(
        "storage-gov",
        "*.blob.core.usgovcloudapi.net",
        "The Government form of the storage wildcard: never exempt it; exempt only the named \
         Defender blob hosts",
    ),
    storage(
        "storage-china",
        "*.blob.core.chinacloudapi.cn",
        "The Azure China form of the storage wildcard: never exempt it",
    ),
    storage(
        "storage-dns-zone",
        "*.blob.storage.azure.net",
        "Storage accounts with Azure DNS zone endpoints (<account>.zNN.blob.storage.azure.net): \
         the same open namespace as *.blob.core.windows.net, never exempt it",
    ),
];

/// The guidance as a one-source catalog.
pub fn catalog() -> Catalog {
    let tls_guidance = ROWS
        .iter()
        .enumerate()
        .filter_map(|(i, row)| guidance(i, row))
        .collect();
    Catalog {
        sources: vec![SourceInfo::builtin(FILE, VERSION, REFERENCE)],
        tls_guidance,
        ..Catalog::default()
    }
}

fn guidance(index: usize, row: &Row) -> Option<TlsGuidance> {
    let applies_to = match row.target {
        Target::Products(p) => GuidanceTarget::Products {
            products: p.iter().copied().collect::<BTreeSet<_>>(),
        },
        // Constants of this crate: the unit test below proves each parses.
        Target::Host(h) => GuidanceTarget::Hosts {
            host: parse_pattern(h).ok()?,
        },
    };
    Some(TlsGuidance {
        id: row.id.to_string(),
        applies_to,
        tls: row.tls,
        reason: crate::model::text::collapse_ws(row.reason),
        reference: row.reference.to_string(),
        provenance: Provenance {
            file: FILE.to_string(),
            sheet: Some(TABLE.to_string()),
            row: Some(index as u32 + 1),
            ..Default::default()
        },
    })
}

/// Replaces whatever guidance a catalog carries (an older baseline, a
/// cached catalog) with this binary's, so one version applies everywhere.
pub fn with_current(mut catalog: Catalog) -> Catalog {
    catalog.sources.retain(|s| s.file != FILE);
    catalog.tls_guidance.clear();
    catalog.extend(self::catalog());
    catalog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_valid_and_unique() {
        let c = catalog();
        assert_eq!(c.tls_guidance.len(), ROWS.len());
        let ids: BTreeSet<&str> = c.tls_guidance.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids.len(), ROWS.len());
    }

    #[test]
    fn replacing_is_idempotent() {
        let once = with_current(Catalog::default());
        let twice = with_current(once.clone());
        assert_eq!(once, twice);
        assert_eq!(twice.sources.len(), 1);
    }
}
