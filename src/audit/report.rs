//! The audit report of one run, as text for a terminal, JSON or Markdown.
//!
//! The audit report: one document per run (every configuration audited
//! against one policy), written as text for a terminal, JSON (shape in
//! docs/audit-json.md) or Markdown.

use serde::Serialize;

use super::engine::{ConfigAudit, Coverage, EntryFinding, LineIssue, SecurityIssue, TlsIssue};
use crate::model::text::{md_code, md_text, terminal_safe};

pub const AUDIT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum AuditFormat {
    #[default]
    #[serde(rename = "egressgen-audit")]
    EgressgenAudit,
}

/// Every configuration of one run, against one policy.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: AuditFormat,
    pub version: u32,
    pub ruleset: String,
    pub configs: Vec<ConfigAudit>,
}

impl Report {
    pub fn new(ruleset: &str, configs: Vec<ConfigAudit>) -> Report {
        Report {
            format: AuditFormat::EgressgenAudit,
            version: AUDIT_VERSION,
            ruleset: ruleset.to_string(),
            configs,
        }
    }

    /// Whether any configuration leaves an entry partly or not covered.
    pub fn has_gaps(&self) -> bool {
        self.configs
            .iter()
            .any(|c| c.summary.partly + c.summary.missing + c.summary.routed_wrong > 0)
    }

    pub fn has_tls_violations(&self) -> bool {
        self.configs.iter().any(|c| c.summary.tls_violations > 0)
    }

    pub fn has_security_findings(&self) -> bool {
        self.configs.iter().any(|c| c.summary.security_findings > 0)
    }

    pub fn has_over_broad(&self) -> bool {
        self.configs.iter().any(|c| c.summary.over_broad_lines > 0)
    }

    pub fn has_undecidable(&self) -> bool {
        self.configs
            .iter()
            .any(|c| c.summary.undecidable + c.summary.undecidable_lines > 0)
    }
}

/// Entries worth a line of their own: everything but plain coverage.
fn notable(e: &EntryFinding) -> bool {
    !matches!(e.coverage, Coverage::Exact | Coverage::DirectRoute)
}

/// A short colour for a coverage, when writing to a terminal.
fn paint(text: &str, coverage: Coverage, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match coverage {
        Coverage::Exact => "32",
        Coverage::Broader | Coverage::DirectRoute | Coverage::NotExpressible => "33",
        Coverage::Partly | Coverage::Undecidable | Coverage::Unresolved => "35",
        Coverage::Missing | Coverage::RoutedWrong => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Plain text; `colour` adds ANSI colours (a terminal).
pub fn to_text(r: &Report, colour: bool) -> String {
    let mut out = format!("audit against ruleset {}\n", terminal_safe(&r.ruleset));
    for c in &r.configs {
        let s = &c.summary;
        out.push_str(&format!(
            "\n{} ({}): {} entries: {} covered, {} more broadly, {} partly, {} missing, {} routed wrong, {} undecidable, {} not expressible, {} direct route, {} unresolved\n",
            terminal_safe(c.files.first().map(String::as_str).unwrap_or("")),
            c.kind,
            s.entries,
            s.covered,
            s.broader,
            s.partly,
            s.missing,
            s.routed_wrong,
            s.undecidable,
            s.not_expressible,
            s.direct_route,
            s.unresolved
        ));
        out.push_str(&format!(
            "  TLS violations: {}; lines: {} over-broad, {} duplicate, {} shadowed, {} undecidable{}\n",
            s.tls_violations,
            s.over_broad_lines,
            s.duplicate_lines,
            s.shadowed_lines,
            s.undecidable_lines,
            if c.inspects { "" } else { " (no TLS inspection configured)" }
        ));
        for f in &c.security {
            out.push_str(&format!(
                "  security {}: {}: {}\n      fix: {}\n",
                security_issue(f.issue),
                terminal_safe(&f.at.to_string()),
                terminal_safe(&f.why),
                terminal_safe(&f.fix)
            ));
        }
        for e in c.entries.iter().filter(|e| notable(e)) {
            let label = paint(e.coverage.as_str(), e.coverage, colour);
            if e.coverage == Coverage::Broader {
                // Informational: one line, the first reason.
                out.push_str(&format!(
                    "  {label}: {}{} ports {}: {}\n",
                    terminal_safe(&e.host),
                    terminal_safe(e.path.as_deref().unwrap_or("")),
                    ports(&e.ports),
                    terminal_safe(e.detail.first().map(String::as_str).unwrap_or(""))
                ));
                continue;
            }
            out.push_str(&format!(
                "  {label}: {}{} ports {}\n",
                terminal_safe(&e.host),
                terminal_safe(e.path.as_deref().unwrap_or("")),
                ports(&e.ports)
            ));
            for d in &e.detail {
                out.push_str(&format!("      {}\n", terminal_safe(d)));
            }
            if let Some(p) = e.provenance.first() {
                out.push_str(&format!("      from {}\n", terminal_safe(&p.to_string())));
            }
        }
        for t in &c.tls {
            out.push_str(&format!(
                "  TLS {}: {} ({}){}\n      {}\n",
                tls_issue(t.issue),
                terminal_safe(&t.subject),
                terminal_safe(&t.request),
                t.by.as_ref()
                    .map(|o| format!(" at {}", terminal_safe(&o.to_string())))
                    .unwrap_or_default(),
                terminal_safe(&t.why)
            ));
        }
        for l in &c.lines {
            out.push_str(&format!(
                "  line {} {}: {}{}\n",
                terminal_safe(&l.at.to_string()),
                line_issue(l.issue),
                terminal_safe(&l.why),
                if l.text.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", terminal_safe(&l.text))
                }
            ));
        }
    }
    out
}

fn ports(p: &[u16]) -> String {
    p.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

pub fn tls_issue(i: TlsIssue) -> &'static str {
    match i {
        TlsIssue::Inspected => "inspected",
        TlsIssue::StorageWildcardExempted => "storage wildcard exempted",
        TlsIssue::Undecidable => "undecidable",
    }
}

pub fn security_issue(i: SecurityIssue) -> &'static str {
    match i {
        SecurityIssue::AllowAll => "allow-all",
        SecurityIssue::OpenProxy => "open proxy",
        SecurityIssue::ConnectAnyPort => "CONNECT to any port",
    }
}

pub fn line_issue(i: LineIssue) -> &'static str {
    match i {
        LineIssue::OverBroad => "over-broad",
        LineIssue::Duplicate => "duplicate",
        LineIssue::Shadowed => "shadowed",
        LineIssue::Undecidable => "undecidable",
        LineIssue::Ignored => "ignored",
    }
}

pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
        + "\n"
}

/// Markdown: a summary table, then the findings of each configuration.
pub fn to_markdown(r: &Report) -> String {
    let mut out = format!("# Audit against ruleset {}\n\n", md_text(&r.ruleset));
    out.push_str("| configuration | kind | entries | covered | more broadly | partly | missing | routed wrong | undecidable | TLS violations | over-broad lines |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for c in &r.configs {
        let s = &c.summary;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            md_code(c.files.first().map(String::as_str).unwrap_or("")),
            c.kind,
            s.entries,
            s.covered,
            s.broader,
            s.partly,
            s.missing,
            s.routed_wrong,
            s.undecidable,
            s.tls_violations,
            s.over_broad_lines
        ));
    }
    for c in &r.configs {
        out.push_str(&format!(
            "\n## {}\n\n",
            md_code(c.files.first().map(String::as_str).unwrap_or(""))
        ));
        let entries: Vec<&EntryFinding> = c.entries.iter().filter(|e| notable(e)).collect();
        if !entries.is_empty() {
            out.push_str("| entry | ports | finding | why | from |\n|---|---|---|---|---|\n");
            for e in entries {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    md_code(&format!("{}{}", e.host, e.path.as_deref().unwrap_or(""))),
                    ports(&e.ports),
                    e.coverage.as_str(),
                    md_text(&e.detail.join("; ")),
                    md_text(
                        &e.provenance
                            .first()
                            .map(|p| p.to_string())
                            .unwrap_or_default()
                    )
                ));
            }
        }
        if !c.tls.is_empty() {
            out.push_str(
                "\n| TLS finding | subject | request | line | why |\n|---|---|---|---|---|\n",
            );
            for t in &c.tls {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    tls_issue(t.issue),
                    md_code(&t.subject),
                    md_code(&t.request),
                    md_text(&t.by.as_ref().map(|o| o.to_string()).unwrap_or_default()),
                    md_text(&t.why)
                ));
            }
        }
        if !c.security.is_empty() {
            out.push_str("\n| security finding | line | why | fix |\n|---|---|---|---|\n");
            for f in &c.security {
                out.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    security_issue(f.issue),
                    md_text(&f.at.to_string()),
                    md_text(&f.why),
                    md_text(&f.fix)
                ));
            }
        }
        if !c.lines.is_empty() {
            out.push_str("\n| line | finding | text | why |\n|---|---|---|---|\n");
            for l in &c.lines {
                out.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    md_text(&l.at.to_string()),
                    line_issue(l.issue),
                    md_code(&l.text),
                    md_text(&l.why)
                ));
            }
        }
    }
    out
}
