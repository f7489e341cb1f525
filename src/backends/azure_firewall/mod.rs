//! Azure Firewall policy rule collection groups: ARM template, Bicep and an `az` script.
//!
//! Azure Firewall Policy rule collection groups, as an ARM template, the
//! same as Bicep, and an `az network firewall policy rule-collection-group`
//! script, all written from one typed model of the rules. Three filter
//! collections per policy, in priority order: must-not-inspect application
//! rules (`terminateTLS: false`), the allowed FQDNs, then network rules to
//! service tags or prefixes.
//!
//! Azure's limits are checked before anything is written: at most 2 MB per
//! rule collection group (rules are spread over more groups when that
//! helps), at most 60 groups, at most 20,000 source/destination
//! combinations in network rules.

pub mod read;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::caps::{Caps, HostCaps, Paths, Ports, Support};
use super::loss::{plan, plan_bypass};
use super::spelling::{Syntax, spell};
use super::{
    Backend, BackendError, LossEntry, LossReport, Registered, Rendered, header_lines, safe_name,
};
use crate::policy::Policy;
use crate::values::{Cidr, Identifier};

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

/// `[outputs.azure_firewall]`: Azure Firewall Policy rule collection groups.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Groups are named `<group_name>-1`, `-2`, ...
    #[serde(default = "az_group_name")]
    pub group_name: Identifier,
    /// Priority of the first group (100-65000); later groups follow.
    #[serde(default = "az_group_priority")]
    pub group_priority: Priority,
    /// Priority of the no-inspect collection; the FQDN and network
    /// collections follow at +100 and +200.
    #[serde(default = "az_collection_priority")]
    pub collection_priority: Priority,
    /// `sourceAddresses` of every rule.
    #[serde(default = "az_sources")]
    pub source_addresses: Vec<AzureSource>,
    /// Network rules name the service tag instead of listing prefixes.
    #[serde(default = "crate::values::yes")]
    pub use_service_tags: bool,
}

fn az_group_name() -> Identifier {
    Identifier::fixed("egressgen")
}

fn az_group_priority() -> Priority {
    Priority(500)
}

fn az_collection_priority() -> Priority {
    Priority(100)
}

fn az_sources() -> Vec<AzureSource> {
    vec![AzureSource::fixed("*")]
}

/// A priority of Azure Firewall Policy: 100 to 65000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Priority(pub u16);

impl TryFrom<i64> for Priority {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, String> {
        if (100..=65000).contains(&value) {
            Ok(Priority(value as u16))
        } else {
            Err(format!("priority {value} is not 100-65000"))
        }
    }
}

crate::checked_string!(
    /// An Azure Firewall source address: `*` or a network.
    AzureSource,
    |s| {
        if s == "*" {
            Ok(s.to_string())
        } else {
            Cidr::try_from(s.to_string()).map(String::from)
        }
    }
);

pub struct AzureFirewall {
    cfg: Settings,
}

impl Registered for AzureFirewall {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "Azure Firewall Policy rule collection groups: ARM template, Bicep and an az script";
    const READER: Option<crate::backends::reader::Reader> = Some(crate::backends::reader::Reader {
        kind: "azure-firewall",
        recognise: read::recognise,
        read: read::read,
    });
    fn new(cfg: Settings) -> Self {
        AzureFirewall { cfg }
    }
}

const CAPS: Caps = Caps {
    hosts: HostCaps::EXACT,
    paths: Paths::Widened("targetUrls need TLS inspection: {path} widened to the whole host"),
    ports: Ports::Only {
        ports: &[80, 443],
        why: "port {port}: application rules here carry Http:80 and Https:443 only",
    },
    proxy_route: Support::Exact,
    direct_route: Support::Exact,
    prefixes: true,
    tls_bypass: Some(HostCaps::EXACT),
};

/// An application rule's protocol.
#[derive(Clone, Debug, Serialize)]
struct Protocol {
    port: u16,
    #[serde(rename = "protocolType")]
    protocol_type: &'static str,
}

/// One rule, as the ARM schema names its fields.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "ruleType")]
enum Rule {
    #[serde(rename = "ApplicationRule", rename_all = "camelCase")]
    Application {
        name: String,
        protocols: Vec<Protocol>,
        source_addresses: Vec<String>,
        target_fqdns: Vec<String>,
        #[serde(rename = "terminateTLS", skip_serializing_if = "Option::is_none")]
        terminate_tls: Option<bool>,
    },
    #[serde(rename = "NetworkRule", rename_all = "camelCase")]
    Network {
        name: String,
        ip_protocols: Vec<&'static str>,
        source_addresses: Vec<String>,
        destination_addresses: Vec<String>,
        destination_ports: Vec<String>,
    },
}

impl Rule {
    fn name(&self) -> &str {
        match self {
            Rule::Application { name, .. } | Rule::Network { name, .. } => name,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
struct Action {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A filter rule collection.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Collection {
    rule_collection_type: &'static str,
    name: &'static str,
    priority: u32,
    action: Action,
    rules: Vec<Rule>,
}

impl Collection {
    fn new(name: &'static str, priority: u32, rules: Vec<Rule>) -> Self {
        Collection {
            rule_collection_type: "FirewallPolicyFilterRuleCollection",
            name,
            priority,
            action: Action { kind: "Allow" },
            rules,
        }
    }
}

/// The properties of one rule collection group.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupProperties {
    priority: u32,
    rule_collections: Vec<Collection>,
}

fn err(message: String) -> BackendError {
    BackendError {
        backend: NAME,
        message,
    }
}

/// Plain data always serializes; sorted keys keep the output stable.
fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl Backend for AzureFirewall {
    fn name(&self) -> &'static str {
        NAME
    }

    fn caps(&self) -> Caps {
        CAPS
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let sources: Vec<String> = self
            .cfg
            .source_addresses
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut loss = Vec::new();
        let no_inspect = no_inspect_rules(policy, &sources, &mut loss)?;
        let allow = allow_rules(policy, &sources, &mut loss)?;
        let network = self.network_rules(policy, &sources)?;
        let base = self.cfg.collection_priority.0 as u32;
        if base + 200 > 65000 {
            return Err(err(format!(
                "collection_priority {base}: the network collection at +200 would pass 65000"
            )));
        }
        let collections = vec![
            Collection::new("egressgen-no-inspect", base, no_inspect),
            Collection::new("egressgen-allow-fqdns", base + 100, allow),
            Collection::new("egressgen-allow-network", base + 200, network),
        ];
        let first = self.cfg.group_priority.0 as u32;
        let groups: Vec<GroupProperties> = pack(collections)?
            .into_iter()
            .enumerate()
            .map(|(i, rule_collections)| GroupProperties {
                priority: first + i as u32,
                rule_collections,
            })
            .collect();
        if first as usize + groups.len() > 65000 {
            return Err(err("group priorities would pass 65000".to_string()));
        }
        if groups.len() > MAX_GROUPS {
            return Err(err(format!(
                "the rules need {} rule collection groups, above Azure Firewall's {MAX_GROUPS} per policy",
                groups.len()
            )));
        }
        let header = header_lines(policy, "Azure Firewall policy rule collection groups");
        let group_name = self.cfg.group_name.to_string();
        let mut rendered = Rendered {
            loss: LossReport {
                backend: NAME.to_string(),
                entries: loss,
            },
            ..Default::default()
        };
        let f = &mut rendered.files;
        f.insert(
            "azure-firewall.json".into(),
            arm(&header, &group_name, &groups)?.into_bytes(),
        );
        f.insert(
            "azure-firewall.bicep".into(),
            bicep(&header, &group_name, &groups).into_bytes(),
        );
        f.insert(
            "azure-firewall.sh".into(),
            az_script(&header, &group_name, &groups).into_bytes(),
        );
        Ok(rendered)
    }
}

/// Must-not-inspect hosts: allowed with `terminateTLS: false`, ahead of
/// every inspecting rule.
fn no_inspect_rules(
    policy: &Policy,
    sources: &[String],
    loss: &mut Vec<LossEntry>,
) -> Result<Vec<Rule>, BackendError> {
    let mut fqdns = Vec::new();
    for t in &policy.tls.bypass {
        // `terminateTLS: false` application rules take every pattern kind.
        let (plan, write) = plan_bypass(t, &HostCaps::EXACT);
        let targets = if write {
            safe_name(NAME, &t.host)?;
            spell(Syntax::Glob, &t.host)
        } else {
            Vec::new()
        };
        let expressed = targets
            .iter()
            .map(|f| format!("egressgen-no-inspect: {f}"))
            .collect();
        loss.push(plan.bypass_entry(&t.host, expressed));
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

/// Allowed FQDNs, in an Https:443 and an Http:80 set.
fn allow_rules(
    policy: &Policy,
    sources: &[String],
    loss: &mut Vec<LossEntry>,
) -> Result<Vec<Rule>, BackendError> {
    let (mut https, mut http) = (BTreeSet::new(), BTreeSet::new());
    for e in &policy.entries {
        let plan = plan(e, &CAPS, &policy.prefixes);
        let mut expressed = Vec::new();
        if !plan.writes.is_empty() {
            safe_name(NAME, &e.host)?;
        }
        for &(port, _) in &plan.writes {
            let (list, label) = if port == 443 {
                (&mut https, "Https:443")
            } else {
                (&mut http, "Http:80")
            };
            for t in spell(Syntax::Glob, &e.host) {
                expressed.push(format!("{label} {t}"));
                list.insert(t);
            }
        }
        loss.push(plan.entry(e, expressed));
    }
    let https: Vec<String> = https.into_iter().collect();
    let http: Vec<String> = http.into_iter().collect();
    let mut rules = app_rules("https", &https, &[("Https", 443)], sources, None);
    rules.extend(app_rules("http", &http, &[("Http", 80)], sources, None));
    Ok(rules)
}

impl AzureFirewall {
    /// Service tags by name where Azure knows the tag, prefixes otherwise.
    fn network_rules(
        &self,
        policy: &Policy,
        sources: &[String],
    ) -> Result<Vec<Rule>, BackendError> {
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
            rules.push(Rule::Network {
                name: format!("egressgen-{name}"),
                ip_protocols: vec!["TCP"],
                source_addresses: sources.to_vec(),
                destination_addresses: destinations,
                destination_ports: vec!["443".to_string(), "80".to_string()],
            });
        }
        if combinations > MAX_NETWORK_COMBINATIONS {
            return Err(err(format!(
                "network rules need {combinations} source/destination combinations, above Azure Firewall's {MAX_NETWORK_COMBINATIONS}: use service tags (use_service_tags = true) or fewer source addresses"
            )));
        }
        Ok(rules)
    }
}

fn app_rules(
    kind: &str,
    fqdns: &[String],
    protocols: &[(&'static str, u16)],
    sources: &[String],
    terminate_tls: Option<bool>,
) -> Vec<Rule> {
    let mut sorted = fqdns.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .chunks(FQDNS_PER_RULE)
        .enumerate()
        .map(|(i, chunk)| Rule::Application {
            name: format!("egressgen-{kind}-{}", i + 1),
            protocols: protocols
                .iter()
                .map(|&(protocol_type, port)| Protocol {
                    port,
                    protocol_type,
                })
                .collect(),
            source_addresses: sources.to_vec(),
            target_fqdns: chunk.to_vec(),
            terminate_tls,
        })
        .collect()
}

/// Spreads the rules over as many groups as the 2 MB limit needs; each
/// group keeps the collections' names and priorities.
fn pack(collections: Vec<Collection>) -> Result<Vec<Vec<Collection>>, BackendError> {
    let mut groups: Vec<Vec<Collection>> = vec![Vec::new()];
    let mut size = 0usize;
    let margin = 4096;
    for c in collections {
        let mut current: Vec<Rule> = Vec::new();
        for rule in c.rules {
            let rule_size = serde_json::to_string(&rule).map(|s| s.len()).unwrap_or(0) + 2;
            if rule_size + margin > MAX_GROUP_BYTES {
                return Err(err(format!(
                    "one rule alone is {rule_size} bytes, above the {MAX_GROUP_BYTES}-byte rule collection group limit"
                )));
            }
            if size + rule_size + margin > MAX_GROUP_BYTES {
                if !current.is_empty() {
                    let rules = std::mem::take(&mut current);
                    if let Some(g) = groups.last_mut() {
                        g.push(Collection::new(c.name, c.priority, rules));
                    }
                }
                groups.push(Vec::new());
                size = 0;
            }
            size += rule_size;
            current.push(rule);
        }
        if !current.is_empty() {
            if let Some(g) = groups.last_mut() {
                g.push(Collection::new(c.name, c.priority, current));
            }
            size += 512;
        }
    }
    groups.retain(|g| !g.is_empty());
    Ok(groups)
}

/// The ARM template.
fn arm(
    header: &[String],
    group_name: &str,
    groups: &[GroupProperties],
) -> Result<String, BackendError> {
    let resources: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({
                "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
                "apiVersion": API_VERSION,
                "name": format!("[concat(parameters('firewallPolicyName'), '/{group_name}-{}')]", i + 1),
                "properties": to_value(g)
            })
        })
        .collect();
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
    let mut arm = serde_json::to_string_pretty(&template).map_err(|e| err(e.to_string()))?;
    arm.push('\n');
    Ok(arm)
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

fn bicep(header: &[String], group_name: &str, groups: &[GroupProperties]) -> String {
    let mut out: String = header
        .iter()
        .map(|l| format!("// {}\n", crate::model::text::printable_ascii(l)))
        .collect();
    out.push_str(&format!(
        "\n@description('Name of the existing firewall policy')\nparam firewallPolicyName string\n\nresource policy 'Microsoft.Network/firewallPolicies@{API_VERSION}' existing = {{\n  name: firewallPolicyName\n}}\n"
    ));
    let mut previous: Option<String> = None;
    for (i, g) in groups.iter().enumerate() {
        let symbol = format!("group{}", i + 1);
        let props = to_value(g);
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

fn sh_list(items: &[String]) -> String {
    items.iter().map(|i| sh(i)).collect::<Vec<_>>().join(" ")
}

fn az_script(header: &[String], group_name: &str, groups: &[GroupProperties]) -> String {
    let mut out = String::from("#!/bin/sh\n");
    out.extend(header.iter().map(|l| format!("# {l}\n")));
    out.push_str("# Usage: RESOURCE_GROUP=... POLICY_NAME=... sh azure-firewall.sh\nset -eu\n: \"${RESOURCE_GROUP:?set RESOURCE_GROUP}\"\n: \"${POLICY_NAME:?set POLICY_NAME}\"\nP='--resource-group '\"$RESOURCE_GROUP\"' --policy-name '\"$POLICY_NAME\"\n\n");
    for (i, g) in groups.iter().enumerate() {
        let rcg = format!("{group_name}-{}", i + 1);
        out.push_str(&format!(
            "az network firewall policy rule-collection-group create $P --name {} --priority {}\n",
            sh(&rcg),
            g.priority
        ));
        for c in &g.rule_collections {
            for (j, r) in c.rules.iter().enumerate() {
                let head = if j == 0 {
                    format!(
                        "az network firewall policy rule-collection-group collection add-filter-collection $P --rule-collection-group-name {} --name {} --collection-priority {} --action Allow --rule-name",
                        sh(&rcg),
                        sh(c.name),
                        c.priority
                    )
                } else {
                    format!(
                        "az network firewall policy rule-collection-group collection rule add $P --rule-collection-group-name {} --collection-name {} --name",
                        sh(&rcg),
                        sh(c.name)
                    )
                };
                out.push_str(&format!("{head} {}{}\n", sh(r.name()), rule_args(r)));
            }
        }
        out.push('\n');
    }
    out
}

fn rule_args(r: &Rule) -> String {
    match r {
        Rule::Application {
            protocols,
            source_addresses,
            target_fqdns,
            terminate_tls,
            ..
        } => {
            let protocols: Vec<String> = protocols
                .iter()
                .map(|p| format!("{}={}", p.protocol_type, p.port))
                .collect();
            let mut args = format!(
                " --rule-type ApplicationRule --source-addresses {} --protocols {} --target-fqdns {}",
                sh_list(source_addresses),
                protocols.join(" "),
                sh_list(target_fqdns)
            );
            if let Some(tls) = terminate_tls {
                args.push_str(&format!(" --enable-tls-inspection {tls}"));
            }
            args
        }
        Rule::Network {
            source_addresses,
            destination_addresses,
            destination_ports,
            ..
        } => format!(
            " --rule-type NetworkRule --source-addresses {} --ip-protocols TCP --destination-addresses {} --destination-ports {}",
            sh_list(source_addresses),
            sh_list(destination_addresses),
            sh_list(destination_ports)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bicep_strings_are_escaped() {
        assert_eq!(bicep_value(&json!("a'b\\c${d}"), 0), "'a\\'b\\\\c\\${d}'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
