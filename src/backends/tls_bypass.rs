//! The hosts a TLS-inspecting proxy must leave alone, in the forms proxies import.
//!
//! The hosts a TLS-inspecting proxy must leave alone, in the forms proxies
//! and firewalls import: a plain list (`.x` for a subtree, `x` for one
//! host), a Squid `ssl::server_name` ACL file, a Palo Alto EDL domain list,
//! and CSV with the reason and provenance of each entry.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::caps::{Caps, Host, HostCaps, Support};
use super::loss::plan_bypass;
use super::spelling::{Syntax, spell};
use super::{
    Backend, BackendError, LossEntry, Registered, Rendered, comment_block, header_lines,
    loss_report, provenance_comment, safe_name,
};
use crate::model::text::{display_escape, spreadsheet_safe};
use crate::policy::{Policy, TlsEntry};

const NAME: &str = "tls-bypass";

/// `[outputs.tls_bypass]`: the hosts a TLS-inspecting proxy must leave
/// alone, in several forms.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The Palo Alto list's subdomain entries rely on "Automatically
    /// expand to include subdomains" being enabled on the EDL object.
    #[serde(default = "crate::values::yes")]
    pub edl_expands_subdomains: bool,
}

pub struct TlsBypass {
    cfg: Settings,
}

impl Registered for TlsBypass {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "hosts a TLS-inspecting proxy must splice: plain list, Squid ACL, Palo Alto EDL, CSV";
    fn new(cfg: Settings) -> Self {
        TlsBypass { cfg }
    }
}

const GLOB_NOT_EXEMPT: &str =
    "hosts that end in {name} without a dot before it are not exempt: they will be inspected";

/// With "Automatically expand to include subdomains" on the EDL object.
const EXPANDING: HostCaps = HostCaps {
    exact: Host::Written(Support::Broadened(
        "the EDL expands every entry to its subdomains: the host's subtree is bypassed too",
    )),
    subdomains: Host::Written(Support::Broadened(".{name} also admits {name} itself")),
    domain: Host::Written(Support::Exact),
    suffix_glob: Host::Written(Support::Narrowed(GLOB_NOT_EXEMPT)),
};

/// Without it, subtrees cannot go into the EDL at all.
const NOT_EXPANDING: HostCaps = HostCaps {
    exact: Host::Written(Support::Exact),
    subdomains: Host::Written(Support::Broadened(
        ".{name} also admits {name} itself; left out of the EDL: subtrees need \"Automatically expand to include subdomains\"",
    )),
    domain: Host::Written(Support::Narrowed(
        "left out of the EDL: subtrees need \"Automatically expand to include subdomains\"",
    )),
    suffix_glob: Host::Written(Support::Narrowed(
        "hosts that end in {name} without a dot before it are not exempt: they will be inspected; left out of the EDL: subtrees need \"Automatically expand to include subdomains\"",
    )),
};

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

    fn caps(&self) -> Caps {
        // Allow entries are not exemptions: this format carries only the
        // TLS exemptions.
        Caps {
            tls_bypass: Some(if self.cfg.edl_expands_subdomains {
                EXPANDING
            } else {
                NOT_EXPANDING
            }),
            ..Caps::NONE
        }
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let mut lists = Lists::default();
        let mut loss = loss_report(NAME);
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
        let caps = if self.cfg.edl_expands_subdomains {
            EXPANDING
        } else {
            NOT_EXPANDING
        };
        let (plan, write) = plan_bypass(t, &caps);
        if !write {
            return Ok(plan.bypass_entry(&t.host, Vec::new()));
        }
        safe_name(NAME, &t.host)?;
        // A suffix glob has no form in these lists; its subtree is the
        // nearest one that exempts nothing Microsoft did not list.
        let plain_host = match &t.host {
            crate::model::HostPattern::SuffixGlob(n) => {
                crate::model::HostPattern::Domain(n.clone())
            }
            h => h.clone(),
        };
        let mut expressed = Vec::new();
        for line in spell(Syntax::Dstdomain, &plain_host) {
            expressed.push(format!("tls-bypass.txt: {line}"));
            expressed.push(format!("tls-bypass.ssl_server_name: {line}"));
            lists.plain.insert(line.clone());
            lists.csv.push([
                line,
                t.host.kind().to_string(),
                display_escape(&t.reasons.join("; ")),
                provenance_comment(&t.provenance),
                t.provenance.len().to_string(),
            ]);
        }
        let edl = Syntax::Edl {
            expands: self.cfg.edl_expands_subdomains,
        };
        for line in spell(edl, &t.host) {
            expressed.push(format!("tls-bypass-edl.txt: {line}"));
            lists.edl.insert(line);
        }
        Ok(plan.bypass_entry(&t.host, expressed))
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
