//! Azure Firewall Policy rule collection groups, as an ARM template, the
//! same as Bicep, and an `az network firewall policy rule-collection-group`
//! script. Three filter collections per policy, in priority order:
//! must-not-inspect application rules (`terminateTLS: false`), the allowed
//! FQDNs, then network rules to service tags or prefixes.
//!
//! Azure's limits are checked before anything is written: at most 2 MB per
//! rule collection group (rules are spread over more groups when that
//! helps), at most 60 groups, at most 20,000 source/destination
//! combinations in network rules.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{
    Backend, BackendError, Capabilities, LossEntry, LossReport, Outcome, OutputOptions, Rendered,
    header_lines, safe_name,
};
use crate::model::HostPattern;
use crate::policy::{Policy, PolicyEntry};
use crate::ruleset::AzureFirewallOutput;

const NAME: &str = "azure-firewall";
pub const API_VERSION: &str = "2025-07-01";
pub const MAX_GROUP_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_GROUPS: usize = 60;
pub const MAX_NETWORK_COMBINATIONS: usize = 20_000;
/// FQDNs per application rule, to keep rules readable in the portal.
const FQDNS_PER_RULE: usize = 500;
/// Real Azure service tags a network rule can name.
const AZURE_TAG_PREFIXES: [&str; 3] = [
    "AzureAdvancedThreatProtection",
    "MicrosoftDefenderForEndpoint",
    "OneDsCollector",
];

pub struct AzureFirewall {
    cfg: AzureFirewallOutput,
}

impl AzureFirewall {
    pub fn new(cfg: AzureFirewallOutput) -> Self {
        AzureFirewall { cfg }
    }
}

/// `*.x` for Subdomains, `x` and `*.x` for Domain, `*x` for a suffix glob
/// (Azure's leading `*` matches any prefix, like the glob).
pub fn target_fqdns(host: &HostPattern, name: &str) -> Vec<String> {
    match host {
        HostPattern::Exact(_) => vec![name.to_string()],
        HostPattern::Subdomains(_) => vec![format!("*.{name}")],
        HostPattern::Domain(_) => vec![name.to_string(), format!("*.{name}")],
        HostPattern::SuffixGlob(_) => vec![format!("*{name}")],
        HostPattern::Template(_) => Vec::new(),
    }
}

/// One collection before it is packed into groups.
struct Collection {
    name: &'static str,
    priority: u32,
    rules: Vec<Value>,
}

fn err(message: String) -> BackendError {
    BackendError {
        backend: NAME,
        message,
    }
}

impl Backend for AzureFirewall {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            exact: true,
            subdomains: true,
            domain: true,
            suffix_glob: true,
            paths: false,
            prefixes: true,
        }
    }

    fn render(&self, policy: &Policy, _opts: &OutputOptions) -> Result<Rendered, BackendError> {
        let sources: Vec<String> = self
            .cfg
            .source_addresses
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut loss = Vec::new();
        let no_inspect = self.no_inspect_rules(policy, &sources, &mut loss)?;
        let allow = self.allow_rules(policy, &sources, &mut loss)?;
        let network = self.network_rules(policy, &sources)?;
        let base = self.cfg.collection_priority.0 as u32;
        if base + 200 > 65000 {
            return Err(err(format!(
                "collection_priority {base}: the network collection at +200 would pass 65000"
            )));
        }
        let collections = vec![
            Collection {
                name: "egressgen-no-inspect",
                priority: base,
                rules: no_inspect,
            },
            Collection {
                name: "egressgen-allow-fqdns",
                priority: base + 100,
                rules: allow,
            },
            Collection {
                name: "egressgen-allow-network",
                priority: base + 200,
                rules: network,
            },
        ];
        let groups = pack(collections)?;
        if self.cfg.group_priority.0 as usize + groups.len() > 65000 {
            return Err(err("group priorities would pass 65000".to_string()));
        }
        if groups.len() > MAX_GROUPS {
            return Err(err(format!(
                "the rules need {} rule collection groups, above Azure Firewall's {MAX_GROUPS} per policy",
                groups.len()
            )));
        }
        let resources: Vec<Value> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                json!({
                    "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
                    "apiVersion": API_VERSION,
                    "name": format!("[concat(parameters('firewallPolicyName'), '/{}-{}')]", self.cfg.group_name, i + 1),
                    "properties": {
                        "priority": self.cfg.group_priority.0 as u32 + i as u32,
                        "ruleCollections": g
                    }
                })
            })
            .collect();
        let header = header_lines(policy, "Azure Firewall policy rule collection groups");
        let template = json!({
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "metadata": { "generator": header },
            "parameters": {
                "firewallPolicyName": {
                    "type": "string",
                    "metadata": { "description": "Name of the existing firewall policy" }
                }
            },
            "resources": resources
        });
        let mut rendered = Rendered {
            loss: LossReport {
                backend: NAME.to_string(),
                entries: loss,
            },
            ..Default::default()
        };
        let mut arm = serde_json::to_string_pretty(&template).map_err(|e| err(e.to_string()))?;
        arm.push('\n');
        rendered
            .files
            .insert("azure-firewall.json".into(), arm.into_bytes());
        rendered.files.insert(
            "azure-firewall.bicep".into(),
            bicep(
                &header,
                &self.cfg.group_name.to_string(),
                &groups,
                self.cfg.group_priority.0 as u32,
            )
            .into_bytes(),
        );
        rendered.files.insert(
            "azure-firewall.sh".into(),
            az_script(
                &header,
                &self.cfg.group_name.to_string(),
                &groups,
                self.cfg.group_priority.0 as u32,
            )
            .into_bytes(),
        );
        Ok(rendered)
    }
}

impl AzureFirewall {
    /// Must-not-inspect hosts: allowed with `terminateTLS: false`, ahead
    /// of every inspecting rule.
    fn no_inspect_rules(
        &self,
        policy: &Policy,
        sources: &[String],
        loss: &mut Vec<LossEntry>,
    ) -> Result<Vec<Value>, BackendError> {
        let mut fqdns = Vec::new();
        for t in &policy.tls.bypass {
            let name = safe_name(NAME, &t.host)?;
            let targets = target_fqdns(&t.host, name);
            loss.push(LossEntry::for_host(
                &t.host,
                Outcome::Exact,
                targets
                    .iter()
                    .map(|f| format!("egressgen-no-inspect: {f}"))
                    .collect(),
                "",
            ));
            fqdns.extend(targets);
        }
        Ok(app_rules(
            "no-inspect",
            &fqdns,
            &[("Https", 443)],
            sources,
            Some(false),
        ))
    }

    fn allow_rules(
        &self,
        policy: &Policy,
        sources: &[String],
        loss: &mut Vec<LossEntry>,
    ) -> Result<Vec<Value>, BackendError> {
        let (mut https, mut http) = (BTreeSet::new(), BTreeSet::new());
        for e in &policy.entries {
            loss.push(express(e, &mut https, &mut http)?);
        }
        let https: Vec<String> = https.into_iter().collect();
        let http: Vec<String> = http.into_iter().collect();
        let mut rules = app_rules("https", &https, &[("Https", 443)], sources, None);
        rules.extend(app_rules("http", &http, &[("Http", 80)], sources, None));
        Ok(rules)
    }

    /// Service tags by name where Azure knows the tag, prefixes otherwise.
    fn network_rules(
        &self,
        policy: &Policy,
        sources: &[String],
    ) -> Result<Vec<Value>, BackendError> {
        let mut rules = Vec::new();
        let mut combinations = 0usize;
        for t in &policy.prefixes.tags {
            let known = AZURE_TAG_PREFIXES.contains(&t.tag.split('.').next().unwrap_or(""));
            let destinations: Vec<String> = if known && self.cfg.use_service_tags {
                vec![t.tag.clone()]
            } else {
                t.ipv4
                    .iter()
                    .map(|n| n.to_string())
                    .chain(t.ipv6.iter().map(|n| n.to_string()))
                    .collect()
            };
            combinations += destinations.len() * sources.len().max(1);
            let name: String = t
                .tag
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            rules.push(json!({
                "ruleType": "NetworkRule",
                "name": format!("egressgen-{name}"),
                "ipProtocols": ["TCP"],
                "sourceAddresses": sources,
                "destinationAddresses": destinations,
                "destinationPorts": ["443", "80"]
            }));
        }
        if combinations > MAX_NETWORK_COMBINATIONS {
            return Err(err(format!(
                "network rules need {combinations} source/destination combinations, above Azure Firewall's {MAX_NETWORK_COMBINATIONS}: use service tags (use_service_tags = true) or fewer source addresses"
            )));
        }
        Ok(rules)
    }
}

/// An allow entry into the Https and Http FQDN lists.
fn express(
    e: &PolicyEntry,
    https: &mut BTreeSet<String>,
    http: &mut BTreeSet<String>,
) -> Result<LossEntry, BackendError> {
    let name = safe_name(NAME, &e.host)?;
    let targets = target_fqdns(&e.host, name);
    let mut expressed = Vec::new();
    let mut why = Vec::new();
    let mut outcome = Outcome::Exact;
    for &port in &e.ports {
        let list = match port {
            443 => &mut *https,
            80 => &mut *http,
            other => {
                why.push(format!(
                    "port {other}: application rules here carry Http:80 and Https:443 only"
                ));
                outcome = outcome.max(Outcome::Narrowed);
                continue;
            }
        };
        for t in &targets {
            list.insert(t.clone());
            expressed.push(format!(
                "{} {t}",
                if port == 443 { "Https:443" } else { "Http:80" }
            ));
        }
    }
    if let Some(p) = &e.path {
        why.push(format!(
            "targetUrls need TLS inspection: {p} widened to the whole host"
        ));
        outcome = outcome.max(Outcome::Broadened);
    }
    if expressed.is_empty() {
        outcome = Outcome::Dropped;
    }
    Ok(LossEntry::new(e, outcome, expressed, &why.join("; ")))
}

fn app_rules(
    kind: &str,
    fqdns: &[String],
    protocols: &[(&str, u16)],
    sources: &[String],
    terminate_tls: Option<bool>,
) -> Vec<Value> {
    let mut sorted = fqdns.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .chunks(FQDNS_PER_RULE)
        .enumerate()
        .map(|(i, chunk)| {
            let mut rule = json!({
                "ruleType": "ApplicationRule",
                "name": format!("egressgen-{kind}-{}", i + 1),
                "protocols": protocols.iter().map(|(t, p)| json!({"protocolType": t, "port": p})).collect::<Vec<_>>(),
                "sourceAddresses": sources,
                "targetFqdns": chunk
            });
            if let Some(tls) = terminate_tls {
                rule["terminateTLS"] = json!(tls);
            }
            rule
        })
        .collect()
}

/// Spreads the rules over as many groups as the 2 MB limit needs; each
/// group keeps the collections' names and priorities.
fn pack(collections: Vec<Collection>) -> Result<Vec<Vec<Value>>, BackendError> {
    let mut groups: Vec<Vec<Value>> = vec![Vec::new()];
    let mut size = 0usize;
    let margin = 4096;
    for c in collections {
        let mut current: Vec<Value> = Vec::new();
        for rule in c.rules {
            let rule_size = serde_json::to_string(&rule).map(|s| s.len()).unwrap_or(0) + 2;
            if rule_size + margin > MAX_GROUP_BYTES {
                return Err(err(format!(
                    "one rule alone is {rule_size} bytes, above the {MAX_GROUP_BYTES}-byte rule collection group limit"
                )));
            }
            if size + rule_size + margin > MAX_GROUP_BYTES {
                if !current.is_empty() {
                    groups.last_mut().expect("one group").push(collection(
                        c.name,
                        c.priority,
                        std::mem::take(&mut current),
                    ));
                }
                groups.push(Vec::new());
                size = 0;
            }
            size += rule_size;
            current.push(rule);
        }
        if !current.is_empty() {
            groups
                .last_mut()
                .expect("one group")
                .push(collection(c.name, c.priority, current));
            size += 512;
        }
    }
    groups.retain(|g| !g.is_empty());
    Ok(groups)
}

fn collection(name: &str, priority: u32, rules: Vec<Value>) -> Value {
    json!({
        "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
        "name": name,
        "priority": priority,
        "action": { "type": "Allow" },
        "rules": rules
    })
}

/// A Bicep literal for a JSON value (keys are identifiers, strings are
/// single-quoted with `'`, `\` and `${` escaped).
fn bicep_value(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!(
            "'{}'",
            s.replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace("${", "\\${")
        ),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Array(items) => {
            let body: Vec<String> = items
                .iter()
                .map(|i| format!("{pad}{}", bicep_value(i, indent + 1)))
                .collect();
            format!("[\n{}\n{end}]", body.join("\n"))
        }
        Value::Object(map) => {
            let body: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{pad}{k}: {}", bicep_value(v, indent + 1)))
                .collect();
            format!("{{\n{}\n{end}}}", body.join("\n"))
        }
    }
}

fn bicep(header: &[String], group_name: &str, groups: &[Vec<Value>], priority: u32) -> String {
    let mut out: String = header
        .iter()
        .map(|l| format!("// {}\n", crate::normalize::text::printable_ascii(l)))
        .collect();
    out.push_str(&format!(
        "\n@description('Name of the existing firewall policy')\nparam firewallPolicyName string\n\nresource policy 'Microsoft.Network/firewallPolicies@{API_VERSION}' existing = {{\n  name: firewallPolicyName\n}}\n"
    ));
    let mut previous: Option<String> = None;
    for (i, g) in groups.iter().enumerate() {
        let symbol = format!("group{}", i + 1);
        let props = json!({ "priority": priority + i as u32, "ruleCollections": g });
        // Groups of one policy are deployed one after another.
        let depends = previous
            .as_ref()
            .map(|p| format!("  dependsOn: [\n    {p}\n  ]\n"))
            .unwrap_or_default();
        out.push_str(&format!(
            "\nresource {symbol} 'Microsoft.Network/firewallPolicies/ruleCollectionGroups@{API_VERSION}' = {{\n  parent: policy\n  name: '{group_name}-{}'\n{depends}  properties: {}\n}}\n",
            i + 1,
            bicep_value(&props, 1)
        ));
        previous = Some(symbol);
    }
    out
}

/// Single-quoted for the shell.
fn sh(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

fn az_script(header: &[String], group_name: &str, groups: &[Vec<Value>], priority: u32) -> String {
    let mut out = String::from("#!/bin/sh\n");
    out.extend(header.iter().map(|l| format!("# {l}\n")));
    out.push_str("# Usage: RESOURCE_GROUP=... POLICY_NAME=... sh azure-firewall.sh\nset -eu\n: \"${RESOURCE_GROUP:?set RESOURCE_GROUP}\"\n: \"${POLICY_NAME:?set POLICY_NAME}\"\nP='--resource-group '\"$RESOURCE_GROUP\"' --policy-name '\"$POLICY_NAME\"\n\n");
    for (i, g) in groups.iter().enumerate() {
        let rcg = format!("{group_name}-{}", i + 1);
        out.push_str(&format!(
            "az network firewall policy rule-collection-group create $P --name {} --priority {}\n",
            sh(&rcg),
            priority + i as u32
        ));
        for c in g {
            let cname = c["name"].as_str().unwrap_or("");
            let cprio = c["priority"].as_u64().unwrap_or(0);
            let rules = c["rules"].as_array().cloned().unwrap_or_default();
            for (j, r) in rules.iter().enumerate() {
                let head = if j == 0 {
                    format!(
                        "az network firewall policy rule-collection-group collection add-filter-collection $P --rule-collection-group-name {} --name {} --collection-priority {cprio} --action Allow --rule-name",
                        sh(&rcg),
                        sh(cname)
                    )
                } else {
                    format!(
                        "az network firewall policy rule-collection-group collection rule add $P --rule-collection-group-name {} --collection-name {} --name",
                        sh(&rcg),
                        sh(cname)
                    )
                };
                out.push_str(&format!(
                    "{head} {}{}\n",
                    sh(r["name"].as_str().unwrap_or("")),
                    rule_args(r)
                ));
            }
        }
        out.push('\n');
    }
    out
}

fn rule_args(r: &Value) -> String {
    let list = |key: &str| -> String {
        r[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(sh)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let mut args = format!(" --rule-type {}", r["ruleType"].as_str().unwrap_or(""));
    args.push_str(&format!(" --source-addresses {}", list("sourceAddresses")));
    if r["ruleType"] == "ApplicationRule" {
        let protocols: Vec<String> = r["protocols"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| format!("{}={}", p["protocolType"].as_str().unwrap_or(""), p["port"]))
                    .collect()
            })
            .unwrap_or_default();
        args.push_str(&format!(
            " --protocols {} --target-fqdns {}",
            protocols.join(" "),
            list("targetFqdns")
        ));
        if let Some(tls) = r["terminateTLS"].as_bool() {
            args.push_str(&format!(" --enable-tls-inspection {tls}"));
        }
    } else {
        args.push_str(&format!(
            " --ip-protocols TCP --destination-addresses {} --destination-ports {}",
            list("destinationAddresses"),
            list("destinationPorts")
        ));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_forms() {
        let h = |t: &str| crate::normalize::host::parse_pattern(t).unwrap();
        assert_eq!(target_fqdns(&h("*.x.com"), "x.com"), ["*.x.com"]);
        assert_eq!(target_fqdns(&h(".x.com"), "x.com"), ["x.com", "*.x.com"]);
        assert_eq!(target_fqdns(&h("a.x.com"), "a.x.com"), ["a.x.com"]);
    }

    #[test]
    fn bicep_strings_are_escaped() {
        assert_eq!(bicep_value(&json!("a'b\\c${d}"), 0), "'a\\'b\\\\c\\${d}'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
