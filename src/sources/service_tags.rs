//! Azure "IP Ranges and Service Tags" JSON, Public and Government clouds.
//!
//! Only the selected tags are kept: the Defender ones by default, plus any
//! the user names, each with its regional variants (`Name.Region`).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::ReadOptions;
use super::file::{Collected, SourceFile, finish_source, parse_json};
use crate::error::{Error, Result};
use crate::model::prefix::parse_prefix;
use crate::model::text::display_escape;
use crate::model::{
    Catalog, Cloud, Note, Prefix, Product, Provenance, Rejected, SourceKind, TagInfo,
};

/// Tags every Defender deployment needs.
pub const DEFAULT_TAGS: [&str; 3] = [
    "AzureAdvancedThreatProtection",
    "MicrosoftDefenderForEndpoint",
    "OneDsCollector",
];

#[derive(Deserialize)]
struct TagFile {
    #[serde(rename = "changeNumber")]
    change_number: u64,
    cloud: String,
    values: Vec<TagValue>,
}

#[derive(Deserialize)]
struct TagValue {
    name: String,
    properties: TagProperties,
}

#[derive(Deserialize)]
struct TagProperties {
    #[serde(rename = "changeNumber")]
    change_number: u64,
    #[serde(default)]
    region: Option<String>,
    #[serde(rename = "addressPrefixes")]
    address_prefixes: Vec<String>,
}

/// Whether `name` is one of `wanted` or a regional variant of one.
pub fn selected(name: &str, wanted: &BTreeSet<&str>) -> bool {
    let base = name.split('.').next().unwrap_or(name);
    wanted.contains(name) || wanted.contains(base)
}

pub fn read(src: &SourceFile, opts: &ReadOptions) -> Result<Catalog> {
    let file: TagFile = parse_json(src)?;
    let clouds: BTreeSet<Cloud> = match file.cloud.as_str() {
        "Public" => [Cloud::Commercial].into(),
        // Defender's GCC, GCC High and DoD services run in Azure Government.
        "AzureGovernment" => Cloud::GOV.into(),
        other => {
            return Err(Error::JsonShape {
                path: src.path.clone(),
                json_path: "$.cloud".to_string(),
                detail: format!(
                    "cloud {:?}: expected \"Public\" or \"AzureGovernment\"",
                    display_escape(other)
                ),
            });
        }
    };
    let mut wanted: BTreeSet<&str> = DEFAULT_TAGS.into_iter().collect();
    wanted.extend(opts.extra_tags.iter().map(String::as_str));

    let mut collected = Collected::default();
    let mut prefixes = Vec::new();
    let mut tags = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, value) in file.values.iter().enumerate() {
        if !selected(&value.name, &wanted) {
            continue;
        }
        // A selected tag's name reaches every output (alias names,
        // comments, the catalog table): it must be an identifier.
        if !crate::model::valid_tag_name(&value.name) {
            collected.rejected.push(Rejected {
                provenance: Provenance {
                    file: src.name.clone(),
                    json_path: Some(format!("$.values[{i}].name")),
                    ..Default::default()
                },
                value: display_escape(&value.name),
                code: "tag-name".to_string(),
                reason: "a service tag name is letters, digits and dots; the tag is skipped"
                    .to_string(),
                tag: Some(value.name.clone()),
            });
            continue;
        }
        seen.insert(value.name.clone());
        seen.insert(
            value
                .name
                .split('.')
                .next()
                .unwrap_or(&value.name)
                .to_string(),
        );
        let before = prefixes.len();
        for (j, text) in value.properties.address_prefixes.iter().enumerate() {
            let provenance = Provenance {
                file: src.name.clone(),
                json_path: Some(format!("$.values[{i}].properties.addressPrefixes[{j}]")),
                ..Default::default()
            };
            match parse_prefix(text, &opts.prefix_rules) {
                Ok(net) => prefixes.push(Prefix {
                    net,
                    tag: value.name.clone(),
                    region: value.properties.region.clone().filter(|r| !r.is_empty()),
                    change_number: Some(value.properties.change_number),
                    clouds: clouds.clone(),
                    product: product_of(&value.name),
                    provenance,
                }),
                Err(e) => collected.rejected.push(Rejected {
                    provenance,
                    value: display_escape(text),
                    code: e.code().to_string(),
                    reason: e.to_string(),
                    tag: Some(value.name.clone()),
                }),
            }
        }
        tags.push(TagInfo {
            name: value.name.clone(),
            change_number: value.properties.change_number,
            prefixes: prefixes.len() - before,
        });
    }
    for missing in wanted.iter().filter(|w| !seen.contains(**w)) {
        collected.notes.push(Note {
            provenance: Provenance {
                file: src.name.clone(),
                json_path: Some("$.values".to_string()),
                ..Default::default()
            },
            message: format!("service tag {missing} is not in this file"),
        });
    }
    let mut catalog = finish_source(src, SourceKind::ServiceTags, collected);
    catalog.prefixes = prefixes;
    let info = &mut catalog.sources[0];
    info.cloud = Some(file.cloud);
    info.change_number = Some(file.change_number);
    info.version = Some(format!("changeNumber {}", file.change_number));
    info.tags = tags;
    Ok(catalog)
}

fn product_of(tag: &str) -> Option<Product> {
    match tag.split('.').next().unwrap_or(tag) {
        "AzureAdvancedThreatProtection" => Some(Product::Mdi),
        "MicrosoftDefenderForEndpoint" | "OneDsCollector" => Some(Product::Mde),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_selection_includes_regional_variants() {
        let wanted: BTreeSet<&str> = ["AzureAdvancedThreatProtection"].into();
        assert!(selected("AzureAdvancedThreatProtection", &wanted));
        assert!(selected(
            "AzureAdvancedThreatProtection.WestEurope",
            &wanted
        ));
        assert!(!selected("AzureAdvancedThreatProtectionX", &wanted));
        assert!(!selected("AzureCloud", &wanted));
    }

    #[test]
    fn tag_names() {
        assert!(crate::model::valid_tag_name("AzureCloud.westeurope"));
        assert!(!crate::model::valid_tag_name("Azure Cloud"));
        assert!(!crate::model::valid_tag_name("x\"y"));
        assert!(!crate::model::valid_tag_name(""));
    }
}
