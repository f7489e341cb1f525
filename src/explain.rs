//! `explain`: is a host allowed, by which entry and rows, and how each output says it.
//!
//! Is a host allowed, by which policy entry, from which source rows, routed
//! how, inspected or not, and how each configured backend expresses it. For
//! a host that is not allowed: the nearest entries and why they do not
//! match, and catalog rows the ruleset left out.

use std::path::Path;

use serde::Serialize;

use crate::backends::{LossEntry, Rendered};
use crate::generate::{self, GenerateError};
use crate::model::host::parse_pattern;
use crate::model::{DnsName, HostPattern, Provenance, TlsHandling, Via};
use crate::policy::matching::admits;
use crate::policy::tls::UNSUPPORTED;
use crate::policy::{Policy, PolicyEntry, TlsEntry, TlsPolicy};
use crate::ruleset::{Ruleset, RulesetError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    Allowed,
    /// Allowed, but only for URLs under a path.
    AllowedUnderPath,
    NotAllowed,
}

/// How one backend carries a matching entry.
#[derive(Clone, Debug, Serialize)]
pub struct Expression {
    pub backend: String,
    pub outcome: String,
    pub expressed_as: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// A policy entry that admits the host.
#[derive(Clone, Debug, Serialize)]
pub struct Match {
    pub entry: String,
    pub kind: &'static str,
    pub ports: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub route: Via,
    pub tls: TlsHandling,
    pub provenance: Vec<Provenance>,
    pub backends: Vec<Expression>,
}

/// An entry that does not admit the host, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Near {
    pub entry: String,
    pub why_not: String,
}

/// A catalog row for this host that the ruleset left out.
#[derive(Clone, Debug, Serialize)]
pub struct LeftOut {
    pub pattern: String,
    pub reason: String,
    pub provenance: Vec<Provenance>,
}

/// Whether a TLS-inspecting proxy splices or bumps the host, and why.
#[derive(Clone, Debug, Serialize)]
pub struct TlsAnswer {
    /// `spliced` (not inspected) or `bumped` (inspected).
    pub decision: &'static str,
    /// The list that decides: `bypass`, `never_bypass`, `inspect_anyway`,
    /// or `none` when nothing names the host.
    pub list: &'static str,
    /// The pattern of that list that admits the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub reasons: Vec<String>,
    pub provenance: Vec<Provenance>,
    /// Conflicts about a pattern that admits the host, as text.
    pub conflicts: Vec<String>,
    /// How each backend carries the exemption (by its key).
    pub backends: Vec<Expression>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub verdict: Answer,
    pub tls: TlsAnswer,
    pub matches: Vec<Match>,
    pub nearest: Vec<Near>,
    pub left_out: Vec<LeftOut>,
}

/// Explains `host` (and `port`, if given) against a policy and what its
/// backends rendered.
pub fn explain(
    policy: &Policy,
    rendered: &[Rendered],
    host: &DnsName,
    port: Option<u16>,
) -> Explanation {
    let admitting: Vec<&PolicyEntry> = policy
        .entries
        .iter()
        .filter(|e| admits(&e.host, host))
        .collect();
    let matches: Vec<Match> = admitting
        .iter()
        .filter(|e| port.is_none_or(|p| e.ports.contains(&p)))
        .map(|e| to_match(e, rendered))
        .collect();
    let verdict = if matches.iter().any(|m| m.path.is_none()) {
        Answer::Allowed
    } else if !matches.is_empty() {
        Answer::AllowedUnderPath
    } else {
        Answer::NotAllowed
    };
    let nearest = if verdict == Answer::NotAllowed {
        nearest(policy, host, port)
    } else {
        Vec::new()
    };
    // Rows the ruleset left out explain a refusal; next to an allowed
    // entry they are only noise.
    let left_out = if verdict == Answer::Allowed {
        Vec::new()
    } else {
        left_out(policy, host)
    };
    Explanation {
        host: host.to_string(),
        port,
        verdict,
        tls: tls_verdict(&policy.tls, host, rendered),
        matches,
        nearest,
        left_out,
    }
}

/// The ruleset `explain` uses without `--ruleset`: commercial cloud,
/// worldwide endpoints, every OS, Defender for Endpoint, Antivirus and
/// SmartScreen, on the built-in baseline.
pub const DEFAULT_RULESET: &str = r#"
name = "default"
description = "commercial cloud, worldwide endpoints, all operating systems, MDE + Defender Antivirus + SmartScreen"
[scope]
cloud = "commercial"
[outputs.plain]
"#;

/// The default ruleset, parsed.
pub fn default_ruleset() -> Result<Ruleset, RulesetError> {
    Ruleset::parse(DEFAULT_RULESET, Path::new("default ruleset"))
}

/// Explains `host` against a ruleset's policy, and every output the
/// ruleset configures rendered in memory to say how each carries the host.
pub fn explain_ruleset(
    ruleset: &Ruleset,
    policy: &Policy,
    host: &DnsName,
    port: Option<u16>,
) -> Result<Explanation, GenerateError> {
    let backends = generate::select_backends(ruleset, None)?;
    let rendered = generate::render_all(policy, ruleset, &backends)?;
    Ok(explain(policy, &rendered, host, port))
}

/// The TLS decision for one host, in the order the policy applies it:
/// the site's inspection, an exemption, a never-exempt pattern.
fn tls_verdict(tls: &TlsPolicy, host: &DnsName, rendered: &[Rendered]) -> TlsAnswer {
    let pick = |entries: &[TlsEntry]| entries.iter().find(|t| admits(&t.host, host)).cloned();
    let (decision, list, hit) = if let Some(t) = pick(&tls.inspect_anyway) {
        ("bumped", "inspect_anyway", Some(t))
    } else if let Some(t) = pick(&tls.bypass) {
        ("spliced", "bypass", Some(t))
    } else if let Some(t) = pick(&tls.never_bypass) {
        ("bumped", "never_bypass", Some(t))
    } else {
        ("bumped", "none", None)
    };
    let mut reasons = hit.as_ref().map(|t| t.reasons.clone()).unwrap_or_else(|| {
        vec![
            "no guidance or ruleset entry exempts it: a TLS-inspecting proxy inspects it"
                .to_string(),
        ]
    });
    if list == "inspect_anyway" && !reasons.iter().any(|r| r.contains(UNSUPPORTED)) {
        reasons.push(format!(
            "the site chose to inspect it; where Microsoft exempts a host, {UNSUPPORTED}"
        ));
    }
    let conflicts = tls
        .conflicts
        .iter()
        .filter(|c| admits(&c.bypass, host) || admits(&c.never_bypass, host))
        .map(|c| {
            format!(
                "{} to be exempt ({}) vs {} never exempt: {}",
                c.bypass,
                c.bypass_reasons.join("; "),
                c.never_bypass,
                c.why
            )
        })
        .collect();
    let backends = match (&hit, list) {
        (Some(t), "bypass") => expressions(&TlsEntry::bypass_key(&t.host), rendered),
        _ => Vec::new(),
    };
    TlsAnswer {
        backends,
        decision,
        list,
        by: hit.as_ref().map(|t| t.host.to_string()),
        reasons,
        provenance: hit.map(|t| t.provenance).unwrap_or_default(),
        conflicts,
    }
}

/// Catalog rows that would admit the host but were filtered out, one per
/// pattern and reason.
fn left_out(policy: &Policy, host: &DnsName) -> Vec<LeftOut> {
    let mut out: Vec<LeftOut> = Vec::new();
    for f in &policy.report.filtered {
        if !parse_pattern(&f.host).is_ok_and(|p| admits(&p, host)) {
            continue;
        }
        let pattern = format!("{}{}", f.host, f.path.as_deref().unwrap_or(""));
        match out
            .iter_mut()
            .find(|l| l.pattern == pattern && l.reason == f.reason)
        {
            Some(l) => l.provenance.extend(f.provenance.iter().cloned()),
            None => out.push(LeftOut {
                pattern,
                reason: f.reason.clone(),
                provenance: f.provenance.clone(),
            }),
        }
    }
    out
}

/// Each backend's loss-report line for one entry or exemption key.
fn expressions(key: &str, rendered: &[Rendered]) -> Vec<Expression> {
    rendered
        .iter()
        .filter_map(|r| {
            let l: &LossEntry = r.loss.entries.iter().find(|l| l.key == key)?;
            Some(Expression {
                backend: r.loss.backend.clone(),
                outcome: l.outcome.as_str().to_string(),
                expressed_as: l.expressed_as.clone(),
                why: l.why.clone(),
            })
        })
        .collect()
}

fn to_match(e: &PolicyEntry, rendered: &[Rendered]) -> Match {
    let backends = expressions(&e.key(), rendered);
    Match {
        entry: e.host.to_string(),
        kind: e.host.kind(),
        ports: e.ports.iter().copied().collect(),
        path: e.path.clone(),
        route: e.route,
        tls: e.tls,
        provenance: e.provenance.clone(),
        backends,
    }
}

/// The three entries most like the host: same name on another port first,
/// then by shared trailing labels, then by how much of the entry's name
/// the host contains, then by edit distance.
fn nearest(policy: &Policy, host: &DnsName, port: Option<u16>) -> Vec<Near> {
    let mut scored: Vec<(i64, &PolicyEntry)> =
        policy.entries.iter().map(|e| (score(e, host), e)).collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.host.cmp(&b.1.host)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, e)| Near {
            entry: format!("{}{}", e.host, e.path.as_deref().unwrap_or("")),
            why_not: why_not(e, host, port),
        })
        .collect()
}

fn score(e: &PolicyEntry, host: &DnsName) -> i64 {
    if admits(&e.host, host) {
        return i64::MAX;
    }
    let name = e.host.name().as_str();
    let h = host.as_str();
    let shared = h
        .rsplit('.')
        .zip(name.rsplit('.'))
        .take_while(|(a, b)| a == b)
        .count() as i64;
    let contained = if h.contains(name) {
        name.len() as i64
    } else {
        0
    };
    let run = common_run(h, name) as i64;
    shared * 1000 + run * 100 + contained * 10 - edit_distance(h, name) as i64
}

/// The longest run of labels two names share, anywhere in them:
/// `blob.core.windows.net` between `blob.core.windows.net.evil.example`
/// and `x.blob.core.windows.net`.
fn common_run(a: &str, b: &str) -> usize {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    let mut best = 0;
    for i in 0..a.len() {
        for j in 0..b.len() {
            let run = a[i..]
                .iter()
                .zip(&b[j..])
                .take_while(|(x, y)| x == y)
                .count();
            best = best.max(run);
        }
    }
    best
}

/// Why `e` does not admit `host` (on `port`).
fn why_not(e: &PolicyEntry, host: &DnsName, port: Option<u16>) -> String {
    let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
    if admits(&e.host, host) {
        return format!(
            "admits {host} but only on port {}{}",
            ports.join(", "),
            port.map(|p| format!(", not {p}")).unwrap_or_default()
        );
    }
    let name = e.host.name().as_str();
    let h = host.as_str();
    let base = psl::domain_str(h).unwrap_or(h);
    match &e.host {
        HostPattern::Exact(_) if host.is_below(e.host.name()) => {
            format!("{h} is below {name}; the entry allows {name} only")
        }
        HostPattern::Subdomains(_) if h == name => {
            format!("*.{name} admits names below {name}, not {name} itself")
        }
        HostPattern::SuffixGlob(_) => format!("{h} does not end with {name}"),
        _ if h.ends_with(name) => {
            format!("{h} ends with {name} but not at a label boundary: it is a different name")
        }
        _ if h.contains(name) => format!(
            "{h} contains {name} but belongs to {base}, not {}",
            psl::domain_str(name).unwrap_or(name)
        ),
        _ if common_run(h, name) > 0 && base != psl::domain_str(name).unwrap_or(name) => {
            format!("{} is a different name: {h} belongs to {base}", e.host)
        }
        _ => format!("{} is a different name", e.host),
    }
}

/// Levenshtein distance over bytes (names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Human-readable form.
pub fn to_text(x: &Explanation) -> String {
    let on = x.port.map(|p| format!(" port {p}")).unwrap_or_default();
    let verdict = match x.verdict {
        Answer::Allowed => "ALLOWED",
        Answer::AllowedUnderPath => "ALLOWED only under a path",
        Answer::NotAllowed => "NOT ALLOWED",
    };
    let mut out = format!("{}{on}: {verdict}\n", x.host);
    for m in &x.matches {
        let ports: Vec<String> = m.ports.iter().map(u16::to_string).collect();
        out.push_str(&format!(
            "  by {}{} ({}) on port {}, route {}, TLS {}\n",
            m.entry,
            m.path.as_deref().unwrap_or(""),
            m.kind,
            ports.join(", "),
            format!("{:?}", m.route).to_lowercase(),
            match m.tls {
                TlsHandling::Unspecified => "may be inspected",
                TlsHandling::MustNotInspect => "must not be inspected (spliced)",
                TlsHandling::MustBeInspected => "must be inspected (never spliced)",
            }
        ));
        if let Some(p) = &m.path {
            out.push_str(&format!("    only for URLs under {p}\n"));
        }
        for p in &m.provenance {
            out.push_str(&format!(
                "    from {}\n",
                crate::model::text::display_escape(&p.to_string())
            ));
        }
        out.push_str(&backend_lines(&m.backends));
    }
    out.push_str(&tls_text(&x.tls));
    for n in &x.nearest {
        out.push_str(&format!("  nearest: {}: {}\n", n.entry, n.why_not));
    }
    for l in &x.left_out {
        out.push_str(&format!(
            "  in the catalog but left out: {}: {}\n",
            l.pattern, l.reason
        ));
    }
    out
}

fn tls_text(t: &TlsAnswer) -> String {
    let how = match t.decision {
        "spliced" => "spliced, not inspected",
        _ => "bumped, inspected",
    };
    let by = match (&t.by, t.list) {
        (Some(p), list) => format!(" by {p} (tls {list})"),
        (None, _) => String::new(),
    };
    let mut out = format!("  TLS: {how}{by}\n");
    for r in &t.reasons {
        out.push_str(&format!("    because {r}\n"));
    }
    for p in &t.provenance {
        out.push_str(&format!(
            "    from {}\n",
            crate::model::text::display_escape(&p.to_string())
        ));
    }
    for c in &t.conflicts {
        out.push_str(&format!("    conflict: {c}\n"));
    }
    out.push_str(&backend_lines(&t.backends));
    out
}

fn backend_lines(backends: &[Expression]) -> String {
    let mut out = String::new();
    for b in backends {
        out.push_str(&format!(
            "    {}: {} {}",
            b.backend,
            b.outcome,
            b.expressed_as.join("; ")
        ));
        if !b.why.is_empty() {
            out.push_str(&format!(" ({})", b.why));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_runs() {
        assert_eq!(
            common_run(
                "blob.core.windows.net.evil.example",
                "x.blob.core.windows.net"
            ),
            4
        );
        assert_eq!(common_run("a.b", "c.d"), 0);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("xabc", "abc"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
