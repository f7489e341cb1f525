//! TLS decisions: which hosts a TLS-inspecting proxy must leave alone, and
//! which it must never exempt. Sources disagree (the MMA table bypasses
//! `*.blob.core.windows.net`, the 2023 Defender Antivirus guidance says
//! never exempt it); the ruleset decides, default never-bypass wins, and
//! every conflict is reported.

use super::collapse::Candidate;
use super::matching::{covers, overlaps};
use super::{PolicyEntry, TlsConflict, TlsEntry, TlsPolicy};
use crate::model::{HostPattern, Provenance, TlsHandling};
use crate::normalize::host::parse_pattern;
use crate::ruleset::{ConflictRule, Ruleset};

const GUIDANCE_FILE: &str = "builtin:tls-guidance";

/// Published guidance that is not in any table's rows.
const GUIDANCE: &[(&str, TlsHandling, &str)] = &[
    (
        "*.wdcp.microsoft.com",
        TlsHandling::MustNotInspect,
        "Defender Antivirus cloud protection (MAPS) pins its certificates (SSLOptions default 3)",
    ),
    (
        "*.wdcpalt.microsoft.com",
        TlsHandling::MustNotInspect,
        "Defender Antivirus cloud protection (MAPS) pins its certificates (SSLOptions default 3)",
    ),
    (
        "*.wd.microsoft.com",
        TlsHandling::MustNotInspect,
        "Defender Antivirus cloud protection (MAPS) pins its certificates (SSLOptions default 3)",
    ),
    (
        "*.blob.core.windows.net",
        TlsHandling::MustBeInspected,
        "never exclude *.blob.core.windows.net from any kind of network inspection (Defender Antivirus network connections, 2023)",
    ),
];

fn guidance() -> impl Iterator<Item = (usize, HostPattern, TlsHandling, &'static str)> {
    GUIDANCE
        .iter()
        .enumerate()
        .filter_map(|(i, (host, tls, why))| {
            // Constants of this crate, checked by a unit test.
            Some((i, parse_pattern(host).ok()?, *tls, *why))
        })
}

fn guidance_provenance(row: usize) -> Provenance {
    Provenance {
        file: GUIDANCE_FILE.to_string(),
        sheet: Some("TLS inspection guidance".to_string()),
        row: Some(row as u32 + 1),
        ..Default::default()
    }
}

/// Decides the bypass and never-bypass lists for the site's candidates.
pub fn decide(candidates: &[Candidate], ruleset: &Ruleset) -> TlsPolicy {
    let mut bypass = Vec::new();
    let mut never = Vec::new();
    for c in candidates
        .iter()
        .filter(|c| c.tls == TlsHandling::MustNotInspect)
    {
        bypass.push(TlsEntry {
            host: c.host.clone(),
            reasons: vec!["the source says this connection must not be inspected".to_string()],
            provenance: c.provenance.clone(),
        });
    }
    for (row, host, tls, why) in guidance() {
        let entry = |host: HostPattern| TlsEntry {
            host,
            reasons: vec![why.to_string()],
            provenance: vec![guidance_provenance(row)],
        };
        match tls {
            TlsHandling::MustBeInspected => never.push(entry(host)),
            // Only for hosts the site allows: the narrower of the two.
            _ => {
                for c in candidates.iter().filter(|c| overlaps(&host, &c.host)) {
                    let narrower = if covers(&host, &c.host) {
                        c.host.clone()
                    } else {
                        host.clone()
                    };
                    bypass.push(entry(narrower));
                }
            }
        }
    }
    let file = super::scope::ruleset_file(ruleset);
    let from_ruleset = |key: &str, i: usize| Provenance {
        file: file.clone(),
        sheet: Some(format!("tls.{key}")),
        row: Some(i as u32 + 1),
        ..Default::default()
    };
    for (i, h) in ruleset.tls.bypass.iter().enumerate() {
        if let Ok(host) = parse_pattern(h.as_str()) {
            bypass.push(TlsEntry {
                host,
                reasons: vec!["the ruleset lists it under tls.bypass".to_string()],
                provenance: vec![from_ruleset("bypass", i)],
            });
        }
    }
    for (i, h) in ruleset.tls.never_bypass.iter().enumerate() {
        if let Ok(host) = parse_pattern(h.as_str()) {
            never.push(TlsEntry {
                host,
                reasons: vec!["the ruleset lists it under tls.never_bypass".to_string()],
                provenance: vec![from_ruleset("never_bypass", i)],
            });
        }
    }
    let (bypass, never, conflicts) = settle(bypass, never, ruleset.tls.conflict);
    TlsPolicy {
        bypass: collapse(bypass),
        never_bypass: collapse(never),
        conflicts,
    }
}

/// Applies the conflict rule to every overlapping bypass / never pair.
fn settle(
    bypass: Vec<TlsEntry>,
    mut never: Vec<TlsEntry>,
    rule: ConflictRule,
) -> (Vec<TlsEntry>, Vec<TlsEntry>, Vec<TlsConflict>) {
    let mut conflicts = Vec::new();
    let mut kept = Vec::new();
    for b in bypass {
        let clashes: Vec<HostPattern> = never
            .iter()
            .filter(|n| overlaps(&b.host, &n.host))
            .map(|n| n.host.clone())
            .collect();
        if clashes.is_empty() {
            kept.push(b);
            continue;
        }
        for n in &clashes {
            let (decision, why) = match rule {
                ConflictRule::NeverBypassWins => (
                    "not-bypassed",
                    "tls.conflict = never-bypass-wins (the default): the host stays inspected",
                ),
                ConflictRule::BypassWins => (
                    "bypassed",
                    "tls.conflict = bypass-wins: the host is spliced and leaves the never-bypass list",
                ),
            };
            let conflict = TlsConflict {
                bypass: b.host.clone(),
                never_bypass: n.clone(),
                decision: decision.to_string(),
                why: why.to_string(),
            };
            if !conflicts.contains(&conflict) {
                conflicts.push(conflict);
            }
        }
        if rule == ConflictRule::BypassWins {
            never.retain(|n| !clashes.contains(&n.host));
            kept.push(b);
        }
    }
    (kept, never, conflicts)
}

/// Drops entries covered by another, merging reasons and provenance, and
/// sorts the rest.
fn collapse(entries: Vec<TlsEntry>) -> Vec<TlsEntry> {
    let mut out: Vec<TlsEntry> = Vec::new();
    let mut sorted = entries;
    sorted.sort_by(|a, b| a.host.cmp(&b.host));
    for e in &sorted {
        let outer = sorted
            .iter()
            .filter(|o| o.host != e.host && covers(&o.host, &e.host))
            .find(|o| {
                !sorted
                    .iter()
                    .any(|p| p.host != o.host && covers(&p.host, &o.host))
            })
            .map(|o| o.host.clone())
            .unwrap_or_else(|| e.host.clone());
        match out.iter_mut().find(|x| x.host == outer) {
            Some(x) => merge_into(x, e),
            None => {
                let mut fresh = TlsEntry {
                    host: outer,
                    reasons: Vec::new(),
                    provenance: Vec::new(),
                };
                merge_into(&mut fresh, e);
                out.push(fresh);
            }
        }
    }
    out.sort_by(|a, b| a.host.cmp(&b.host));
    out
}

fn merge_into(into: &mut TlsEntry, from: &TlsEntry) {
    for r in &from.reasons {
        if !into.reasons.contains(r) {
            into.reasons.push(r.clone());
        }
    }
    for p in &from.provenance {
        if !into.provenance.contains(p) {
            into.provenance.push(p.clone());
        }
    }
    into.reasons.sort();
    into.provenance.sort();
}

/// Marks each policy entry: must be inspected when a never-bypass pattern
/// covers it, must not be inspected when a bypass entry covers it.
pub fn classify(mut entries: Vec<PolicyEntry>, tls: &TlsPolicy) -> Vec<PolicyEntry> {
    for e in &mut entries {
        e.tls = if tls.never_bypass.iter().any(|n| covers(&n.host, &e.host)) {
            TlsHandling::MustBeInspected
        } else if tls.bypass.iter().any(|b| covers(&b.host, &e.host)) {
            TlsHandling::MustNotInspect
        } else {
            TlsHandling::Unspecified
        };
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guidance_rows_are_valid() {
        assert_eq!(guidance().count(), GUIDANCE.len());
    }
}
