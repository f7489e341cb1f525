//! Ruleset choices that change what devices get, said on every run with the line and the fix.
//!
//! A ruleset can be valid and still not give devices what its author
//! meant: MMA selected without a workspace ID (the MMA hosts are left
//! out), an `exclude` that matches nothing, IDs for a product not
//! selected, no output at all, an exemption for a host nothing allows.
//! Each is one warning naming the ruleset line and the fix; `generate`
//! prints them on stderr and in `loss-report.md`, and `--strict` refuses
//! to publish while any remains.

use std::collections::BTreeMap;
use std::fmt;

use super::Ruleset;
use crate::model::Product;
use crate::model::host::parse_pattern;
use crate::policy::Policy;
use crate::policy::matching::covers;

/// One warning: where in the ruleset, what, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}; {}",
            self.file, self.line, self.column, self.message, self.fix
        )
    }
}

/// Every warning of a ruleset and the policy built from it, in ruleset
/// line order.
pub fn of(ruleset: &Ruleset, policy: &Policy) -> Vec<Warning> {
    let w = Writer { ruleset };
    let mut out = Vec::new();
    out.extend(unresolved(&w, policy));
    out.extend(policy.report.unapplied_excludes.iter().map(|x| {
        w.at(
            &["exclude"],
            format!("exclude {x}"),
            "remove it, or exclude a host the sources list".to_string(),
        )
    }));
    out.extend(unused_ids(&w));
    out.extend(unallowed_exemptions(&w, policy));
    if crate::backends::registry::configured(&ruleset.outputs).is_empty() {
        out.push(
            w.at(
                &["[outputs", "[scope]"],
                "no [outputs.*] table: only policy.json and the loss report are written"
                    .to_string(),
                "add the outputs the site deploys, such as [outputs.squid] or [outputs.pac]"
                    .to_string(),
            ),
        );
    }
    out.sort_by_key(|w| (w.line, w.column));
    out
}

struct Writer<'a> {
    ruleset: &'a Ruleset,
}

impl Writer<'_> {
    /// A warning at the first of `keys` the ruleset writes (line 1 if none).
    fn at(&self, keys: &[&str], message: String, fix: String) -> Warning {
        let (line, column) = keys
            .iter()
            .find_map(|k| super::setting_line(&self.ruleset.text, k))
            .unwrap_or((1, 1));
        Warning {
            file: self.ruleset.site.file.display().to_string(),
            line,
            column,
            message,
            fix,
        }
    }
}

/// Placeholders the ruleset gave no value for, one warning per setting.
fn unresolved(w: &Writer, policy: &Policy) -> Vec<Warning> {
    let mut by_setting: BTreeMap<&str, Vec<&crate::policy::Unresolved>> = BTreeMap::new();
    for u in &policy.report.unresolved {
        by_setting.entry(u.needs.as_str()).or_default().push(u);
    }
    by_setting
        .into_iter()
        .map(|(needs, list)| {
            let key = needs.rsplit('.').next().unwrap_or(needs);
            let kept = list.iter().all(|u| u.kept_as.is_some());
            let what = if kept {
                "kept as Microsoft's wildcard (allow_unresolved_wildcards)"
            } else {
                "left out"
            };
            let message = format!(
                "{} endpoints need {needs} and are {what}: {}",
                list.len(),
                list.first().map(|u| u.pattern.as_str()).unwrap_or("")
            );
            w.at(
                &[key, "[site]", "products"],
                message,
                format!("add {key} = [\"…\"] under [site]"),
            )
        })
        .collect()
}

/// IDs given for a product the scope does not select: nothing uses them.
fn unused_ids(w: &Writer) -> Vec<Warning> {
    let site = &w.ruleset.site;
    let products = &site.scope.products;
    let mut out = Vec::new();
    for (key, given, product) in [
        (
            "workspace_ids",
            !site.values.workspace_ids.is_empty(),
            Product::Mma,
        ),
        (
            "mdi_instances",
            !site.values.mdi_instances.is_empty(),
            Product::Mdi,
        ),
    ] {
        if given && !products.contains(&product) {
            out.push(w.at(
                &[key],
                format!(
                    "{key} is set but {} is not among products: nothing uses it",
                    product.as_str()
                ),
                format!("add \"{}\" to products, or remove {key}", product.as_str()),
            ));
        }
    }
    out
}

/// `[tls] bypass` patterns no policy entry allows: the exemption changes
/// nothing a device can reach, which is rarely what was meant.
fn unallowed_exemptions(w: &Writer, policy: &Policy) -> Vec<Warning> {
    w.ruleset
        .site
        .tls
        .bypass
        .iter()
        .filter_map(|b| parse_pattern(b.as_str()).ok())
        .filter(|b| {
            !policy
                .entries
                .iter()
                .any(|e| covers(&e.host, b) || covers(b, &e.host))
        })
        .map(|b| {
            w.at(
                &["bypass"],
                format!(
                    "[tls] bypass {b} is exempt from inspection, but the policy allows no such host"
                ),
                "add it to [[allow]] as well, or remove it from bypass".to_string(),
            )
        })
        .collect()
}
