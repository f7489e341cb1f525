//! The loss report: for every policy entry and every backend, whether the
//! format expressed it exactly, broadened, narrowed, replaced or dropped
//! it, and why. Written as `loss-report.json` and `loss-report.md`.

use serde::Serialize;

use crate::model::Route;
use crate::policy::{PolicyEntry, TlsConflict, TlsPolicy};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Exact,
    Broadened,
    Narrowed,
    Replaced,
    Dropped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Exact => "exact",
            Outcome::Broadened => "broadened",
            Outcome::Narrowed => "narrowed",
            Outcome::Replaced => "replaced",
            Outcome::Dropped => "dropped",
        }
    }
}

/// How one backend expressed one policy entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LossEntry {
    /// The entry as `pattern[path]`.
    pub entry: String,
    pub ports: Vec<u16>,
    pub route: Route,
    pub outcome: Outcome,
    /// What the output holds for it (lines, rule names).
    pub expressed_as: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
}

impl LossEntry {
    pub fn new(e: &PolicyEntry, outcome: Outcome, expressed_as: Vec<String>, why: &str) -> Self {
        LossEntry {
            entry: entry_label(e),
            ports: e.ports.iter().copied().collect(),
            route: e.route,
            outcome,
            expressed_as,
            why: why.to_string(),
        }
    }
}

impl LossEntry {
    /// For entries that are not allow entries (TLS bypass hosts).
    pub fn for_host(
        host: &crate::model::HostPattern,
        outcome: Outcome,
        expressed_as: Vec<String>,
        why: &str,
    ) -> Self {
        LossEntry {
            entry: host.to_string(),
            ports: Vec::new(),
            route: Route::Proxy,
            outcome,
            expressed_as,
            why: why.to_string(),
        }
    }
}

pub fn entry_label(e: &PolicyEntry) -> String {
    format!("{}{}", e.host, e.path.as_deref().unwrap_or(""))
}

/// One backend's report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LossReport {
    pub backend: String,
    pub entries: Vec<LossEntry>,
}

/// All backends' reports, as written to disk.
#[derive(Clone, Debug, Serialize)]
pub struct LossReports<'a> {
    pub format: &'static str,
    pub version: u32,
    pub ruleset: &'a str,
    /// TLS decisions that go against one of Microsoft's statements: they
    /// hold for every backend.
    pub tls: TlsLosses<'a>,
    pub backends: Vec<&'a LossReport>,
}

/// The TLS part of the loss report.
#[derive(Clone, Debug, Serialize)]
pub struct TlsLosses<'a> {
    pub conflicts: &'a [TlsConflict],
    pub warnings: &'a [String],
}

impl<'a> TlsLosses<'a> {
    pub fn of(tls: &'a TlsPolicy) -> Self {
        TlsLosses {
            conflicts: &tls.conflicts,
            warnings: &tls.warnings,
        }
    }
}

fn md_cell(text: &str) -> String {
    // Our own text and validated host names: only the table syntax needs
    // care.
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Conflicts and warnings, for every backend at once.
fn tls_markdown(tls: &TlsPolicy) -> String {
    let mut out = String::from("## TLS inspection\n\n");
    if tls.conflicts.is_empty() && tls.warnings.is_empty() {
        out.push_str("No conflict and no choice against Microsoft's guidance.\n\n");
        return out;
    }
    if !tls.conflicts.is_empty() {
        out.push_str("| exempt per | never exempt per | decision | why |\n|---|---|---|---|\n");
        for c in &tls.conflicts {
            out.push_str(&format!(
                "| `{}`: {} | `{}`: {} | {} | {} |\n",
                c.bypass,
                md_cell(&c.bypass_reasons.join("; ")),
                c.never_bypass,
                md_cell(&c.never_bypass_reasons.join("; ")),
                c.decision,
                md_cell(&c.why)
            ));
        }
        out.push('\n');
    }
    for w in &tls.warnings {
        out.push_str(&format!("- warning: {}\n", md_cell(w)));
    }
    if !tls.warnings.is_empty() {
        out.push('\n');
    }
    out
}

/// The Markdown form: per backend, a summary line and every entry that is
/// not exact.
pub fn to_markdown(ruleset: &str, tls: &TlsPolicy, reports: &[&LossReport]) -> String {
    let mut out = format!("# Loss report: {ruleset}\n\n");
    out.push_str(&tls_markdown(tls));
    if reports.is_empty() {
        out.push_str("No outputs configured.\n");
    }
    for r in reports {
        let count = |o: Outcome| r.entries.iter().filter(|e| e.outcome == o).count();
        out.push_str(&format!(
            "## {}\n\n{} entries: {} exact, {} broadened, {} narrowed, {} replaced, {} dropped.\n\n",
            r.backend,
            r.entries.len(),
            count(Outcome::Exact),
            count(Outcome::Broadened),
            count(Outcome::Narrowed),
            count(Outcome::Replaced),
            count(Outcome::Dropped)
        ));
        let lossy: Vec<&LossEntry> = r
            .entries
            .iter()
            .filter(|e| e.outcome != Outcome::Exact)
            .collect();
        if lossy.is_empty() {
            out.push_str("Every entry is expressed exactly.\n\n");
            continue;
        }
        out.push_str("| entry | ports | outcome | expressed as | why |\n|---|---|---|---|---|\n");
        for e in lossy {
            let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                e.entry,
                ports.join(", "),
                e.outcome.as_str(),
                e.expressed_as
                    .iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(" "),
                e.why.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}
