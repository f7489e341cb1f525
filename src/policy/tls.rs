//! TLS decisions: which hosts must not be inspected, and which must never be exempted.
//!
//! Which hosts a TLS-inspecting proxy must leave alone, and which it must
//! never exempt, as Microsoft's guidance says (the catalog's
//! `builtin:tls-guidance` facts) and the site chooses.
//!
//! The order of authority, strongest first:
//! 1. `tls.inspect_anyway`: the site inspects these even though Microsoft
//!    says not to; every exemption they overlap is withdrawn, loudly.
//! 2. Never-exempt patterns (the storage wildcards, `tls.never_bypass`):
//!    an explicit exemption (a source row such as the MMA table, a host
//!    named by the guidance, `tls.bypass`) that overlaps one of them is a
//!    conflict, settled by `tls.conflict` and reported, unless it is one
//!    named host inside it: "exclude only the Defender for Endpoint blob
//!    URLs listed".
//! 3. The general rule that Defender connections are not inspected: it
//!    yields to every never-exempt pattern without a conflict, since the
//!    same guidance says so.

use super::collapse::Candidate;
use super::matching::{covers, overlaps};
use super::{TlsConflict, TlsEntry, TlsPolicy};
use crate::model::host::parse_pattern;
use crate::model::{GuidanceTarget, HostPattern, Provenance, TlsGuidance, TlsHandling};
use crate::site::{ConflictRule, Site};
use crate::values::HostText;

pub const UNSUPPORTED: &str = "Microsoft does not support inspecting this connection";

/// How strong an exemption is, which decides how it meets a never-exempt
/// pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strength {
    /// The general "Defender connections are not inspected" rule.
    Default,
    /// A source row, a host the guidance names, or the site.
    Explicit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Microsoft,
    Site,
}

struct Pending {
    entry: TlsEntry,
    strength: Strength,
}

struct Never {
    entry: TlsEntry,
    origin: Origin,
}

/// `a` is one named host inside the wildcard `b`: the exception the
/// guidance allows ("exclude only the Defender for Endpoint blob URLs
/// listed"). A wildcard inside a never-exempt pattern is not one.
pub fn named_inside(a: &HostPattern, b: &HostPattern) -> bool {
    matches!(a, HostPattern::Exact(_)) && covers(b, a) && a != b
}

/// Ports other than 80 carry TLS in every list we read.
fn carries_tls(c: &Candidate) -> bool {
    c.ports.iter().any(|&p| p != 80)
}

fn entry(host: HostPattern, reason: String, provenance: Vec<Provenance>) -> TlsEntry {
    TlsEntry {
        host,
        reasons: vec![reason],
        provenance,
    }
}

/// What the guidance and the source rows exempt, before the site's lists.
fn microsoft_exemptions(candidates: &[Candidate], guidance: &[TlsGuidance]) -> Vec<Pending> {
    let mut out = Vec::new();
    for c in candidates.iter().filter(|c| carries_tls(c)) {
        let scope = match &c.path {
            Some(p) => format!(" (listed for URLs under {p}; inspection is decided per host name)"),
            None => String::new(),
        };
        let rows = |g: Option<&TlsGuidance>| {
            g.map(|g| g.provenance.clone())
                .into_iter()
                .chain(c.provenance.iter().cloned())
                .collect::<Vec<_>>()
        };
        if c.tls == TlsHandling::MustNotInspect {
            let row = c
                .provenance
                .first()
                .map(|p| p.to_string())
                .unwrap_or_default();
            out.push(Pending {
                entry: entry(
                    c.host.clone(),
                    format!("{row} says this connection must not be inspected{scope}"),
                    rows(None),
                ),
                strength: Strength::Explicit,
            });
        }
        for g in guidance
            .iter()
            .filter(|g| g.tls == TlsHandling::MustNotInspect)
        {
            let (host, strength) = match &g.applies_to {
                GuidanceTarget::Products { products } if !products.is_disjoint(&c.products) => {
                    (c.host.clone(), Strength::Default)
                }
                // The narrower of the two: only what the site allows.
                GuidanceTarget::Hosts { host } if covers(host, &c.host) => {
                    (c.host.clone(), Strength::Explicit)
                }
                GuidanceTarget::Hosts { host } if covers(&c.host, host) => {
                    (host.clone(), Strength::Explicit)
                }
                _ => continue,
            };
            out.push(Pending {
                entry: entry(host, format!("{}{scope}", g.reason), rows(Some(g))),
                strength,
            });
        }
    }
    out
}

fn ruleset_entries(site: &Site, key: &str, list: &[HostText], why: &str) -> Vec<TlsEntry> {
    let file = super::scope::ruleset_file(site);
    list.iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let host = parse_pattern(h.as_str()).ok()?;
            let provenance = Provenance {
                file: file.clone(),
                sheet: Some(format!("tls.{key}")),
                row: Some(i as u32 + 1),
                ..Default::default()
            };
            Some(entry(host, why.to_string(), vec![provenance]))
        })
        .collect()
}

/// Decides the bypass and never-bypass lists for the site's candidates.
pub fn decide(candidates: &[Candidate], site: &Site, guidance: &[TlsGuidance]) -> TlsPolicy {
    let mut bypass = microsoft_exemptions(candidates, guidance);
    bypass.extend(
        ruleset_entries(
            site,
            "bypass",
            &site.tls.bypass,
            "the ruleset lists it under tls.bypass",
        )
        .into_iter()
        .map(|entry| Pending {
            entry,
            strength: Strength::Explicit,
        }),
    );
    let mut never: Vec<Never> = guidance
        .iter()
        .filter(|g| g.tls == TlsHandling::MustBeInspected)
        .filter_map(|g| match &g.applies_to {
            GuidanceTarget::Hosts { host } => Some(Never {
                entry: entry(host.clone(), g.reason.clone(), vec![g.provenance.clone()]),
                origin: Origin::Microsoft,
            }),
            GuidanceTarget::Products { .. } => None,
        })
        .collect();
    never.extend(
        ruleset_entries(
            site,
            "never_bypass",
            &site.tls.never_bypass,
            "the ruleset lists it under tls.never_bypass",
        )
        .into_iter()
        .map(|entry| Never {
            entry,
            origin: Origin::Site,
        }),
    );
    let inspect = ruleset_entries(
        site,
        "inspect_anyway",
        &site.tls.inspect_anyway,
        "the ruleset lists it under tls.inspect_anyway",
    );

    let mut policy = TlsPolicy::default();
    let bypass = withdraw_inspected(bypass, inspect, &mut policy);
    let (bypass, never) = settle(bypass, never, site.tls.conflict, &mut policy);
    policy.bypass = collapse(promote_domains(bypass));
    policy.never_bypass = merge_identical(never);
    policy
}

/// Step 1: `tls.inspect_anyway` withdraws every exemption it overlaps.
fn withdraw_inspected(
    bypass: Vec<Pending>,
    mut inspect: Vec<TlsEntry>,
    policy: &mut TlsPolicy,
) -> Vec<Pending> {
    let mut kept = Vec::new();
    let mut touched = vec![false; inspect.len()];
    for b in bypass {
        let hits: Vec<usize> = (0..inspect.len())
            .filter(|&i| overlaps(&inspect[i].host, &b.entry.host))
            .collect();
        if hits.is_empty() {
            kept.push(b);
            continue;
        }
        for i in hits {
            touched[i] = true;
            let why = b.entry.reasons.join("; ");
            let line = format!(
                "{} is inspected because of tls.inspect_anyway {}: {UNSUPPORTED} ({why})",
                b.entry.host, inspect[i].host
            );
            push_unique(&mut policy.warnings, line.clone());
            push_unique(&mut inspect[i].reasons, line);
            for p in &b.entry.provenance {
                push_unique(&mut inspect[i].provenance, p.clone());
            }
        }
    }
    for (t, _) in inspect.iter().zip(&touched).filter(|(_, hit)| !**hit) {
        push_unique(
            &mut policy.warnings,
            format!(
                "tls.inspect_anyway {} matches nothing Microsoft exempts from inspection",
                t.host
            ),
        );
    }
    policy.inspect_anyway = merge_identical(inspect);
    kept
}

/// Steps 2 and 3: explicit exemptions against never-exempt patterns
/// (conflicts, settled by the rule), then the general Defender rule
/// against what is left (it yields).
fn settle(
    bypass: Vec<Pending>,
    never: Vec<Never>,
    rule: ConflictRule,
    policy: &mut TlsPolicy,
) -> (Vec<TlsEntry>, Vec<TlsEntry>) {
    let clashes = |b: &HostPattern, never: &[Never]| -> Vec<usize> {
        (0..never.len())
            .filter(|&i| {
                overlaps(b, &never[i].entry.host) && !named_inside(b, &never[i].entry.host)
            })
            .collect()
    };
    let mut lost = vec![false; never.len()];
    let mut kept = Vec::new();
    let mut defaults = Vec::new();
    for b in bypass {
        if b.strength == Strength::Default {
            defaults.push(b.entry);
            continue;
        }
        let hits = clashes(&b.entry.host, &never);
        for &i in &hits {
            record_conflict(&b.entry, &never[i].entry, rule, policy);
        }
        match rule {
            _ if hits.is_empty() => kept.push(b.entry),
            ConflictRule::NeverBypassWins => {}
            ConflictRule::BypassWins => {
                // A never-exempt pattern the winner covers is gone; one it
                // only overlaps still holds for its other hosts.
                for &i in &hits {
                    lost[i] |= covers(&b.entry.host, &never[i].entry.host);
                }
                kept.push(b.entry);
            }
        }
    }
    let mut never: Vec<Never> = never
        .into_iter()
        .zip(lost)
        .filter_map(|(n, lost)| (!lost).then_some(n))
        .collect();
    for d in defaults {
        let hits = clashes(&d.host, &never);
        if hits.is_empty() {
            kept.push(d);
            continue;
        }
        for i in hits {
            let n = &mut never[i];
            push_unique(
                &mut n.entry.reasons,
                format!(
                    "Microsoft's Defender list names {}, which is not one named host inside {}: it stays inspected",
                    d.host, n.entry.host
                ),
            );
            for p in &d.provenance {
                push_unique(&mut n.entry.provenance, p.clone());
            }
            if n.origin == Origin::Site {
                push_unique(
                    &mut policy.warnings,
                    format!(
                        "{} is inspected because of tls.never_bypass {}: {UNSUPPORTED}",
                        d.host, n.entry.host
                    ),
                );
            }
        }
    }
    (kept, never.into_iter().map(|n| n.entry).collect())
}

fn record_conflict(b: &TlsEntry, n: &TlsEntry, rule: ConflictRule, policy: &mut TlsPolicy) {
    let (decision, why) = match rule {
        ConflictRule::NeverBypassWins => (
            super::ConflictDecision::NotBypassed,
            "tls.conflict = never-bypass-wins (the default): the host stays inspected",
        ),
        ConflictRule::BypassWins => (
            super::ConflictDecision::Bypassed,
            "tls.conflict = bypass-wins: the host is spliced and leaves the never-bypass list",
        ),
    };
    let conflict = TlsConflict {
        bypass: b.host.clone(),
        never_bypass: n.host.clone(),
        decision,
        why: why.to_string(),
        bypass_reasons: b.reasons.clone(),
        never_bypass_reasons: n.reasons.clone(),
    };
    if rule == ConflictRule::BypassWins {
        push_unique(
            &mut policy.warnings,
            format!(
                "tls.conflict = bypass-wins: {} is exempted from inspection although it must never be ({})",
                b.host,
                n.reasons.join("; ")
            ),
        );
    }
    if !policy
        .conflicts
        .iter()
        .any(|c| c.bypass == conflict.bypass && c.never_bypass == conflict.never_bypass)
    {
        policy.conflicts.push(conflict);
    }
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `x` and `*.x` both exempt become `.x`, as in the allow-list collapse,
/// so the entry `.x` of the policy finds one pattern that covers it. Only
/// for exemptions: a never-exempt `x` next to `*.x` must keep telling the
/// named hosts below `x` apart from `x` itself.
fn promote_domains(entries: Vec<TlsEntry>) -> Vec<TlsEntry> {
    use std::collections::BTreeSet;
    let names = |want: fn(&HostPattern) -> bool| -> BTreeSet<crate::model::DnsName> {
        entries
            .iter()
            .filter(|e| want(&e.host))
            .map(|e| e.host.name().clone())
            .collect()
    };
    let exact = names(|h| matches!(h, HostPattern::Exact(_)));
    let below = names(|h| matches!(h, HostPattern::Subdomains(_)));
    entries
        .into_iter()
        .map(|mut e| {
            let promote = match &e.host {
                HostPattern::Exact(n) => below.contains(n),
                HostPattern::Subdomains(n) => exact.contains(n),
                _ => false,
            };
            if promote {
                e.host = HostPattern::Domain(e.host.name().clone());
            }
            e
        })
        .collect()
}

/// Merges entries with the same pattern and sorts them. Never-exempt
/// patterns are not collapsed by coverage: `*.a.x` inside `*.x` still
/// forbids an exemption as broad as `*.a.x`, which `*.x` alone allows.
fn merge_identical(entries: Vec<TlsEntry>) -> Vec<TlsEntry> {
    let mut out: Vec<TlsEntry> = Vec::new();
    for e in entries {
        match out.iter_mut().find(|x| x.host == e.host) {
            Some(x) => merge_into(x, &e),
            None => {
                let mut fresh = TlsEntry {
                    host: e.host.clone(),
                    reasons: Vec::new(),
                    provenance: Vec::new(),
                };
                merge_into(&mut fresh, &e);
                out.push(fresh);
            }
        }
    }
    out.sort_by(|a, b| a.host.cmp(&b.host));
    out
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
        push_unique(&mut into.reasons, r.clone());
    }
    for p in &from.provenance {
        push_unique(&mut into.provenance, p.clone());
    }
    into.reasons.sort();
    into.provenance.sort();
}

/// The TLS handling of one pattern: the site's inspection first, then an
/// exemption that covers it, then a never-exempt pattern that covers it.
pub fn handling(tls: &TlsPolicy, host: &HostPattern) -> TlsHandling {
    if tls.inspect_anyway.iter().any(|i| overlaps(&i.host, host)) {
        TlsHandling::MustBeInspected
    } else if tls.bypass.iter().any(|b| covers(&b.host, host)) {
        TlsHandling::MustNotInspect
    } else if tls.never_bypass.iter().any(|n| covers(&n.host, host)) {
        TlsHandling::MustBeInspected
    } else {
        TlsHandling::Unspecified
    }
}

/// Marks each policy entry with [`handling`].
pub fn classify(mut entries: Vec<super::PolicyEntry>, tls: &TlsPolicy) -> Vec<super::PolicyEntry> {
    for e in &mut entries {
        e.tls = handling(tls, &e.host);
    }
    entries
}
