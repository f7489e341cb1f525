//! Tables Microsoft publishes only as prose: the Monitoring Agent's and Identity's hosts.
//!
//! Tables that exist only as prose in Microsoft's documentation: the
//! Monitoring Agent (MMA / Log Analytics agent) firewall table and the
//! Defender for Identity sensor URLs. Their placeholders are explicit
//! ([`HostPattern::Template`]) and filled in only from a ruleset.

use std::collections::BTreeSet;

use crate::model::{
    Catalog, Cloud, DnsName, Endpoint, Geography, HostPattern, Placeholder, Product, Provenance,
    Requirement, SourceInfo, Template, TlsHandling, Via,
};

const MMA_REFERENCE: &str = "Log Analytics agent overview, Firewall requirements \
(learn.microsoft.com/azure/azure-monitor/agents/log-analytics-agent)";
const MDI_REFERENCE: &str = "Defender for Identity proxy configuration and US Government offerings \
(learn.microsoft.com/defender-for-identity/us-govt-gcc-high, ms.date 2023-02-14)";
/// Version of our transcription of these tables: bump it when a row changes.
const TABLE_VERSION: &str = "builtin-1";

/// One row of a built-in table.
struct Row {
    /// `<workspace-id>` entries fill `*` with the placeholder; others are
    /// plain wildcards.
    placeholder: Option<Placeholder>,
    label_suffix: &'static str,
    domain: &'static str,
    /// The wildcard Microsoft publishes for this row.
    fallback: &'static str,
    clouds: &'static [Cloud],
    tls: TlsHandling,
    description: &'static str,
    comments: &'static str,
}

const COMMERCIAL: &[Cloud] = &[Cloud::Commercial];
const GOV: &[Cloud] = &[Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];
const GCC: &[Cloud] = &[Cloud::Gcc];
const GCC_HIGH_DOD: &[Cloud] = &[Cloud::GccHigh, Cloud::Dod];

const MMA_BYPASS: &str = "Bypass HTTPS inspection: yes (Log Analytics agent firewall requirements)";

/// The agent's firewall table: port 443 outbound, HTTPS inspection
/// bypassed. The `*` of the opinsights and agentsvc entries can be replaced
/// with the workspace ID.
const MMA_ROWS: &[Row] = &[
    mma_row(
        Some(Placeholder::WorkspaceId),
        "ods.opinsights.azure.com",
        "ods.opinsights.azure.com",
        COMMERCIAL,
    ),
    mma_row(
        Some(Placeholder::WorkspaceId),
        "oms.opinsights.azure.com",
        "oms.opinsights.azure.com",
        COMMERCIAL,
    ),
    mma_row(
        None,
        "blob.core.windows.net",
        "blob.core.windows.net",
        COMMERCIAL,
    ),
    mma_row(
        Some(Placeholder::WorkspaceId),
        "agentsvc.azure-automation.net",
        "azure-automation.net",
        COMMERCIAL,
    ),
    mma_row(
        Some(Placeholder::WorkspaceId),
        "ods.opinsights.azure.us",
        "ods.opinsights.azure.us",
        GOV,
    ),
    mma_row(
        Some(Placeholder::WorkspaceId),
        "oms.opinsights.azure.us",
        "oms.opinsights.azure.us",
        GOV,
    ),
    mma_row(
        None,
        "blob.core.usgovcloudapi.net",
        "blob.core.usgovcloudapi.net",
        GOV,
    ),
    mma_row(
        Some(Placeholder::WorkspaceId),
        "agentsvc.azure-automation.us",
        "azure-automation.us",
        GOV,
    ),
];

const fn mma_row(
    placeholder: Option<Placeholder>,
    domain: &'static str,
    fallback: &'static str,
    clouds: &'static [Cloud],
) -> Row {
    Row {
        placeholder,
        label_suffix: "",
        domain,
        fallback,
        clouds,
        tls: TlsHandling::MustNotInspect,
        description: "Log Analytics agent (MMA) communication",
        comments: MMA_BYPASS,
    }
}

const MDI_MUTUAL_TLS: &str =
    "The sensor authenticates with a certificate (mutual TLS): SSL inspection breaks it";

/// Defender for Identity: the sensor API (`<instance>sensorapi...`, no dot
/// between instance and `sensorapi`) and the workspace URL.
const MDI_ROWS: &[Row] = &[
    mdi_row(
        "sensorapi",
        "atp.azure.com",
        "atp.azure.com",
        COMMERCIAL,
        TlsHandling::MustNotInspect,
        "Sensor API",
        MDI_MUTUAL_TLS,
    ),
    mdi_row(
        "",
        "atp.azure.com",
        "atp.azure.com",
        COMMERCIAL,
        TlsHandling::Unspecified,
        "Workspace",
        "",
    ),
    mdi_row(
        "sensorapi",
        "atp.azure.us",
        "atp.azure.us",
        GCC_HIGH_DOD,
        TlsHandling::MustNotInspect,
        "Sensor API (GCC High, DoD)",
        MDI_MUTUAL_TLS,
    ),
    mdi_row(
        "",
        "atp.azure.us",
        "atp.azure.us",
        GCC_HIGH_DOD,
        TlsHandling::Unspecified,
        "Workspace (GCC High, DoD)",
        "",
    ),
    mdi_row(
        "sensorapi",
        "atp.gcc.azure.com",
        "atp.gcc.azure.com",
        GCC,
        TlsHandling::MustNotInspect,
        "Sensor API (GCC)",
        MDI_MUTUAL_TLS,
    ),
];

const fn mdi_row(
    label_suffix: &'static str,
    domain: &'static str,
    fallback: &'static str,
    clouds: &'static [Cloud],
    tls: TlsHandling,
    description: &'static str,
    comments: &'static str,
) -> Row {
    Row {
        placeholder: Some(Placeholder::Instance),
        label_suffix,
        domain,
        fallback,
        clouds,
        tls,
        description,
        comments,
    }
}

/// The MMA table as a catalog.
pub fn mma() -> Catalog {
    build(
        super::Builtin::Mma.spec(),
        "Log Analytics agent firewall requirements",
        Product::Mma,
        MMA_ROWS,
        MMA_REFERENCE,
        TABLE_VERSION,
    )
}

/// The Defender for Identity URL templates as a catalog.
pub fn mdi() -> Catalog {
    build(
        super::Builtin::Mdi.spec(),
        "Defender for Identity sensor URLs",
        Product::Mdi,
        MDI_ROWS,
        MDI_REFERENCE,
        TABLE_VERSION,
    )
}

fn build(
    file: &str,
    table: &str,
    product: Product,
    rows: &[Row],
    reference: &str,
    date: &str,
) -> Catalog {
    let endpoints = rows
        .iter()
        .enumerate()
        .map(|(i, row)| endpoint(file, table, product, i, row))
        .collect();
    Catalog {
        sources: vec![SourceInfo::builtin(file, date, reference)],
        endpoints,
        ..Catalog::default()
    }
}

fn endpoint(file: &str, table: &str, product: Product, index: usize, row: &Row) -> Endpoint {
    // The tables are constants of this crate; a name that fails
    // validation is a bug caught by the unit tests below.
    let name = |n: &str| DnsName::parse(n).expect("built-in table holds valid names");
    let host = match row.placeholder {
        Some(placeholder) => HostPattern::Template(Template {
            placeholder,
            label_suffix: row.label_suffix.to_string(),
            domain: name(row.domain),
            fallback: name(row.fallback),
        }),
        None => HostPattern::Subdomains(name(row.domain)),
    };
    let clouds: BTreeSet<Cloud> = row.clouds.iter().copied().collect();
    let gov = clouds.iter().all(|c| *c != Cloud::Commercial);
    Endpoint {
        host,
        path: None,
        ports: [443].into(),
        product,
        service: None,
        clouds,
        geography: if gov {
            Geography::parse("US Gov")
        } else {
            Geography::worldwide()
        },
        os: Default::default(),
        required: Requirement::Required,
        category: None,
        description: Some(row.description.to_string()),
        comments: (!row.comments.is_empty()).then(|| row.comments.to_string()),
        tls: row.tls,
        route: Via::Proxy,
        notes: Vec::new(),
        provenance: vec![Provenance {
            file: file.to_string(),
            sheet: Some(table.to_string()),
            row: Some(index as u32 + 1),
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::check_pattern;

    #[test]
    fn builtin_tables_are_valid() {
        for catalog in [mma(), mdi()] {
            for e in &catalog.endpoints {
                check_pattern(&e.host).unwrap_or_else(|err| panic!("{}: {err}", e.host));
            }
        }
    }

    #[test]
    fn placeholders_are_explicit() {
        let hosts: Vec<String> = mdi().endpoints.iter().map(|e| e.host.to_string()).collect();
        assert!(hosts.contains(&"<instance>sensorapi.atp.azure.com".to_string()));
        assert!(hosts.contains(&"<instance>.atp.azure.com".to_string()));
        let mma: Vec<String> = mma().endpoints.iter().map(|e| e.host.to_string()).collect();
        assert!(mma.contains(&"<workspace-id>.ods.opinsights.azure.com".to_string()));
        assert!(mma.contains(&"<workspace-id>.agentsvc.azure-automation.net".to_string()));
        assert!(mma.contains(&"*.blob.core.windows.net".to_string()));
    }
}
