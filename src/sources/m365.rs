//! The Microsoft 365 IP address and URL web service's JSON.
//!
//! Microsoft 365 "IP Address and URL web service" JSON
//! (`endpoints.office.com/endpoints/<instance>`): an array of endpoint sets
//! with `urls`, `ips`, `tcpPorts`, `category` and `required`.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::ReadOptions;
use super::file::{Collected, SourceFile, finish_source, parse_json};
use crate::error::Result;
use crate::model::prefix::parse_prefix;
use crate::model::text::{display_escape, non_blank};
use crate::model::{
    Catalog, Cloud, Endpoint, Geography, Prefix, Product, Provenance, Rejected, Requirement,
    SourceKind, TlsHandling, Via,
};
use crate::normalize::cell::parse_ports;
use crate::normalize::url_cell::parse_entry;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointSet {
    id: u64,
    service_area: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    ips: Vec<String>,
    #[serde(default)]
    tcp_ports: Option<String>,
    #[serde(default)]
    udp_ports: Option<String>,
    #[serde(default)]
    category: Option<String>,
    required: bool,
    #[serde(default)]
    notes: Option<String>,
}

/// The service instance is not in the response; the file name usually
/// says it (`..._usgov_dod.json`, `USGovGCCHigh`).
fn clouds_from_name(name: &str) -> BTreeSet<Cloud> {
    let key: String = name
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if key.contains("dod") {
        [Cloud::Dod].into()
    } else if key.contains("gcchigh") {
        [Cloud::GccHigh].into()
    } else {
        [Cloud::Commercial].into()
    }
}

/// The service area as a safe identifier for a prefix group name.
fn area_key(area: &str) -> String {
    let key: String = area
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    if key.is_empty() {
        "other".to_string()
    } else {
        key
    }
}

pub fn read(src: &SourceFile, opts: &ReadOptions) -> Result<Catalog> {
    let sets: Vec<EndpointSet> = parse_json(src)?;
    let clouds = clouds_from_name(&src.name);
    let mut out = Collected::default();
    let mut prefixes = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let at = |field: &str, j: usize| Provenance {
            file: src.name.clone(),
            json_path: Some(format!("$[{i}].{field}[{j}]")),
            ..Default::default()
        };
        let reject = |out: &mut Collected, provenance, value: &str, code: &str, reason: String| {
            out.rejected.push(Rejected {
                provenance,
                value: display_escape(value),
                code: code.to_string(),
                reason,
                tag: None,
            })
        };
        let ports_text = set.tcp_ports.as_deref().unwrap_or("");
        let ports = match parse_ports(ports_text) {
            Ok(p) => p,
            Err(why) => {
                let provenance = Provenance {
                    file: src.name.clone(),
                    json_path: Some(format!("$[{i}].tcpPorts")),
                    ..Default::default()
                };
                reject(&mut out, provenance, ports_text, "port", why);
                continue;
            }
        };
        let mut notes = Vec::new();
        if let Some(udp) = set.udp_ports.as_deref().and_then(non_blank) {
            notes.push(format!("UDP ports {udp} not carried (TCP only)"));
        }
        for (j, url) in set.urls.iter().enumerate() {
            match parse_entry(url.trim()) {
                Ok(entry) if !ports.is_empty() => out.endpoints.push(Endpoint {
                    host: entry.host,
                    path: entry.path,
                    ports: ports.clone(),
                    product: Product::M365,
                    service: Some(set.service_area.clone()),
                    clouds: clouds.clone(),
                    geography: Geography::worldwide(),
                    os: Default::default(),
                    required: if set.required {
                        Requirement::Required
                    } else {
                        Requirement::Optional
                    },
                    category: set.category.clone(),
                    description: Some(format!("endpoint set {}", set.id)),
                    comments: set.notes.clone(),
                    tls: TlsHandling::Unspecified,
                    route: Via::Proxy,
                    notes: notes.clone(),
                    provenance: vec![at("urls", j)],
                }),
                Ok(_) => reject(
                    &mut out,
                    at("urls", j),
                    url,
                    "port",
                    "endpoint set has no TCP port".to_string(),
                ),
                Err(e) => reject(&mut out, at("urls", j), url, e.code(), e.to_string()),
            }
        }
        for (j, ip) in set.ips.iter().enumerate() {
            match parse_prefix(ip, &opts.prefix_rules) {
                Ok(net) => prefixes.push(Prefix {
                    net,
                    tag: format!("m365/{}/{}", area_key(&set.service_area), set.id),
                    region: None,
                    change_number: None,
                    clouds: clouds.clone(),
                    product: Some(Product::M365),
                    provenance: at("ips", j),
                }),
                Err(e) => reject(&mut out, at("ips", j), ip, e.code(), e.to_string()),
            }
        }
    }
    let mut catalog = finish_source(src, SourceKind::M365, out);
    catalog.prefixes = prefixes;
    catalog.sources[0].cloud = Some(
        clouds
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    Ok(catalog)
}
