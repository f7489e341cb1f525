//! The audit report of one run, as text for a terminal, JSON or Markdown.
//!
//! The audit report: one document per run (every configuration audited
//! against one policy), written as text for a terminal, JSON (shape in
//! docs/audit-json.md) or Markdown. Each form leads with the verdict the
//! exit status gives ([`Report::judge`] decides both), then takes each
//! configuration's findings in the order an auditor acts on them
//! ([`Sections`]): gaps with the change that closes each, undecidable and
//! unjudged entries, TLS violations grouped by the line that causes them,
//! security findings, over-broad lines, the other line findings, and last
//! the entries covered more broadly, counted unless asked for.

use std::collections::BTreeMap;

use serde::Serialize;

use super::engine::{
    ConfigAudit, Coverage, EntryFinding, LineFinding, LineIssue, SecurityFinding, SecurityIssue,
    TlsFinding, TlsIssue,
};
use crate::backends::reader::Origin;
use crate::model::SourceInfo;
use crate::model::text::{md_code, md_text, terminal_safe};

pub const AUDIT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum AuditFormat {
    #[default]
    #[serde(rename = "egressgen-audit")]
    EgressgenAudit,
}

/// What can fail a run (`--fail-on`), in the order the exit status looks
/// at them: a TLS violation outranks a security finding, which outranks a
/// gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    Tls,
    Security,
    Gaps,
    Broad,
    Undecidable,
}

impl Gate {
    /// Every gate, the one the exit status names first.
    pub const PRECEDENCE: [Gate; 5] = [
        Gate::Tls,
        Gate::Security,
        Gate::Gaps,
        Gate::Broad,
        Gate::Undecidable,
    ];
}

/// How the run ended, as the exit status says it: printed first by every
/// format, so the report and `$?` cannot disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether nothing `fail_on` names was found (exit status 0).
    pub pass: bool,
    pub exit: u8,
    pub fail_on: Vec<Gate>,
    /// Entries missing, partly covered or routed wrong, over every
    /// configuration.
    pub gaps: usize,
    pub tls_violations: usize,
    pub security_findings: usize,
    pub over_broad_lines: usize,
    /// Undecidable entries and lines.
    pub undecidable: usize,
}

impl Verdict {
    /// `FAIL (exit 20): 5 gaps, 0 TLS violations, 2 security findings`;
    /// the counts of `broad` and `undecidable` only when they can fail it.
    pub fn line(&self) -> String {
        let mut parts = vec![
            count(self.gaps, "gap", "gaps"),
            count(self.tls_violations, "TLS violation", "TLS violations"),
            count(
                self.security_findings,
                "security finding",
                "security findings",
            ),
        ];
        if self.fail_on.contains(&Gate::Broad) {
            parts.push(count(
                self.over_broad_lines,
                "over-broad line",
                "over-broad lines",
            ));
        }
        if self.fail_on.contains(&Gate::Undecidable) {
            parts.push(format!("{} undecidable", self.undecidable));
        }
        let word = if self.pass { "PASS" } else { "FAIL" };
        format!("{word} (exit {}): {}", self.exit, parts.join(", "))
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Every configuration of one run, against one policy.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: AuditFormat,
    pub version: u32,
    pub ruleset: String,
    /// Set by [`Report::judge`]; absent from a report nobody judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    pub configs: Vec<ConfigAudit>,
    /// The policy's sources, for the HTML page's header. Not in the JSON,
    /// whose shape is documented without them.
    #[serde(skip)]
    pub sources: Vec<SourceInfo>,
    /// When the run happened (UTC), for the HTML page; the other formats
    /// stay the same from run to run.
    #[serde(skip)]
    pub run_at: Option<String>,
}

impl Report {
    pub fn new(ruleset: &str, configs: Vec<ConfigAudit>) -> Report {
        Report {
            format: AuditFormat::EgressgenAudit,
            version: AUDIT_VERSION,
            ruleset: ruleset.to_string(),
            verdict: None,
            configs,
            sources: Vec::new(),
            run_at: None,
        }
    }

    pub fn with_sources(mut self, sources: &[SourceInfo]) -> Report {
        self.sources = sources.to_vec();
        self
    }

    pub fn with_run_at(mut self, when: String) -> Report {
        self.run_at = Some(when);
        self
    }

    /// How many findings of every configuration a gate counts.
    pub fn count(&self, gate: Gate) -> usize {
        self.configs
            .iter()
            .map(|c| {
                let s = &c.summary;
                match gate {
                    Gate::Tls => s.tls_violations,
                    Gate::Security => s.security_findings,
                    Gate::Gaps => s.partly + s.missing + s.routed_wrong,
                    Gate::Broad => s.over_broad_lines,
                    Gate::Undecidable => s.undecidable + s.undecidable_lines,
                }
            })
            .sum()
    }

    /// The gate that fails the run, the most severe first; `None` passes.
    pub fn tripped(&self, fail_on: &[Gate]) -> Option<Gate> {
        Gate::PRECEDENCE
            .into_iter()
            .find(|g| fail_on.contains(g) && self.count(*g) > 0)
    }

    /// Decides the run once, for the exit status and the report alike:
    /// records the verdict (`code` maps what tripped to the exit status)
    /// and returns what tripped.
    pub fn judge(&mut self, fail_on: &[Gate], code: impl Fn(Option<Gate>) -> u8) -> Option<Gate> {
        let tripped = self.tripped(fail_on);
        let mut fail_on = fail_on.to_vec();
        fail_on.sort_unstable();
        fail_on.dedup();
        self.verdict = Some(Verdict {
            pass: tripped.is_none(),
            exit: code(tripped),
            fail_on,
            gaps: self.count(Gate::Gaps),
            tls_violations: self.count(Gate::Tls),
            security_findings: self.count(Gate::Security),
            over_broad_lines: self.count(Gate::Broad),
            undecidable: self.count(Gate::Undecidable),
        });
        tripped
    }
}

/// TLS findings caused by one line: one change ends them all.
#[derive(Clone, Debug)]
pub struct TlsGroup<'a> {
    pub issue: TlsIssue,
    /// The line that decides (an `ssl_bump bump all`).
    pub by: Option<&'a Origin>,
    pub findings: Vec<&'a TlsFinding>,
    pub fix: GroupFix,
}

/// Where the host goes in a [`GroupFix::Each`] template.
pub const HOST: &str = "<host>";

/// The change a group of findings asks for, said once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupFix {
    None,
    /// One change ends every finding of the group.
    One(String),
    /// The same change for each host: `template` with [`HOST`] standing
    /// for each of `hosts`, as the configuration spells them.
    Each {
        template: String,
        hosts: Vec<String>,
    },
    /// Changes that differ beyond a host name: each once.
    Several(Vec<String>),
}

/// One configuration's findings in the order an auditor acts on them.
#[derive(Clone, Debug)]
pub struct Sections<'a> {
    /// Missing, then partly covered, then routed wrong; policy order
    /// within each.
    pub gaps: Vec<&'a EntryFinding>,
    /// A line the reader cannot evaluate decides: someone must look.
    pub undecidable: Vec<&'a EntryFinding>,
    /// Placeholders the ruleset left open, entries the format cannot say.
    pub unjudged: Vec<&'a EntryFinding>,
    /// Violations first, then TLS decisions that cannot be evaluated; by
    /// line within each.
    pub tls: Vec<TlsGroup<'a>>,
    pub security: Vec<&'a SecurityFinding>,
    pub over_broad: Vec<&'a LineFinding>,
    /// Duplicate, shadowed, undecidable and ignored lines, in that order.
    pub other_lines: Vec<&'a LineFinding>,
    pub broader: Vec<&'a EntryFinding>,
}

impl<'a> Sections<'a> {
    pub fn of(c: &'a ConfigAudit) -> Sections<'a> {
        let entries = |wanted: &[Coverage]| -> Vec<&'a EntryFinding> {
            // One pass per coverage keeps policy order within each.
            wanted
                .iter()
                .flat_map(|w| c.entries.iter().filter(move |e| e.coverage == *w))
                .collect()
        };
        let (over_broad, other_lines): (Vec<_>, Vec<_>) = c
            .lines
            .iter()
            .partition(|l| l.issue == LineIssue::OverBroad);
        Sections {
            gaps: entries(&[Coverage::Missing, Coverage::Partly, Coverage::RoutedWrong]),
            undecidable: entries(&[Coverage::Undecidable]),
            unjudged: entries(&[Coverage::Unresolved, Coverage::NotExpressible]),
            tls: tls_groups(&c.tls),
            security: c.security.iter().collect(),
            over_broad,
            other_lines: sorted_lines(other_lines),
            broader: entries(&[Coverage::Broader]),
        }
    }
}

fn sorted_lines(mut lines: Vec<&LineFinding>) -> Vec<&LineFinding> {
    lines.sort_by(|a, b| (a.issue, &a.at).cmp(&(b.issue, &b.at)));
    lines
}

/// TLS findings by issue and causing line, each group with its fix.
fn tls_groups(tls: &[TlsFinding]) -> Vec<TlsGroup<'_>> {
    let mut groups: BTreeMap<(TlsIssue, Option<&Origin>), Vec<&TlsFinding>> = BTreeMap::new();
    for t in tls {
        groups.entry((t.issue, t.by.as_ref())).or_default().push(t);
    }
    groups
        .into_iter()
        .map(|((issue, by), findings)| TlsGroup {
            issue,
            by,
            fix: group_fix(findings.iter().filter_map(|t| t.fix.as_deref())),
            findings,
        })
        .collect()
}

/// The fixes of a group said once: one change, one change per host, or
/// each distinct change.
pub fn group_fix<'f>(fixes: impl Iterator<Item = &'f str>) -> GroupFix {
    let mut distinct: Vec<&str> = Vec::new();
    for f in fixes {
        if !distinct.contains(&f) {
            distinct.push(f);
        }
    }
    match distinct.as_slice() {
        [] => GroupFix::None,
        [one] => GroupFix::One(one.to_string()),
        many => match template(many) {
            Some((template, hosts)) => GroupFix::Each { template, hosts },
            None => GroupFix::Several(many.iter().map(|f| f.to_string()).collect()),
        },
    }
}

/// Fixes that differ only in one word (the host): the text around it and
/// each one's word. A reader spells its fix per host, so this is how the
/// report says it once without knowing the product's syntax.
fn template(fixes: &[&str]) -> Option<(String, Vec<String>)> {
    let first = *fixes.first()?;
    let shared = |f: &str, rev: bool| -> usize {
        let (a, b): (Vec<char>, Vec<char>) = if rev {
            (first.chars().rev().collect(), f.chars().rev().collect())
        } else {
            (first.chars().collect(), f.chars().collect())
        };
        a.iter()
            .zip(&b)
            .take_while(|(x, y)| x == y)
            .map(|(x, _)| x.len_utf8())
            .sum()
    };
    let pre = fixes.iter().map(|f| shared(f, false)).min()?;
    let suf = fixes.iter().map(|f| shared(f, true)).min()?;
    // The host is a word of its own: cut back to the space or backtick
    // before it and after it.
    let boundary = [' ', '`'];
    let prefix = &first[..first[..pre].rfind(boundary)? + 1];
    let tail = first.len() - suf;
    let suffix = &first[tail + first[tail..].find(boundary)?..];
    let hosts: Option<Vec<String>> = fixes
        .iter()
        .map(|f| {
            let word = f.get(prefix.len()..f.len().checked_sub(suffix.len())?)?;
            let plain =
                !word.is_empty() && !word.contains(char::is_whitespace) && !word.contains('`');
            plain.then(|| word.to_string())
        })
        .collect();
    Some((format!("{prefix}{HOST}{suffix}"), hosts?))
}

/// The line that stands for the entries covered more broadly when they
/// are not listed.
pub fn broader_count(n: usize) -> String {
    let (entries, them) = if n == 1 {
        ("entry", "it")
    } else {
        ("entries", "them")
    };
    format!("{n} {entries} covered more broadly (a wider line admits {them}; --all lists {them})")
}

/// What the text and Markdown forms show.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// ANSI colours (a terminal).
    pub colour: bool,
    /// List the entries covered more broadly instead of counting them
    /// (`--all`, `-v`).
    pub all: bool,
}

/// A short colour for a coverage, when writing to a terminal.
fn paint(text: &str, coverage: Coverage, colour: bool) -> String {
    let code = match coverage {
        Coverage::Exact => "32",
        Coverage::Broader | Coverage::DirectRoute | Coverage::NotExpressible => "33",
        Coverage::Partly | Coverage::Undecidable | Coverage::Unresolved => "35",
        Coverage::Missing | Coverage::RoutedWrong => "31",
    };
    ansi(text, code, colour)
}

fn ansi(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Where a configuration's findings are shown: its main file.
fn main_file(c: &ConfigAudit) -> &str {
    c.files.first().map(String::as_str).unwrap_or("")
}

/// Plain text: the verdict, then each configuration's sections.
pub fn to_text(r: &Report, style: Style) -> String {
    let mut out = String::new();
    if let Some(v) = &r.verdict {
        let code = if v.pass { "32" } else { "31" };
        out.push_str(&ansi(&v.line(), code, style.colour));
        out.push('\n');
    }
    out.push_str(&format!(
        "audit against ruleset {}\n",
        terminal_safe(&r.ruleset)
    ));
    for c in &r.configs {
        out.push_str(&text_summary(c));
        if let Some(d) = &c.default_route {
            out.push_str(&format!(
                "  default route: {}: {}\n",
                terminal_safe(&d.at.to_string()),
                terminal_safe(&d.why)
            ));
        }
        out.push_str(&text_sections(&Sections::of(c), style));
    }
    out
}

fn text_summary(c: &ConfigAudit) -> String {
    let s = &c.summary;
    format!(
        "\n{} ({}): {} entries: {} covered, {} more broadly, {} partly, {} missing, {} routed wrong, {} undecidable, {} not expressible, {} direct route, {} unresolved\n  TLS violations: {}; security findings: {}; lines: {} over-broad, {} duplicate, {} shadowed, {} undecidable, {} ignored{}\n",
        terminal_safe(main_file(c)),
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
        s.unresolved,
        s.tls_violations,
        s.security_findings,
        s.over_broad_lines,
        s.duplicate_lines,
        s.shadowed_lines,
        s.undecidable_lines,
        s.ignored_lines,
        if c.inspects {
            ""
        } else {
            " (no TLS inspection configured)"
        }
    )
}

/// The section headings, in order, as every format names them.
pub const GAPS: &str = "gaps";
pub const UNDECIDABLE: &str = "undecidable entries";
pub const UNJUDGED: &str = "entries not judged";
pub const TLS: &str = "TLS violations";
pub const SECURITY: &str = "security findings";
pub const OVER_BROAD: &str = "over-broad lines";
pub const OTHER_LINES: &str = "other line findings";
pub const BROADER: &str = "covered more broadly";

fn heading(name: &str, n: usize) -> String {
    format!("  {name} ({n}):\n")
}

fn text_sections(s: &Sections, style: Style) -> String {
    let mut out = String::new();
    for (name, list) in [
        (GAPS, &s.gaps),
        (UNDECIDABLE, &s.undecidable),
        (UNJUDGED, &s.unjudged),
    ] {
        if !list.is_empty() {
            out.push_str(&heading(name, list.len()));
            list.iter()
                .for_each(|e| out.push_str(&text_entry(e, style.colour)));
        }
    }
    if !s.tls.is_empty() {
        let n = s.tls.iter().map(|g| g.findings.len()).sum();
        out.push_str(&heading(TLS, n));
        s.tls.iter().for_each(|g| out.push_str(&text_tls(g)));
    }
    if !s.security.is_empty() {
        out.push_str(&heading(SECURITY, s.security.len()));
        s.security
            .iter()
            .for_each(|f| out.push_str(&text_security(f)));
    }
    for (name, list) in [(OVER_BROAD, &s.over_broad), (OTHER_LINES, &s.other_lines)] {
        if !list.is_empty() {
            out.push_str(&heading(name, list.len()));
            list.iter().for_each(|l| out.push_str(&text_line(l)));
        }
    }
    out.push_str(&text_broader(&s.broader, style));
    out
}

fn text_entry(e: &EntryFinding, colour: bool) -> String {
    let mut out = format!(
        "    {}: {}{} ports {}\n",
        paint(e.coverage.as_str(), e.coverage, colour),
        terminal_safe(&e.host),
        terminal_safe(e.path.as_deref().unwrap_or("")),
        ports(&e.ports)
    );
    for d in &e.detail {
        out.push_str(&format!("        {}\n", terminal_safe(d)));
    }
    if let Some(p) = e.provenance.first() {
        out.push_str(&format!("        from {}\n", terminal_safe(&p.to_string())));
    }
    if let Some(fix) = &e.fix {
        out.push_str(&format!("        fix: {}\n", terminal_safe(fix)));
    }
    out
}

/// The reason every finding of a group gives, said once.
fn shared_why<'a>(g: &TlsGroup<'a>) -> Option<&'a str> {
    let (first, rest) = g.findings.split_first()?;
    rest.iter()
        .all(|t| t.why == first.why)
        .then_some(first.why.as_str())
}

/// What a group of TLS findings says once: the line, how many, why.
fn tls_group_title(g: &TlsGroup) -> String {
    let by =
        g.by.map(|o| format!("by {o}"))
            .unwrap_or_else(|| "by no line named".to_string());
    let why = shared_why(g).map(|w| format!(": {w}")).unwrap_or_default();
    format!(
        "{} {by}, {}{why}",
        tls_issue(g.issue),
        count(g.findings.len(), "host", "hosts")
    )
}

fn text_tls(g: &TlsGroup) -> String {
    let mut out = format!("    {}\n", terminal_safe(&tls_group_title(g)));
    out.push_str(&match &g.fix {
        GroupFix::None => String::new(),
        GroupFix::One(f) => format!("        fix: {}\n", terminal_safe(f)),
        GroupFix::Each { template, hosts } => format!(
            "        fix: {}\n          for each {HOST} of: {}\n",
            terminal_safe(template),
            terminal_safe(&hosts.join(" "))
        ),
        GroupFix::Several(fixes) => fixes
            .iter()
            .map(|f| format!("        fix: {}\n", terminal_safe(f)))
            .collect(),
    });
    let same_why = shared_why(g).is_some();
    for t in &g.findings {
        out.push_str(&format!(
            "        TLS {}: {} ({}){}\n",
            tls_issue(t.issue),
            terminal_safe(&t.subject),
            terminal_safe(&t.request),
            if same_why {
                String::new()
            } else {
                format!(": {}", terminal_safe(&t.why))
            }
        ));
    }
    out
}

fn text_security(f: &SecurityFinding) -> String {
    format!(
        "    {} at {}: {}\n        fix: {}\n",
        security_issue(f.issue),
        terminal_safe(&f.at.to_string()),
        terminal_safe(&f.why),
        terminal_safe(&f.fix)
    )
}

fn text_line(l: &LineFinding) -> String {
    format!(
        "    line {} {}: {}{}\n",
        terminal_safe(&l.at.to_string()),
        line_issue(l.issue),
        terminal_safe(&l.why),
        if l.text.is_empty() {
            String::new()
        } else {
            format!(" [{}]", terminal_safe(&l.text))
        }
    )
}

/// A count, or every entry with the first reason when asked for.
fn text_broader(list: &[&EntryFinding], style: Style) -> String {
    if list.is_empty() {
        return String::new();
    }
    if !style.all {
        return format!("  {}\n", broader_count(list.len()));
    }
    let mut out = heading(BROADER, list.len());
    for e in list {
        out.push_str(&format!(
            "    {}: {}{} ports {}: {}\n",
            paint(e.coverage.as_str(), e.coverage, style.colour),
            terminal_safe(&e.host),
            terminal_safe(e.path.as_deref().unwrap_or("")),
            ports(&e.ports),
            terminal_safe(e.detail.first().map(String::as_str).unwrap_or(""))
        ));
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

/// JSON: the documented shape (docs/audit-json.md), entries in policy
/// order; the verdict says what the text's first line says.
pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
        + "\n"
}

/// Markdown: the verdict, a summary table, then each configuration's
/// sections in the text's order, with the fix of each finding.
pub fn to_markdown(r: &Report, style: Style) -> String {
    let mut out = format!("# Audit against ruleset {}\n\n", md_text(&r.ruleset));
    if let Some(v) = &r.verdict {
        out.push_str(&format!("**{}**\n\n", md_text(&v.line())));
    }
    out.push_str("| configuration | kind | entries | covered | more broadly | partly | missing | routed wrong | undecidable | TLS violations | security findings | over-broad lines |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for c in &r.configs {
        let s = &c.summary;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            code(main_file(c)),
            c.kind,
            s.entries,
            s.covered,
            s.broader,
            s.partly,
            s.missing,
            s.routed_wrong,
            s.undecidable,
            s.tls_violations,
            s.security_findings,
            s.over_broad_lines
        ));
    }
    for c in &r.configs {
        out.push_str(&format!("\n## {}\n", code(main_file(c))));
        if let Some(d) = &c.default_route {
            out.push_str(&format!(
                "\n**Default route** {}: {}\n",
                code(&d.at.to_string()),
                md_text(&d.why)
            ));
        }
        out.push_str(&md_sections(&Sections::of(c), style));
    }
    out
}

/// A Markdown code span; nothing for no text (an empty span shows its
/// backticks).
fn code(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("`{}`", md_code(text))
    }
}

fn md_heading(name: &str, n: usize) -> String {
    let mut title = name.to_string();
    if let Some(first) = title.get(..1) {
        title.replace_range(..1, &first.to_uppercase());
    }
    format!("\n### {title} ({n})\n\n")
}

fn md_sections(s: &Sections, style: Style) -> String {
    let mut out = String::new();
    for (name, list) in [
        (GAPS, &s.gaps),
        (UNDECIDABLE, &s.undecidable),
        (UNJUDGED, &s.unjudged),
    ] {
        if !list.is_empty() {
            out.push_str(&md_heading(name, list.len()));
            out.push_str(&md_entries(list));
        }
    }
    if !s.tls.is_empty() {
        let n = s.tls.iter().map(|g| g.findings.len()).sum();
        out.push_str(&md_heading(TLS, n));
        s.tls.iter().for_each(|g| out.push_str(&md_tls(g)));
    }
    if !s.security.is_empty() {
        out.push_str(&md_heading(SECURITY, s.security.len()));
        out.push_str(&md_security(&s.security));
    }
    for (name, list) in [(OVER_BROAD, &s.over_broad), (OTHER_LINES, &s.other_lines)] {
        if !list.is_empty() {
            out.push_str(&md_heading(name, list.len()));
            out.push_str(&md_lines(list));
        }
    }
    out.push_str(&md_broader(&s.broader, style));
    out
}

fn md_entries(list: &[&EntryFinding]) -> String {
    let mut out =
        String::from("| entry | ports | finding | why | fix | from |\n|---|---|---|---|---|---|\n");
    for e in list {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            code(&format!("{}{}", e.host, e.path.as_deref().unwrap_or(""))),
            ports(&e.ports),
            e.coverage.as_str(),
            md_text(&e.detail.join("; ")),
            md_text(e.fix.as_deref().unwrap_or("")),
            md_text(
                &e.provenance
                    .first()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            )
        ));
    }
    out
}

fn md_tls(g: &TlsGroup) -> String {
    let mut out = format!("{}.", md_text(&tls_group_title(g)));
    out.push_str(&match &g.fix {
        GroupFix::None => String::new(),
        GroupFix::One(f) => format!(" Fix: {}", md_text(f)),
        GroupFix::Each { template, hosts } => format!(
            " Fix: {}, for each {} of: {}",
            md_text(template),
            md_text(HOST),
            md_text(&hosts.join(" "))
        ),
        GroupFix::Several(fixes) => format!(
            " Fixes: {}",
            fixes
                .iter()
                .map(|f| md_text(f))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    });
    out.push_str("\n\n| TLS finding | subject | request | line | why |\n|---|---|---|---|---|\n");
    for t in &g.findings {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            tls_issue(t.issue),
            code(&t.subject),
            code(&t.request),
            md_text(&t.by.as_ref().map(|o| o.to_string()).unwrap_or_default()),
            md_text(&t.why)
        ));
    }
    out.push('\n');
    out
}

fn md_security(list: &[&SecurityFinding]) -> String {
    let mut out = String::from("| security finding | line | why | fix |\n|---|---|---|---|\n");
    for f in list {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            security_issue(f.issue),
            md_text(&f.at.to_string()),
            md_text(&f.why),
            md_text(&f.fix)
        ));
    }
    out
}

fn md_lines(list: &[&LineFinding]) -> String {
    let mut out = String::from("| line | finding | text | why |\n|---|---|---|---|\n");
    for l in list {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            md_text(&l.at.to_string()),
            line_issue(l.issue),
            code(&l.text),
            md_text(&l.why)
        ));
    }
    out
}

fn md_broader(list: &[&EntryFinding], style: Style) -> String {
    match (list.is_empty(), style.all) {
        (true, _) => String::new(),
        (false, false) => format!("\n{}\n", broader_count(list.len())),
        (false, true) => md_heading(BROADER, list.len()) + &md_entries(list),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_that_differ_in_the_host_are_said_once() {
        let fixes = [
            "add `acl nobump ssl::server_name a.microsoft.com` and `ssl_bump splice nobump` before s.conf:8",
            "add `acl nobump ssl::server_name b.microsoft.com` and `ssl_bump splice nobump` before s.conf:8",
            "add `acl nobump ssl::server_name a.microsoft.com` and `ssl_bump splice nobump` before s.conf:8",
            "add `acl nobump ssl::server_name .windows.net` and `ssl_bump splice nobump` before s.conf:8",
        ];
        assert_eq!(
            group_fix(fixes.into_iter()),
            GroupFix::Each {
                template: format!(
                    "add `acl nobump ssl::server_name {HOST}` and `ssl_bump splice nobump` before s.conf:8"
                ),
                hosts: vec![
                    "a.microsoft.com".into(),
                    "b.microsoft.com".into(),
                    ".windows.net".into()
                ],
            }
        );
    }

    #[test]
    fn fixes_that_differ_otherwise_are_each_kept() {
        let fixes = [
            "add x.com to acl a at s.conf:1 (spliced by the rule at s.conf:2)",
            "move the line at s.conf:9 before the line at s.conf:3",
        ];
        assert_eq!(
            group_fix(fixes.into_iter()),
            GroupFix::Several(fixes.iter().map(|f| f.to_string()).collect())
        );
        // Differing in more than one word is no single-host template.
        let fixes = ["add a to acl x at f:1", "add b to acl y at f:1"];
        assert!(matches!(group_fix(fixes.into_iter()), GroupFix::Several(_)));
        assert_eq!(
            group_fix(["same", "same"].into_iter()),
            GroupFix::One("same".into())
        );
        assert_eq!(group_fix([].into_iter()), GroupFix::None);
    }

    #[test]
    fn the_verdict_line_counts_what_can_fail_the_run() {
        let mut v = Verdict {
            pass: false,
            exit: 20,
            fail_on: vec![Gate::Tls, Gate::Security, Gate::Gaps],
            gaps: 5,
            tls_violations: 0,
            security_findings: 1,
            over_broad_lines: 3,
            undecidable: 2,
        };
        assert_eq!(
            v.line(),
            "FAIL (exit 20): 5 gaps, 0 TLS violations, 1 security finding"
        );
        v.fail_on.push(Gate::Broad);
        assert!(v.line().ends_with(", 3 over-broad lines"), "{}", v.line());
    }
}
