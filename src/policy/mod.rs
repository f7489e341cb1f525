//! Catalog + Site -> Policy: what one site must allow, routed and TLS-classified.
//!
//! What one site must allow, routed and TLS-classified, with every decision
//! reported. Every backend renders the same Policy.
//!
//! The steps, in order: scope filters ([`scope`]), placeholders
//! ([`placeholders`]), the ruleset's own allow and exclude entries,
//! collapse of covered and duplicate entries ([`collapse`]), TLS decisions
//! ([`tls`]), prefixes ([`prefixes`]).

pub mod collapse;
pub mod json;
pub mod matching;
pub mod placeholders;
pub mod prefixes;
pub mod scope;
pub mod tls;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{
    Catalog, HostPattern, Product, Provenance, Requirement, SourceInfo, TlsHandling, Via,
};
use crate::site::{Connectivity, Site};
use collapse::Candidate;

pub const POLICY_VERSION: u32 = 1;

/// The `format` field of `policy.json`: one value, so a reader refuses any
/// other JSON document before it looks further.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyFormat {
    #[default]
    #[serde(rename = "egressgen-policy")]
    EgressgenPolicy,
}

/// How a TLS conflict was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictDecision {
    /// `tls.conflict = never-bypass-wins`: the host stays inspected.
    NotBypassed,
    /// `tls.conflict = bypass-wins`: the host is spliced.
    Bypassed,
}

impl ConflictDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictDecision::NotBypassed => "not-bypassed",
            ConflictDecision::Bypassed => "bypassed",
        }
    }
}

/// One allowed destination after collapse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEntry {
    pub host: HostPattern,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub ports: BTreeSet<u16>,
    pub route: Via,
    pub tls: TlsHandling,
    pub products: BTreeSet<Product>,
    pub required: Requirement,
    /// What was decided for this entry (merges, resolved placeholders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Every source row that contributed, including covered entries that
    /// were merged into this one.
    pub provenance: Vec<Provenance>,
}

impl PolicyEntry {
    /// A stable key derived from the entry's content (route, pattern, path,
    /// ports), the same on every run and whatever order the source rows
    /// came in; loss-report lines and `explain` refer to entries by it.
    pub fn key(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        let route = match self.route {
            Via::Proxy => "proxy",
            Via::Direct => "direct",
        };
        format!(
            "allow/{route}/{}{}@{}",
            self.host,
            self.path.as_deref().unwrap_or(""),
            ports.join(",")
        )
    }
}

/// A TLS decision about one host pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsEntry {
    pub host: HostPattern,
    pub reasons: Vec<String>,
    pub provenance: Vec<Provenance>,
}

/// A host that one source says must not be inspected and another says
/// must never be exempted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsConflict {
    pub bypass: HostPattern,
    pub never_bypass: HostPattern,
    pub decision: ConflictDecision,
    pub why: String,
    /// Why each side says what it says.
    pub bypass_reasons: Vec<String>,
    pub never_bypass_reasons: Vec<String>,
}

impl TlsEntry {
    /// The key of a TLS exemption (see [`PolicyEntry::key`]).
    pub fn bypass_key(host: &HostPattern) -> String {
        format!("tls-bypass/{host}")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsPolicy {
    /// Hosts a TLS-inspecting proxy must splice, collapsed.
    pub bypass: Vec<TlsEntry>,
    /// Patterns no exemption may equal or cover (named hosts strictly
    /// inside them may still be in `bypass`).
    pub never_bypass: Vec<TlsEntry>,
    /// The site's `tls.inspect_anyway` patterns, with the exemptions each
    /// withdrew.
    pub inspect_anyway: Vec<TlsEntry>,
    pub conflicts: Vec<TlsConflict>,
    /// Choices against Microsoft's guidance, repeated on every run.
    pub warnings: Vec<String>,
}

/// A catalog entry the policy left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Filtered {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub reason: String,
    pub provenance: Vec<Provenance>,
}

/// A placeholder the ruleset gave no value for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unresolved {
    pub pattern: String,
    pub needs: String,
    /// The wildcard kept instead, when the ruleset allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_as: Option<String>,
    pub provenance: Vec<Provenance>,
}

/// Decisions that are not entries of their own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub unresolved: Vec<Unresolved>,
    pub filtered: Vec<Filtered>,
    /// Site excludes that could not be applied (inside a wildcard).
    pub unapplied_excludes: Vec<String>,
    /// Hosts some rows route direct and others through the proxy: direct
    /// wins.
    pub route_conflicts: Vec<String>,
    /// Cells the catalog rejected (see `egressgen catalog`).
    pub rejected_cells: usize,
    /// Source rows that contradict themselves and concern this site: it
    /// gets them by their label or would want them by their name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inconsistencies: Vec<crate::model::Inconsistency>,
}

impl PolicyReport {
    /// Sorts every list, so the report depends on what the sources say and
    /// not on the order of their rows.
    fn sort(&mut self) {
        self.unresolved.sort();
        self.filtered.sort();
        self.unapplied_excludes.sort();
        self.route_conflicts.sort();
        self.route_conflicts.dedup();
        self.inconsistencies.sort();
        self.inconsistencies.dedup();
    }
}

/// The ruleset facts the outputs need, copied so a policy stands alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesetSummary {
    pub name: String,
    pub file: String,
    pub cloud: crate::model::Cloud,
    pub geographies: Vec<String>,
    pub os: BTreeSet<crate::model::Os>,
    pub products: BTreeSet<Product>,
    pub connectivity: Connectivity,
    pub include_optional: bool,
    pub proxies: Vec<String>,
    /// The `[devices]` table, for the device-side outputs.
    #[serde(
        default,
        skip_serializing_if = "crate::site::devices::DeviceSettings::is_empty"
    )]
    pub devices: crate::site::devices::DeviceSettings,
}

/// What one site must allow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub format: PolicyFormat,
    pub version: u32,
    pub ruleset: RulesetSummary,
    pub sources: Vec<SourceInfo>,
    /// Allowed destinations, sorted; no entry covers another on the same
    /// port and route.
    pub entries: Vec<PolicyEntry>,
    pub tls: TlsPolicy,
    pub prefixes: prefixes::PrefixPolicy,
    pub report: PolicyReport,
}

/// Builds the policy of one site.
pub fn resolve(catalog: &Catalog, site: &Site) -> Policy {
    let wanted = prefixes::wanted_tags(site);
    let mut report = PolicyReport {
        rejected_cells: catalog
            .rejected
            .iter()
            .filter(|r| {
                r.tag
                    .as_ref()
                    .is_none_or(|t| prefixes::is_wanted(t, &wanted))
            })
            .count(),
        ..Default::default()
    };
    report.inconsistencies = scope::inconsistencies(catalog, site);
    let in_scope = scope::select(catalog, site, &mut report.filtered);
    let mut candidates = placeholders::resolve(in_scope, site, &mut report.unresolved);
    candidates.extend(scope::ruleset_allows(site));
    let candidates = scope::apply_excludes(candidates, site, &mut report);
    let tls_policy = tls::decide(&candidates, site, &catalog.tls_guidance);
    let entries = collapse::collapse(candidates, &mut report.route_conflicts);
    let entries = tls::classify(entries, &tls_policy);
    report.sort();
    Policy {
        format: PolicyFormat::EgressgenPolicy,
        version: POLICY_VERSION,
        ruleset: summary(site),
        sources: sources_read(catalog, &wanted),
        entries,
        tls: tls_policy,
        prefixes: prefixes::select(catalog, site),
        report,
    }
}

/// The catalog's sources, each service-tag file listing only the tags this
/// site reads.
fn sources_read(catalog: &Catalog, wanted: &BTreeSet<String>) -> Vec<SourceInfo> {
    let mut sources = catalog.sources.clone();
    for s in &mut sources {
        s.tags.retain(|t| prefixes::is_wanted(&t.name, wanted));
    }
    sources
}

fn summary(site: &Site) -> RulesetSummary {
    RulesetSummary {
        name: site.name.to_string(),
        file: site
            .file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        cloud: site.scope.cloud,
        geographies: scope::geographies(site),
        os: site.scope.os.clone(),
        products: site.scope.products.clone(),
        connectivity: site.scope.connectivity,
        include_optional: site.scope.include_optional,
        proxies: site.proxy.addresses.iter().map(|a| a.to_string()).collect(),
        devices: site.devices.settings(),
    }
}

impl Candidate {
    /// Short text for reports: `pattern[path]`.
    pub fn label(&self) -> String {
        format!("{}{}", self.host, self.path.as_deref().unwrap_or(""))
    }
}
