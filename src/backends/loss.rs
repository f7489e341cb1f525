//! The loss report and its one classifier: how each backend expressed each policy entry.
//!
//! The loss report: for every policy entry and every backend, whether the
//! format expressed it exactly, broadened, narrowed, replaced or dropped
//! it, and why. Written as `loss-report.json` and `loss-report.md`.

use serde::Serialize;

use super::caps::{Caps, Host, HostCaps, Paths, Support};
use crate::model::text::{md_code, md_text};
use crate::model::{HostPattern, Inconsistency, Via};
use crate::policy::prefixes::{PrefixPolicy, TagCover, tag_for};
use crate::policy::{PolicyEntry, TlsConflict, TlsEntry, TlsPolicy};

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
    /// The key of the policy entry ([`PolicyEntry::key`]) or TLS
    /// exemption this line is about.
    pub key: String,
    /// The entry as `pattern[path]`.
    pub entry: String,
    pub ports: Vec<u16>,
    pub route: Via,
    pub outcome: Outcome,
    /// What the output holds for it (lines, rule names).
    pub expressed_as: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
}

impl LossEntry {
    pub fn new(e: &PolicyEntry, outcome: Outcome, expressed_as: Vec<String>, why: &str) -> Self {
        LossEntry {
            key: e.key(),
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
            key: TlsEntry::bypass_key(host),
            entry: host.to_string(),
            ports: Vec::new(),
            route: Via::Proxy,
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
    /// Source rows that contradict themselves and concern this site: what
    /// every backend writes for them rests on a label that may be wrong.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub inconsistencies: &'a [Inconsistency],
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

/// Rows whose label and host name disagree: listed only when there are
/// some, since the text comes from the sources.
fn inconsistencies_markdown(list: &[Inconsistency]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Source inconsistencies\n\nKept as Microsoft published them; check each before relying on it.\n\n| host | labelled | name implies | where | what |\n|---|---|---|---|---|\n",
    );
    for i in list {
        let p = &i.provenance;
        let place = [
            Some(p.file.clone()),
            p.sheet.clone(),
            p.line.map(|l| format!("line {l}")),
            p.cell.clone(),
        ];
        let place: Vec<String> = place.into_iter().flatten().collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            md_code(&i.host),
            md_text(i.labelled.as_str()),
            md_text(i.implied.as_str()),
            md_text(&place.join(", ")),
            md_text(&i.message)
        ));
    }
    out.push('\n');
    out
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
                c.decision.as_str(),
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

/// Ruleset choices that change what devices get, first: each with its
/// line and the fix.
fn warnings_markdown(warnings: &[String]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Ruleset warnings\n\n");
    for w in warnings {
        out.push_str(&format!("- {}\n", crate::model::text::md_text(w)));
    }
    out.push('\n');
    out
}

/// The Markdown form: per backend, a summary line and every entry that is
/// not exact.
pub fn to_markdown(
    ruleset: &str,
    tls: &TlsPolicy,
    inconsistencies: &[Inconsistency],
    warnings: &[String],
    reports: &[&LossReport],
) -> String {
    let mut out = format!("# Loss report: {ruleset}\n\n");
    out.push_str(&warnings_markdown(warnings));
    out.push_str(&tls_markdown(tls));
    out.push_str(&inconsistencies_markdown(inconsistencies));
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

/// How one allow entry is to be written, per carried port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The host pattern alone.
    Host,
    /// The host pattern with the entry's path.
    HostAndPath,
    /// A URL match on plain HTTP: host (exactly, whatever its kind) and
    /// path together.
    Url,
}

/// What the classifier decided for one entry, before the backend writes
/// it: the outcome, why, and which ports to write in which form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub outcome: Outcome,
    pub why: Vec<String>,
    pub writes: Vec<(u16, Form)>,
    /// A service tag's prefixes stand in for the names.
    pub tag: Option<String>,
}

impl Plan {
    fn new() -> Self {
        Plan {
            outcome: Outcome::Exact,
            why: Vec::new(),
            writes: Vec::new(),
            tag: None,
        }
    }

    fn add(&mut self, outcome: Outcome, why: String) {
        self.outcome = self.outcome.max(outcome);
        if !why.is_empty() && !self.why.contains(&why) {
            self.why.push(why);
        }
    }

    fn support(&mut self, s: Support, fill: &Fill) -> bool {
        match s {
            Support::Exact => true,
            Support::Broadened(w) => {
                self.add(Outcome::Broadened, fill.text(w));
                true
            }
            Support::Narrowed(w) => {
                self.add(Outcome::Narrowed, fill.text(w));
                true
            }
            Support::Cannot(w) => {
                self.add(Outcome::Exact, fill.text(w));
                false
            }
        }
    }

    /// The loss-report line, once the backend has written `expressed`.
    pub fn entry(self, e: &PolicyEntry, mut expressed: Vec<String>) -> LossEntry {
        if let Some(tag) = &self.tag {
            let line = format!("{tag} prefixes");
            if !expressed.contains(&line) {
                expressed.push(line);
            }
        }
        let outcome = if expressed.is_empty() {
            Outcome::Dropped
        } else {
            self.outcome
        };
        LossEntry::new(e, outcome, expressed, &self.why.join("; "))
    }
}

/// The values a reason template is filled with.
struct Fill<'a> {
    name: &'a str,
    path: &'a str,
    port: String,
    route: &'static str,
    via: &'static str,
    tag: String,
    part: String,
}

impl Fill<'_> {
    fn text(&self, template: &str) -> String {
        template
            .replace("{name}", self.name)
            .replace("{path}", self.path)
            .replace("{port}", &self.port)
            .replace("{route}", self.route)
            .replace("{via}", self.via)
            .replace("{tag}", &self.tag)
            .replace("{part}", &self.part)
    }
}

const PLACEHOLDER: &str = "an unfilled placeholder";

/// The one loss classifier: an allow entry plus a format's capabilities
/// (and the policy's service tags, for formats that take no names) give
/// the outcome, the reasons, and what to write.
pub fn plan(e: &PolicyEntry, caps: &Caps, tags: &PrefixPolicy) -> Plan {
    let mut plan = Plan::new();
    let (route_support, route, via) = match e.route {
        Via::Proxy => (caps.proxy_route, "proxy", "proxy"),
        Via::Direct => (caps.direct_route, "direct", "DIRECT"),
    };
    let mut fill = Fill {
        name: e.host.name().as_str(),
        path: e.path.as_deref().unwrap_or(""),
        port: String::new(),
        route,
        via,
        tag: String::new(),
        part: String::new(),
    };
    if !plan.support(route_support, &fill) {
        return plan;
    }
    let Some(host) = caps.hosts.of(&e.host) else {
        plan.add(Outcome::Dropped, PLACEHOLDER.to_string());
        return plan;
    };
    if let Host::ByTag(words) = host {
        by_tag(&mut plan, &e.host, tags, words, &mut fill);
        return plan;
    }
    for &port in &e.ports {
        fill.port = port.to_string();
        if let super::caps::Ports::Only { why, .. } = caps.ports
            && !caps.ports.carries(port)
        {
            plan.add(Outcome::Narrowed, fill.text(why));
            continue;
        }
        let form = match (&e.path, caps.paths) {
            (None, _) => Form::Host,
            (Some(_), Paths::Exact) => Form::HostAndPath,
            (Some(_), Paths::HttpOnly(_)) if port == 80 => {
                plan.writes.push((port, Form::Url));
                continue;
            }
            (Some(_), Paths::HttpOnly(why) | Paths::Widened(why)) => {
                plan.add(Outcome::Broadened, fill.text(why));
                Form::Host
            }
        };
        if host_support(&mut plan, &e.host, host, tags, &mut fill) {
            plan.writes.push((port, form));
        }
    }
    plan
}

/// The host part for one port; false when nothing is written for it.
fn host_support(
    plan: &mut Plan,
    pattern: &HostPattern,
    host: Host,
    tags: &PrefixPolicy,
    fill: &mut Fill,
) -> bool {
    match host {
        Host::Written(s) => plan.support(s, fill),
        Host::ApexThenTag { whole, otherwise } => {
            match tag_for(tags, pattern) {
                Some(TagCover::Whole(t)) => {
                    fill.tag = t;
                    plan.add(Outcome::Replaced, fill.text(whole));
                }
                _ => plan.add(Outcome::Narrowed, fill.text(otherwise)),
            }
            true
        }
        // Handled before the ports.
        Host::ByTag(_) => false,
    }
}

fn by_tag(
    plan: &mut Plan,
    host: &HostPattern,
    tags: &PrefixPolicy,
    words: super::caps::TagWords,
    fill: &mut Fill,
) {
    match tag_for(tags, host) {
        Some(TagCover::Whole(t)) => {
            fill.tag = t.clone();
            plan.add(Outcome::Replaced, fill.text(words.whole));
            plan.tag = Some(t);
        }
        Some(TagCover::Part { tag, part }) => {
            fill.tag = tag.clone();
            fill.part = part;
            plan.add(Outcome::Narrowed, fill.text(words.part));
            plan.tag = Some(tag);
        }
        None => plan.add(Outcome::Dropped, fill.text(words.none)),
    }
}

/// The loss-report line of one TLS exemption, from the format's
/// capabilities for exemptions; `None` in the plan's writes means the
/// host is not written.
pub fn plan_bypass(t: &TlsEntry, caps: &HostCaps) -> (Plan, bool) {
    let mut plan = Plan::new();
    let fill = Fill {
        name: t.host.name().as_str(),
        path: "",
        port: String::new(),
        route: "proxy",
        via: "proxy",
        tag: String::new(),
        part: String::new(),
    };
    let write = match caps.of(&t.host) {
        Some(Host::Written(s)) => plan.support(s, &fill),
        _ => {
            plan.add(Outcome::Dropped, PLACEHOLDER.to_string());
            false
        }
    };
    (plan, write)
}

impl Plan {
    /// The loss-report line of a TLS exemption.
    pub fn bypass_entry(self, host: &HostPattern, expressed: Vec<String>) -> LossEntry {
        let outcome = if expressed.is_empty() {
            Outcome::Dropped
        } else {
            self.outcome
        };
        LossEntry::for_host(host, outcome, expressed, &self.why.join("; "))
    }
}
