//! The catalog as people read it: an aligned table, and CSV for a spreadsheet.
//!
//! Every text from a source is made safe for where it lands: terminal
//! escapes in the table, formula triggers in CSV cells.

use crate::model::text::{display_escape, spreadsheet_safe, terminal_safe};
use crate::model::{Catalog, Endpoint, Os, OsFlag, Prefix, Provenance};

/// `W M L` for Windows, macOS, Linux; `*` after a conditional yes, `-`
/// before a No.
pub fn os_summary(endpoint: &Endpoint) -> String {
    let letter = |os: Os| match os {
        Os::Windows => "W",
        Os::WindowsLegacy => "7",
        Os::WindowsServerMma => "S",
        Os::Macos => "M",
        Os::Linux => "L",
    };
    let parts: Vec<String> = endpoint
        .os
        .iter()
        .map(|(os, flag)| match flag {
            OsFlag::Yes => letter(*os).to_string(),
            OsFlag::Conditional => format!("{}*", letter(*os)),
            OsFlag::No => format!("-{}", letter(*os)),
        })
        .collect();
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

fn ports_text(endpoint: &Endpoint) -> String {
    endpoint
        .ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn clouds_text<'a>(clouds: impl Iterator<Item = &'a crate::model::Cloud>) -> String {
    clouds.map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

fn provenance_text(p: &[Provenance]) -> String {
    p.iter()
        .map(|p| display_escape(&p.to_string()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn endpoint_row(e: &Endpoint) -> Vec<String> {
    vec![
        e.host.to_string(),
        e.host.kind().to_string(),
        e.path.clone().unwrap_or_else(|| "-".to_string()),
        ports_text(e),
        e.product.as_str().to_string(),
        clouds_text(e.clouds.iter()),
        display_escape(e.geography.as_str()),
        os_summary(e),
        format!("{:?}", e.required).to_lowercase(),
        format!("{:?}", e.route).to_lowercase(),
        tls_text(e),
        provenance_text(&e.provenance),
    ]
}

fn tls_text(e: &Endpoint) -> String {
    tls_word(e.tls).to_string()
}

fn tls_word(tls: crate::model::TlsHandling) -> &'static str {
    match tls {
        crate::model::TlsHandling::Unspecified => "-",
        crate::model::TlsHandling::MustNotInspect => "no-inspect",
        crate::model::TlsHandling::MustBeInspected => "inspect",
    }
}

/// `products mde,smart-screen` or the host pattern.
fn guidance_target(g: &crate::model::TlsGuidance) -> String {
    match &g.applies_to {
        crate::model::GuidanceTarget::Products { products } => format!(
            "products {}",
            products
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
        crate::model::GuidanceTarget::Hosts { host } => host.to_string(),
    }
    .to_string()
}

fn prefix_row(p: &Prefix) -> Vec<String> {
    vec![
        p.net.to_string(),
        p.tag.clone(),
        p.region.clone().unwrap_or_else(|| "-".to_string()),
        p.change_number.map_or("-".to_string(), |c| c.to_string()),
        clouds_text(p.clouds.iter()),
        provenance_text(std::slice::from_ref(&p.provenance)),
    ]
}

/// Human-readable report: sources, endpoints, prefixes, tag references,
/// rejected cells and notes, each as an aligned table.
pub fn to_table(catalog: &Catalog) -> String {
    let mut out = String::new();
    section(&mut out, "sources", catalog.sources.len());
    let rows: Vec<Vec<String>> = catalog
        .sources
        .iter()
        .map(|s| {
            vec![
                display_escape(&s.file),
                s.kind.as_str().to_string(),
                s.layout.clone().unwrap_or_else(|| "-".to_string()),
                s.version.clone().unwrap_or_else(|| "-".to_string()),
                s.sha256
                    .as_deref()
                    .map_or("-".to_string(), |h| h.chars().take(16).collect()),
            ]
        })
        .collect();
    aligned(
        &mut out,
        &["FILE", "KIND", "LAYOUT", "VERSION", "SHA256"],
        &rows,
    );

    section(&mut out, "endpoints", catalog.endpoints.len());
    let rows: Vec<Vec<String>> = catalog.endpoints.iter().map(endpoint_row).collect();
    aligned(
        &mut out,
        &[
            "PATTERN",
            "KIND",
            "PATH",
            "PORTS",
            "PRODUCT",
            "CLOUD",
            "GEO",
            "OS",
            "REQUIRED",
            "ROUTE",
            "TLS",
            "PROVENANCE",
        ],
        &rows,
    );

    section(&mut out, "prefixes", catalog.prefixes.len());
    let rows: Vec<Vec<String>> = catalog.prefixes.iter().map(prefix_row).collect();
    aligned(
        &mut out,
        &["PREFIX", "TAG", "REGION", "CHANGE", "CLOUD", "PROVENANCE"],
        &rows,
    );

    if !catalog.tag_refs.is_empty() {
        section(
            &mut out,
            "service tags named by workbooks",
            catalog.tag_refs.len(),
        );
        let rows: Vec<Vec<String>> = catalog
            .tag_refs
            .iter()
            .map(|t| {
                vec![
                    t.tag.clone(),
                    provenance_text(std::slice::from_ref(&t.provenance)),
                ]
            })
            .collect();
        aligned(&mut out, &["TAG", "PROVENANCE"], &rows);
    }

    section(&mut out, "rejected", catalog.rejected.len());
    let rows: Vec<Vec<String>> = catalog
        .rejected
        .iter()
        .map(|r| {
            vec![
                provenance_text(std::slice::from_ref(&r.provenance)),
                r.code.clone(),
                r.value.clone(),
                display_escape(&r.reason),
            ]
        })
        .collect();
    aligned(&mut out, &["WHERE", "CODE", "VALUE", "REASON"], &rows);

    if !catalog.tls_guidance.is_empty() {
        section(&mut out, "TLS guidance", catalog.tls_guidance.len());
        let rows: Vec<Vec<String>> = catalog
            .tls_guidance
            .iter()
            .map(|g| {
                vec![
                    g.id.clone(),
                    guidance_target(g),
                    tls_word(g.tls).to_string(),
                    provenance_text(std::slice::from_ref(&g.provenance)),
                    display_escape(&g.reason),
                ]
            })
            .collect();
        aligned(
            &mut out,
            &["ID", "APPLIES TO", "TLS", "PROVENANCE", "REASON"],
            &rows,
        );
    }

    if !catalog.tag_hosts.is_empty() {
        section(&mut out, "service-tag hosts", catalog.tag_hosts.len());
        let rows: Vec<Vec<String>> = catalog
            .tag_hosts
            .iter()
            .map(|t| {
                vec![
                    t.tag.clone(),
                    t.host.to_string(),
                    provenance_text(std::slice::from_ref(&t.provenance)),
                    display_escape(&t.reference),
                ]
            })
            .collect();
        aligned(
            &mut out,
            &["TAG", "STANDS FOR", "PROVENANCE", "REFERENCE"],
            &rows,
        );
    }

    if !catalog.inconsistencies.is_empty() {
        section(
            &mut out,
            "source inconsistencies",
            catalog.inconsistencies.len(),
        );
        let rows: Vec<Vec<String>> = catalog
            .inconsistencies
            .iter()
            .map(|i| {
                vec![
                    i.host.clone(),
                    display_escape(i.labelled.as_str()),
                    display_escape(i.implied.as_str()),
                    provenance_text(std::slice::from_ref(&i.provenance)),
                ]
            })
            .collect();
        aligned(
            &mut out,
            &["HOST", "LABELLED", "NAME IMPLIES", "PROVENANCE"],
            &rows,
        );
    }

    if !catalog.notes.is_empty() {
        section(&mut out, "notes", catalog.notes.len());
        let rows: Vec<Vec<String>> = catalog
            .notes
            .iter()
            .map(|n| {
                vec![
                    provenance_text(std::slice::from_ref(&n.provenance)),
                    display_escape(&n.message),
                ]
            })
            .collect();
        aligned(&mut out, &["WHERE", "NOTE"], &rows);
    }
    out
}

fn section(out: &mut String, title: &str, count: usize) {
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!("# {title} ({count})\n"));
}

fn aligned(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        return;
    }
    // Every cell is made safe for a terminal here, whatever its source: a
    // tag name or a file name can hold control characters.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| terminal_safe(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// CSV columns, one record per endpoint, prefix, TLS guidance row,
/// service-tag host, or rejected value.
pub const CSV_HEADER: [&str; 17] = [
    "record",
    "pattern",
    "kind",
    "path",
    "ports",
    "product",
    "service",
    "clouds",
    "geography",
    "os",
    "required",
    "route",
    "tls",
    "category",
    "provenance",
    "code",
    "reason",
];

pub fn to_csv(catalog: &Catalog) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut records: Vec<Vec<String>> = vec![CSV_HEADER.iter().map(|h| h.to_string()).collect()];
    for e in &catalog.endpoints {
        records.push(vec![
            "endpoint".into(),
            e.host.to_string(),
            e.host.kind().into(),
            e.path.clone().unwrap_or_default(),
            ports_text(e),
            e.product.as_str().into(),
            e.service.clone().unwrap_or_default(),
            clouds_text(e.clouds.iter()),
            e.geography.as_str().into(),
            os_summary(e),
            format!("{:?}", e.required).to_lowercase(),
            format!("{:?}", e.route).to_lowercase(),
            tls_text(e),
            e.category.clone().unwrap_or_default(),
            provenance_text(&e.provenance),
            String::new(),
            String::new(),
        ]);
    }
    for p in &catalog.prefixes {
        let kind = if p.net.addr().is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        let mut record = vec![String::new(); CSV_HEADER.len()];
        record[0] = "prefix".into();
        record[1] = p.net.to_string();
        record[2] = kind.into();
        record[5] = p
            .product
            .map(|x| x.as_str().to_string())
            .unwrap_or_default();
        record[6] = p.tag.clone();
        record[7] = clouds_text(p.clouds.iter());
        record[14] = provenance_text(std::slice::from_ref(&p.provenance));
        records.push(record);
    }
    for g in &catalog.tls_guidance {
        let mut record = vec![String::new(); CSV_HEADER.len()];
        record[0] = "tls-guidance".into();
        record[1] = guidance_target(g);
        record[12] = tls_word(g.tls).into();
        record[14] = provenance_text(std::slice::from_ref(&g.provenance));
        record[15] = g.id.clone();
        record[16] = g.reason.clone();
        records.push(record);
    }
    for t in &catalog.tag_hosts {
        let mut record = vec![String::new(); CSV_HEADER.len()];
        record[0] = "tag-host".into();
        record[1] = t.host.to_string();
        record[2] = t.host.kind().into();
        record[6] = t.tag.clone();
        record[14] = provenance_text(std::slice::from_ref(&t.provenance));
        record[16] = t.reference.clone();
        records.push(record);
    }
    for r in &catalog.rejected {
        let mut record = vec![String::new(); CSV_HEADER.len()];
        record[0] = "rejected".into();
        record[1] = r.value.clone();
        record[14] = provenance_text(std::slice::from_ref(&r.provenance));
        record[15] = r.code.clone();
        record[16] = r.reason.clone();
        records.push(record);
    }
    for i in &catalog.inconsistencies {
        let mut record = vec![String::new(); CSV_HEADER.len()];
        record[0] = "inconsistency".into();
        record[1] = i.host.clone();
        record[7] = clouds_text(i.clouds.iter());
        record[8] = i.labelled.as_str().into();
        record[14] = provenance_text(std::slice::from_ref(&i.provenance));
        record[15] = i.implied.as_str().into();
        record[16] = i.message.clone();
        records.push(record);
    }
    for record in records {
        let safe: Vec<String> = record.iter().map(|f| spreadsheet_safe(f)).collect();
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&safe);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
