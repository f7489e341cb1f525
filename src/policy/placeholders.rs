//! Placeholders: workspace and instance hosts become the site's own, or are reported.
//!
//! `<workspace-id>` and `<instance>` hosts, and the wildcards Microsoft
//! publishes in their place (`*.ods.opinsights.azure.com` in the
//! workbooks), become the site's own hosts. Whatever the ruleset gives no
//! value for is reported, and kept as Microsoft's wildcard only if the
//! ruleset allows it.

use super::Unresolved;
use super::collapse::Candidate;
use crate::model::{DnsName, Endpoint, HostPattern, Placeholder, Template};
use crate::site::Site;
use crate::sources::builtin;

pub fn resolve(
    endpoints: Vec<&Endpoint>,
    site: &Site,
    unresolved: &mut Vec<Unresolved>,
) -> Vec<Candidate> {
    let known = known_templates(&endpoints);
    let mut out = Vec::new();
    for e in endpoints {
        let mut templates: Vec<&Template> = match &e.host {
            HostPattern::Template(t) => vec![t],
            // A published wildcard that stands for a placeholder.
            HostPattern::Subdomains(x) => known.iter().filter(|t| t.fallback == *x).collect(),
            _ => Vec::new(),
        };
        if templates.is_empty() {
            out.push(Candidate::from_endpoint(e));
            continue;
        }
        let base = Candidate::from_endpoint(e);
        let placeholder = templates[0].placeholder;
        templates.retain(|t| t.placeholder == placeholder);
        let values = values(site, placeholder);
        if values.is_empty() {
            out.extend(unresolved_candidate(base, templates[0], site, unresolved));
            continue;
        }
        for t in templates {
            for v in &values {
                match fill(t, v) {
                    Some(host) => {
                        let mut c = base.clone();
                        c.notes.push(format!(
                            "{} filled from the ruleset ({})",
                            t.placeholder.token(),
                            setting(t.placeholder)
                        ));
                        c.host = host;
                        out.push(c);
                    }
                    None => unresolved.push(Unresolved {
                        pattern: format!("{}", HostPattern::Template(t.clone())),
                        needs: format!("{v:?} does not make a valid host name"),
                        kept_as: None,
                        provenance: e.provenance.clone(),
                    }),
                }
            }
        }
    }
    out
}

/// The templates in scope plus the built-in MMA and MDI ones, so a
/// workbook's wildcard is recognized even without the built-in sources.
fn known_templates(endpoints: &[&Endpoint]) -> Vec<Template> {
    let mut known: Vec<Template> = Vec::new();
    let builtins = builtin::mma()
        .endpoints
        .into_iter()
        .chain(builtin::mdi().endpoints);
    let in_scope = endpoints.iter().map(|e| (*e).clone());
    for e in in_scope.chain(builtins) {
        if let HostPattern::Template(t) = e.host
            && !known.contains(&t)
        {
            known.push(t);
        }
    }
    known
}

fn values(site: &Site, placeholder: Placeholder) -> Vec<String> {
    match placeholder {
        Placeholder::WorkspaceId => site
            .values
            .workspace_ids
            .iter()
            .map(|w| w.to_string())
            .collect(),
        Placeholder::Instance => site
            .values
            .mdi_instances
            .iter()
            .map(|i| i.to_string())
            .collect(),
    }
}

fn setting(placeholder: Placeholder) -> &'static str {
    match placeholder {
        Placeholder::WorkspaceId => "site.workspace_ids",
        Placeholder::Instance => "site.mdi_instances",
    }
}

/// `<value><label_suffix>.<domain>`, validated like any host.
fn fill(t: &Template, value: &str) -> Option<HostPattern> {
    let name = format!("{value}{}.{}", t.label_suffix, t.domain);
    DnsName::parse(&name).ok().map(HostPattern::Exact)
}

fn unresolved_candidate(
    mut c: Candidate,
    t: &Template,
    site: &Site,
    unresolved: &mut Vec<Unresolved>,
) -> Option<Candidate> {
    let wildcard = HostPattern::Subdomains(t.fallback.clone());
    let keep = site.values.allow_unresolved_wildcards;
    unresolved.push(Unresolved {
        pattern: c.host.to_string(),
        needs: setting(t.placeholder).to_string(),
        kept_as: keep.then(|| wildcard.to_string()),
        provenance: c.provenance.clone(),
    });
    if !keep {
        return None;
    }
    c.notes.push(format!(
        "{} not given; Microsoft's wildcard kept (site.allow_unresolved_wildcards)",
        setting(t.placeholder)
    ));
    c.host = wildcard;
    Some(c)
}
