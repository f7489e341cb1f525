//! Scope filters with the workbooks' meaning: geographies, OS, products, optional rows.
//!
//! WW always, the site's data locations, the Gov geographies for a Gov
//! cloud; the OS columns; the products; optional rows; the connectivity
//! model. Plus the ruleset's own allow and exclude entries.

use std::collections::BTreeMap;

use super::collapse::Candidate;
use super::matching::covers;
use super::{Filtered, PolicyReport};
use crate::model::host::parse_pattern;
use crate::model::{
    Catalog, Endpoint, Geography, OsFlag, Provenance, Requirement, TlsHandling, Via,
};
use crate::normalize::url_cell::parse_entry;
use crate::site::{Connectivity, Site};

/// The geographies a ruleset keeps, as shown in reports.
pub fn geographies(site: &Site) -> Vec<String> {
    let mut out = vec!["WW".to_string()];
    if site.scope.cloud != crate::model::Cloud::Commercial {
        out.push("US Gov".to_string());
        out.push(
            match site.scope.cloud {
                crate::model::Cloud::Gcc => "GCC",
                crate::model::Cloud::GccHigh => "GCC High",
                _ => "DoD",
            }
            .to_string(),
        );
    }
    for g in &site.scope.geographies {
        if !out.iter().any(|o| o == g.as_str()) {
            out.push(g.to_string());
        }
    }
    out
}

/// The catalog endpoints in the ruleset's scope; the rest go to
/// `filtered` with the reason.
pub fn select<'a>(
    catalog: &'a Catalog,
    site: &Site,
    filtered: &mut Vec<Filtered>,
) -> Vec<&'a Endpoint> {
    let layouts: BTreeMap<&str, &str> = catalog
        .sources
        .iter()
        .filter_map(|s| Some((s.file.as_str(), s.layout.as_deref()?)))
        .collect();
    let geos = geographies(site);
    let mut kept = Vec::new();
    for e in &catalog.endpoints {
        match out_of_scope(e, site, &geos, &layouts) {
            None => kept.push(e),
            Some(reason) => filtered.push(Filtered {
                host: e.host.to_string(),
                path: e.path.clone(),
                reason,
                provenance: e.provenance.clone(),
            }),
        }
    }
    kept
}

fn out_of_scope(
    e: &Endpoint,
    site: &Site,
    geos: &[String],
    layouts: &BTreeMap<&str, &str>,
) -> Option<String> {
    let scope = &site.scope;
    if !e.clouds.contains(&scope.cloud) {
        let clouds: Vec<&str> = e.clouds.iter().map(|c| c.as_str()).collect();
        return Some(format!(
            "for {} only, not {}",
            clouds.join(", "),
            scope.cloud.as_str()
        ));
    }
    if !geography_kept(&e.geography, geos) {
        return Some(format!(
            "geography {} is not one of this site's",
            e.geography.as_str()
        ));
    }
    if !scope.products.contains(&e.product) {
        return Some(format!("product {} is not selected", e.product.as_str()));
    }
    if !os_kept(e, site) {
        let oses: Vec<&str> =
            e.os.iter()
                .filter(|(_, f)| **f != OsFlag::No)
                .map(|(os, _)| os.as_str())
                .collect();
        return Some(format!("only for {}", oses.join(", ")));
    }
    if e.required == Requirement::Optional && !scope.include_optional {
        return Some("optional, and the ruleset leaves optional endpoints out".to_string());
    }
    let layout = e
        .provenance
        .first()
        .and_then(|p| layouts.get(p.file.as_str()));
    match (scope.connectivity, layout) {
        (Connectivity::Standard, Some(&"streamlined")) => {
            Some("from a streamlined-connectivity source; the site uses standard".to_string())
        }
        (Connectivity::Streamlined, Some(&("standard" | "classic"))) => {
            Some("from a standard-connectivity source; the site uses streamlined".to_string())
        }
        _ => None,
    }
}

/// WW always; a Gov geography only reaches here for a Gov cloud (the cloud
/// filter ran first); otherwise one of the site's data locations, or a
/// member of a group it names (`UAE`).
fn geography_kept(geo: &Geography, geos: &[String]) -> bool {
    geo.as_str() == "WW" || geo.is_gov() || geos.iter().any(|g| Geography::parse(g).covers(geo))
}

/// The catalog's self-contradicting rows that concern this site.
pub fn inconsistencies(catalog: &Catalog, site: &Site) -> Vec<crate::model::Inconsistency> {
    let geos: Vec<Geography> = geographies(site)
        .iter()
        .map(|g| Geography::parse(g))
        .collect();
    catalog
        .inconsistencies
        .iter()
        .filter(|i| i.concerns(site.scope.cloud, &geos))
        .cloned()
        .collect()
}

/// Kept when the row names no OS, or says Yes (or Yes*) for one of the
/// site's operating systems.
fn os_kept(e: &Endpoint, site: &Site) -> bool {
    let yes = |f: &OsFlag| matches!(f, OsFlag::Yes | OsFlag::Conditional);
    if !e.os.values().any(yes) {
        return true;
    }
    site.scope.os.iter().any(|os| e.os.get(os).is_some_and(yes))
}

/// The ruleset's own `[[allow]]` entries.
pub fn ruleset_allows(site: &Site) -> Vec<Candidate> {
    let file = ruleset_file(site);
    site.allow
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            // Validated when the ruleset was read; a failure here cannot
            // happen, and would only drop the entry.
            let entry = parse_entry(a.url.as_str()).ok()?;
            let mut ports: std::collections::BTreeSet<u16> = a.ports.iter().map(|p| p.0).collect();
            if ports.is_empty() {
                ports.extend(entry.explicit_port.or(entry.scheme_port).or(Some(443)));
            }
            Some(Candidate {
                host: entry.host,
                path: entry.path,
                ports,
                route: if a.direct { Via::Direct } else { Via::Proxy },
                tls: TlsHandling::Unspecified,
                products: Default::default(),
                required: Requirement::Required,
                notes: a.comment.iter().cloned().collect(),
                provenance: vec![Provenance {
                    file: file.clone(),
                    sheet: Some("allow".to_string()),
                    row: Some(i as u32 + 1),
                    ..Default::default()
                }],
            })
        })
        .collect()
}

pub(crate) fn ruleset_file(site: &Site) -> String {
    site.file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ruleset".to_string())
}

/// Removes candidates an `exclude` pattern covers. An exclude that lies
/// inside an allowed wildcard cannot be carved out of it, and one that
/// matches nothing is likely a typo: both are reported.
pub fn apply_excludes(
    candidates: Vec<Candidate>,
    site: &Site,
    report: &mut PolicyReport,
) -> Vec<Candidate> {
    let excludes: Vec<_> = site
        .exclude
        .iter()
        .filter_map(|x| parse_pattern(x.as_str()).ok())
        .collect();
    let mut used = vec![false; excludes.len()];
    let mut kept = Vec::new();
    for c in candidates {
        match excludes.iter().position(|x| covers(x, &c.host)) {
            Some(i) => {
                used[i] = true;
                report.filtered.push(Filtered {
                    host: c.host.to_string(),
                    path: c.path.clone(),
                    reason: format!("excluded by the ruleset ({})", excludes[i]),
                    provenance: c.provenance.clone(),
                });
            }
            None => kept.push(c),
        }
    }
    for (x, _) in excludes.iter().zip(&used).filter(|(_, used)| !**used) {
        let inside = kept.iter().find(|c| covers(&c.host, x));
        report.unapplied_excludes.push(match inside {
            Some(c) => format!(
                "{x} lies inside the allowed {}: it cannot be carved out",
                c.host
            ),
            None => format!("{x} matches nothing in scope"),
        });
    }
    kept
}
