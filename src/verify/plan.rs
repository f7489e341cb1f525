//! The probes of a policy: one URL per entry and port.
//!
//! One URL per entry and port, chosen in this order: the ruleset's
//! `[[verify.probes]]`, the entry's own host with the known probe path of
//! that host, a known host standing for a wildcard, and last a made-up name
//! below the wildcard, which can show what a proxy admits but never that
//! the service answers.

use crate::model::{DnsName, HostPattern, Requirement, TlsHandling};
use crate::policy::matching::admits;
use crate::policy::{Policy, PolicyEntry};
use crate::ruleset::verify::VerifySettings;

use super::known;
use crate::values::ProbeUrl;

/// Where a probe's URL came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlFrom {
    /// `[[verify.probes]]` of the ruleset.
    Ruleset,
    /// The entry's host, with a known probe path when there is one.
    Entry,
    /// A known host below the wildcard.
    Known,
    /// A name below the wildcard made up for the probe: it tells whether
    /// a proxy admits the wildcard, not whether the service answers.
    MadeUp,
}

/// One URL to probe on every route.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Target {
    /// The policy entry's key.
    pub entry: String,
    pub pattern: String,
    pub url: ProbeUrl,
    pub expect: Vec<u16>,
    pub url_from: UrlFrom,
    /// Where the URL, path or expected answers come from.
    pub source: String,
    pub required: bool,
    pub must_not_inspect: bool,
    pub direct: bool,
    pub products: Vec<String>,
    /// The entry's first source row, for the report.
    pub provenance: String,
}

/// A `[[verify.probes]]` row that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{ruleset}: [[verify.probes]] {host}: {detail}")]
pub struct PlanError {
    pub ruleset: String,
    pub host: String,
    pub detail: String,
}

/// The made-up label, as `audit` uses it.
pub const MADE_UP: &str = crate::audit::probe::LABEL;

pub fn targets(policy: &Policy, settings: &VerifySettings) -> Result<Vec<Target>, PlanError> {
    check_settings(policy, settings)?;
    let mut out = Vec::new();
    for entry in &policy.entries {
        for &port in &entry.ports {
            if let Some(t) = target(entry, port, settings) {
                out.push(t);
            }
        }
    }
    Ok(out)
}

/// Every ruleset probe names a pattern of the policy and a host it admits.
fn check_settings(policy: &Policy, settings: &VerifySettings) -> Result<(), PlanError> {
    for p in &settings.probes {
        let bad = |detail: String| PlanError {
            ruleset: policy.ruleset.file.clone(),
            host: p.host.to_string(),
            detail,
        };
        let entry = policy
            .entries
            .iter()
            .find(|e| e.host.to_string() == p.host.as_str())
            .ok_or_else(|| bad("no entry of the policy has this pattern".to_string()))?;
        if !admits(&entry.host, &p.url.host) {
            return Err(bad(format!("{} is not a host the pattern admits", p.url)));
        }
    }
    Ok(())
}

fn target(entry: &PolicyEntry, port: u16, settings: &VerifySettings) -> Option<Target> {
    let pattern = entry.host.to_string();
    let scheme = crate::model::Scheme::for_port(port);
    let own_path = entry.path.clone();
    let (url, expect, url_from, source) =
        if let Some(p) = settings.probes.iter().find(|p| p.host.as_str() == pattern) {
            let expect: Vec<u16> = p.expect.iter().map(|s| s.0).collect();
            (
                p.url.clone(),
                expect,
                UrlFrom::Ruleset,
                format!("ruleset [[verify.probes]] {pattern}"),
            )
        } else {
            match &entry.host {
                HostPattern::Exact(name) => {
                    let known = own_path
                        .is_none()
                        .then(|| known::path_for(name.as_str()))
                        .flatten();
                    let path = own_path
                        .clone()
                        .or(known.map(|k| k.path.to_string()))
                        .unwrap_or_else(|| "/".to_string());
                    let url = ProbeUrl::new(scheme, name.clone(), port, &path).ok()?;
                    match known {
                        Some(k) => (url, k.expect.to_vec(), UrlFrom::Entry, k.source.to_string()),
                        None => (
                            url,
                            Vec::new(),
                            UrlFrom::Entry,
                            "the entry's host".to_string(),
                        ),
                    }
                }
                HostPattern::Template(_) => return None,
                wildcard => match known::host_for(&pattern) {
                    Some(k) => {
                        let mut url = ProbeUrl::parse(k.url).ok()?;
                        url.scheme = scheme;
                        url.port = port;
                        if let Some(path) = &own_path {
                            url.path = path.clone();
                        }
                        let expect = known::path_for(url.host.as_str())
                            .map(|p| p.expect.to_vec())
                            .unwrap_or_default();
                        (url, expect, UrlFrom::Known, k.source.to_string())
                    }
                    None => {
                        let host = made_up(wildcard)?;
                        let path = own_path.clone().unwrap_or_else(|| "/".to_string());
                        let url = ProbeUrl::new(scheme, host, port, &path).ok()?;
                        (
                            url,
                            Vec::new(),
                            UrlFrom::MadeUp,
                            "a made-up name below the wildcard".to_string(),
                        )
                    }
                },
            }
        };
    let (expect, source) = if expect.is_empty() {
        (
            known::DEFAULT_EXPECT.to_vec(),
            format!("{source}; {}", known::DEFAULT_EXPECT_SOURCE),
        )
    } else {
        (expect, source)
    };
    Some(Target {
        entry: entry.key(),
        pattern,
        url,
        expect,
        url_from,
        source,
        // Only what Microsoft marks optional may fail.
        required: entry.required != Requirement::Optional,
        must_not_inspect: entry.tls == TlsHandling::MustNotInspect,
        direct: entry.route == crate::model::Via::Direct,
        products: entry
            .products
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        provenance: entry
            .provenance
            .first()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    })
}

/// A name only the wildcard admits: the label `audit` uses, below the
/// pattern's name (a suffix glob glues it on).
fn made_up(pattern: &HostPattern) -> Option<DnsName> {
    let n = pattern.name().as_str();
    let text = match pattern {
        HostPattern::SuffixGlob(_) => format!("{MADE_UP}{n}"),
        HostPattern::Domain(_) | HostPattern::Subdomains(_) => format!("{MADE_UP}.{n}"),
        _ => return None,
    };
    DnsName::parse(&text).ok().filter(|h| admits(pattern, h))
}
