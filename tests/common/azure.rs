//! The Azure Firewall template checked as Azure would: each rule
//! collection group against the ARM schema (../shared/data/azure-schemas,
//! its URIs mapped to the local files) plus a strict key check of ours,
//! since the schema lets a misspelled key through.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::data;

/// The ARM schema's rule collection group definition, with its two URIs
/// mapped to the files in ../shared/data/azure-schemas.
pub fn arm_validator() -> jsonschema::Validator {
    struct Local;
    impl jsonschema::Retrieve for Local {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            let file = match uri.as_str().trim_end_matches('#') {
                "https://schema.management.azure.com/schemas/2025-07-01/Microsoft.Network.NRP.json" => {
                    "Microsoft.Network.NRP.2025-07-01.json"
                }
                "https://schema.management.azure.com/schemas/common/definitions.json" => {
                    "common-definitions.json"
                }
                other => return Err(format!("no local copy of {other}").into()),
            };
            Ok(serde_json::from_slice(&std::fs::read(
                data("azure-schemas").join(file),
            )?)?)
        }
    }
    let schema = serde_json::json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$ref": "https://schema.management.azure.com/schemas/2025-07-01/Microsoft.Network.NRP.json#/resourceDefinitions/firewallPolicies_ruleCollectionGroups"
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_retriever(Local)
        .build(&schema)
        .expect("ARM schema compiles")
}

/// Keys the template may use at each level: the ARM schema lets a
/// misspelled key through, this does not.
pub fn strict_keys(v: &Value, path: &str, errors: &mut Vec<String>) {
    let allowed: &[&str] = match path {
        "resource" => &["type", "apiVersion", "name", "properties"],
        "group" => &["priority", "ruleCollections"],
        "collection" => &["ruleCollectionType", "name", "priority", "action", "rules"],
        "action" => &["type"],
        "ApplicationRule" => &[
            "ruleType",
            "name",
            "protocols",
            "sourceAddresses",
            "targetFqdns",
            "terminateTLS",
        ],
        "NetworkRule" => &[
            "ruleType",
            "name",
            "ipProtocols",
            "sourceAddresses",
            "destinationAddresses",
            "destinationPorts",
        ],
        "protocol" => &["protocolType", "port"],
        _ => &[],
    };
    let Some(map) = v.as_object() else { return };
    for (k, child) in map {
        if !allowed.contains(&k.as_str()) {
            errors.push(format!("{path}: unexpected key {k}"));
        }
        match (path, k.as_str()) {
            ("resource", "properties") => strict_keys(child, "group", errors),
            ("group", "ruleCollections") => child
                .as_array()
                .into_iter()
                .flatten()
                .for_each(|c| strict_keys(c, "collection", errors)),
            ("collection", "action") => strict_keys(child, "action", errors),
            ("collection", "rules") => child.as_array().into_iter().flatten().for_each(|r| {
                let kind = r["ruleType"].as_str().unwrap_or("?");
                strict_keys(r, kind, errors)
            }),
            ("ApplicationRule", "protocols") => child
                .as_array()
                .into_iter()
                .flatten()
                .for_each(|p| strict_keys(p, "protocol", errors)),
            _ => {}
        }
    }
}

pub fn check_arm(out: &Path) -> Value {
    let template: Value =
        serde_json::from_slice(&std::fs::read(out.join("azure-firewall.json")).unwrap()).unwrap();
    let validator = arm_validator();
    for resource in template["resources"].as_array().unwrap() {
        let errors: Vec<String> = validator
            .iter_errors(resource)
            .take(5)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let mut strict = Vec::new();
        strict_keys(resource, "resource", &mut strict);
        assert!(strict.is_empty(), "{strict:#?}");
        let size = serde_json::to_string(&resource["properties"])
            .unwrap()
            .len();
        assert!(size <= 2 * 1024 * 1024, "group of {size} bytes");
    }
    template
}

pub fn collections(template: &Value) -> Vec<Value> {
    template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["properties"]["ruleCollections"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect()
}

pub fn fqdns(template: &Value, collection: &str) -> BTreeSet<String> {
    collections(template)
        .iter()
        .filter(|c| c["name"] == collection)
        .flat_map(|c| c["rules"].as_array().unwrap().clone())
        .flat_map(|r| r["targetFqdns"].as_array().cloned().unwrap_or_default())
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}
