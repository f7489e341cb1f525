//! The hosts a TLS-inspecting proxy must leave alone, in the forms proxies
//! and firewalls import: a plain list (`.x` for a subtree, `x` for one
//! host), a Squid `ssl::server_name` ACL file, a Palo Alto EDL domain list,
//! and CSV with the reason and provenance of each entry.

use std::collections::BTreeSet;

use super::{
    Backend, BackendError, Capabilities, LossEntry, LossReport, Outcome, OutputOptions, Rendered,
    comment_block, header_lines, provenance_comment, safe_name,
};
use crate::model::HostPattern;
use crate::normalize::text::{display_escape, spreadsheet_safe};
use crate::policy::{Policy, TlsEntry};
use crate::ruleset::TlsBypassOutput;

const NAME: &str = "tls-bypass";

pub struct TlsBypass {
    cfg: TlsBypassOutput,
}

impl TlsBypass {
    pub fn new(cfg: TlsBypassOutput) -> Self {
        TlsBypass { cfg }
    }
}

#[derive(Default)]
struct Lists {
    plain: BTreeSet<String>,
    edl: BTreeSet<String>,
    csv: Vec<[String; 5]>,
}

impl Backend for TlsBypass {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            exact: true,
            subdomains: false,
            domain: true,
            suffix_glob: false,
            paths: false,
            prefixes: false,
        }
    }

    fn render(&self, policy: &Policy, _opts: &OutputOptions) -> Result<Rendered, BackendError> {
        let mut lists = Lists::default();
        let mut loss = LossReport {
            backend: NAME.to_string(),
            entries: Vec::new(),
        };
        for t in &policy.tls.bypass {
            loss.entries.push(self.express(t, &mut lists)?);
        }
        let text = |what: &str, lines: &BTreeSet<String>| {
            let mut out = comment_block(&header_lines(policy, what));
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
            out.into_bytes()
        };
        let mut rendered = Rendered {
            loss,
            ..Default::default()
        };
        let f = &mut rendered.files;
        f.insert(
            "tls-bypass.txt".into(),
            text(
                "hosts TLS inspection must not touch (.x = x and below)",
                &lists.plain,
            ),
        );
        f.insert(
            "tls-bypass.ssl_server_name".into(),
            text("Squid ssl::server_name ACL: hosts to splice", &lists.plain),
        );
        // An EDL is fetched by the firewall and has no comment syntax: no header.
        let mut edl = String::new();
        for l in &lists.edl {
            edl.push_str(l);
            edl.push('\n');
        }
        f.insert("tls-bypass-edl.txt".into(), edl.into_bytes());
        f.insert("tls-bypass.csv".into(), csv_bytes(&lists.csv));
        Ok(rendered)
    }
}

impl TlsBypass {
    fn express(&self, t: &TlsEntry, lists: &mut Lists) -> Result<LossEntry, BackendError> {
        let name = safe_name(NAME, &t.host)?.to_string();
        let reasons = t.reasons.join("; ");
        // A suffix glob has no form in these lists; its subtree is the
        // nearest one that exempts nothing Microsoft did not list.
        let glob_why = format!(
            "hosts that end in {name} without a dot before it are not exempt: they will be inspected"
        );
        let (plain, plain_why) = match &t.host {
            HostPattern::Exact(_) => (Some(name.clone()), None),
            HostPattern::Domain(_) => (Some(format!(".{name}")), None),
            HostPattern::Subdomains(_) => (
                Some(format!(".{name}")),
                Some(format!(".{name} also admits {name} itself")),
            ),
            HostPattern::SuffixGlob(_) => (Some(format!(".{name}")), Some(glob_why.clone())),
            HostPattern::Template(_) => (None, None),
        };
        let (edl, edl_why) = match (&t.host, self.cfg.edl_expands_subdomains) {
            (HostPattern::Exact(_), true) => (
                Some(name.clone()),
                Some("the EDL expands every entry to its subdomains: the host's subtree is bypassed too".to_string()),
            ),
            (HostPattern::Exact(_), false) => (Some(name.clone()), None),
            (HostPattern::Domain(_) | HostPattern::Subdomains(_), true) => (Some(name.clone()), None),
            (HostPattern::SuffixGlob(_), true) => (Some(name.clone()), None),
            _ => (None, None),
        };
        let Some(plain) = plain else {
            return Ok(LossEntry::for_host(
                &t.host,
                Outcome::Dropped,
                Vec::new(),
                "an unfilled placeholder has no host to exempt",
            ));
        };
        lists.plain.insert(plain.clone());
        let mut expressed = vec![
            format!("tls-bypass.txt: {plain}"),
            format!("tls-bypass.ssl_server_name: {plain}"),
        ];
        let mut why: Vec<String> = plain_why.into_iter().collect();
        match edl {
            Some(line) => {
                expressed.push(format!("tls-bypass-edl.txt: {line}"));
                lists.edl.insert(line);
                why.extend(edl_why);
            }
            None => why.push(
                "left out of the EDL: subtrees need \"Automatically expand to include subdomains\""
                    .to_string(),
            ),
        }
        lists.csv.push([
            plain,
            t.host.kind().to_string(),
            display_escape(&reasons),
            provenance_comment(&t.provenance),
            t.provenance.len().to_string(),
        ]);
        let outcome = match &t.host {
            HostPattern::SuffixGlob(_) => Outcome::Narrowed,
            _ if why.is_empty() => Outcome::Exact,
            _ => Outcome::Broadened,
        };
        Ok(LossEntry::for_host(
            &t.host,
            outcome,
            expressed,
            &why.join("; "),
        ))
    }
}

fn csv_bytes(rows: &[[String; 5]]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["host", "kind", "reason", "provenance", "sources"]);
    for row in rows {
        let safe: Vec<String> = row.iter().map(|f| spreadsheet_safe(f)).collect();
        let _ = w.write_record(&safe);
    }
    w.into_inner().unwrap_or_default()
}
