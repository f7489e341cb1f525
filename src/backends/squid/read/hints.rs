//! Changes a Squid audit finding asks for, written as Squid configuration lines.
//!
//! What the audit asks a Squid configuration to change, in Squid's own
//! words: the ACL to extend (and where it is written, a file or a line),
//! the rule to add or move, and whom a rule admits. A child of the
//! reader so it sees the rules and ACLs as read.

use super::{Acl, Rule, SquidConfig, Test};
use crate::backends::reader::{Change, Clients, Origin};
use crate::backends::spelling::{Syntax, spell as spell_host, url_regex};
use crate::model::HostPattern;

/// Whom the `http_access` line at `rule` admits, from its client tests.
pub(super) fn clients(conf: &SquidConfig, rule: &Origin) -> Clients {
    let Some(r) = conf.http_access.iter().find(|r| r.at == *rule) else {
        return Clients::Unknown;
    };
    let mut named = Vec::new();
    for (negated, name) in &r.conds {
        match (negated, name.as_str(), conf.acls.get(name)) {
            (false, "localhost", None) => return Clients::ProxyHost,
            (
                _,
                _,
                Some(
                    acl @ Acl {
                        test: Test::Src(ranges),
                        ..
                    },
                ),
            ) => {
                if !negated && ranges.iter().all(loopback) {
                    return Clients::ProxyHost;
                }
                let how = if *negated { "outside" } else { "in" };
                named.push(format!("clients {how} acl {name} ({})", acl.at));
            }
            _ => {}
        }
    }
    if named.is_empty() {
        Clients::Any
    } else {
        Clients::Named(named.join(" and "))
    }
}

fn loopback(r: &super::IpRange) -> bool {
    match r {
        super::IpRange::Net(n) => n.addr().is_loopback() && n.broadcast().is_loopback(),
        super::IpRange::Span(a, b) => a.is_loopback() && b.is_loopback(),
    }
}

/// A change in Squid's words, naming the file and line to edit.
pub(super) fn spell(conf: &SquidConfig, change: &Change) -> Option<String> {
    match *change {
        Change::Admit { host, ports, path } => Some(admit(conf, host, ports, path)),
        Change::Splice { host, by } => Some(splice(conf, host, by)),
        Change::DenyConnect { allow } => Some(deny_connect(conf, allow)),
        Change::RestrictClients { allow } => Some(restrict(conf, allow)),
    }
}

/// How Squid writes a host pattern in a `dstdomain` list.
fn written(host: &HostPattern) -> String {
    spell_host(Syntax::Dstdomain, host)
        .into_iter()
        .next()
        .unwrap_or_else(|| host.to_string())
}

/// The first `dstdomain`-style ACL a rule with `action` in `rules` tests
/// positively, among rules `fits` accepts.
fn domain_acl<'c>(
    conf: &'c SquidConfig,
    rules: &'c [Rule],
    action: &[&str],
    fits: impl Fn(&Rule) -> bool,
) -> Option<(&'c str, &'c Acl, &'c Rule)> {
    rules
        .iter()
        .filter(|r| action.contains(&r.action.as_str()) && fits(r))
        .find_map(|r| {
            r.conds.iter().find_map(|(negated, name)| {
                let acl = conf.acls.get(name)?;
                (!negated && matches!(acl.test, Test::Domains { .. })).then_some((
                    name.as_str(),
                    acl,
                    r,
                ))
            })
        })
}

/// "add X to acl NAME at FILE:LINE", or to the file its values come from.
fn extend(name: &str, acl: &Acl, value: &str, rule: &Rule, verb: &str) -> String {
    let origins: Vec<&Origin> = match &acl.test {
        Test::Domains { values, .. } => values.iter().map(|(_, o)| o).collect(),
        Test::UrlRegex { values, .. } | Test::HostRegex { values, .. } => {
            values.values.iter().map(|(_, o)| o).collect()
        }
        _ => Vec::new(),
    };
    let file = origins
        .into_iter()
        .find(|o| o.file != acl.at.file)
        .map(|o| o.file.clone());
    match file {
        Some(file) => format!(
            "add the line {value} to {file} (acl {name}, {verb} by the rule at {})",
            rule.at
        ),
        None => format!(
            "add {value} to acl {name} at {} ({verb} by the rule at {})",
            acl.at, rule.at
        ),
    }
}

fn admit(conf: &SquidConfig, host: &HostPattern, ports: &[u16], path: Option<&str>) -> String {
    if let Some(hint) = path.and_then(|p| admit_path(conf, host, ports, p)) {
        return hint;
    }
    // A suffix glob (`*ecs.office.com`) has no dstdomain form: a regex.
    if spell_host(Syntax::Dstdomain, host).is_empty()
        && let Some(regex) = spell_host(Syntax::HostRegex, host).into_iter().next()
    {
        return format!(
            "add `acl defender_glob dstdom_regex -i {regex}` and `http_access allow localnet defender_glob`{}",
            before_deny_all(conf)
        );
    }
    let value = written(host);
    let fits = |r: &Rule| match conf.rule_ports(r) {
        None => true,
        Some(p) => ports.iter().all(|x| p.contains(x)),
    };
    if let Some((name, acl, rule)) = domain_acl(conf, &conf.http_access, &["allow"], fits) {
        return extend(name, acl, &value, rule, "allowed");
    }
    format!(
        "add `acl defender dstdomain {value}` and `http_access allow localnet defender`{}",
        before_deny_all(conf)
    )
}

/// ` before FILE:LINE` of the final `http_access deny all`, if there is one.
/// A path entry reached over plain HTTP: the anchored `url_regex` our own
/// Squid output writes, added to an allowed `url_regex` ACL when there is
/// one. Adding the host to a `dstdomain` ACL would admit all of it.
/// `None` for a path over TLS, which Squid sees only as a CONNECT to the
/// host unless it decrypts.
fn admit_path(conf: &SquidConfig, host: &HostPattern, ports: &[u16], path: &str) -> Option<String> {
    if ports.contains(&443) {
        return None;
    }
    let regex = url_regex(host, path)?;
    let fits = |r: &Rule| match conf.rule_ports(r) {
        None => true,
        Some(p) => ports.iter().all(|x| p.contains(x)),
    };
    let found = conf
        .http_access
        .iter()
        .filter(|r| r.action == "allow" && fits(r))
        .find_map(|r| {
            r.conds.iter().find_map(|(negated, name)| {
                let acl = conf.acls.get(name)?;
                let whole_url = matches!(
                    acl.test,
                    Test::UrlRegex {
                        path_only: false,
                        ..
                    }
                );
                (!negated && whole_url).then_some((name.as_str(), acl, r))
            })
        });
    Some(match found {
        Some((name, acl, rule)) => extend(name, acl, &regex, rule, "allowed"),
        None => format!(
            "add `acl defender_paths url_regex {regex}` and `http_access allow localnet defender_paths`{} (only this path: adding {} to a dstdomain ACL would admit the whole host)",
            before_deny_all(conf),
            written(host)
        ),
    })
}

fn before_deny_all(conf: &SquidConfig) -> String {
    conf.http_access
        .iter()
        .find(|r| r.action == "deny" && r.conds.iter().all(|(n, a)| !n && a == "all"))
        .map(|r| format!(" before {}", r.at))
        .unwrap_or_default()
}

fn splice(conf: &SquidConfig, host: &HostPattern, by: Option<&Origin>) -> String {
    let value = written(host);
    if let Some((name, acl, rule)) = domain_acl(conf, &conf.ssl_bump, &["splice"], |_| true) {
        return extend(name, acl, &value, rule, "spliced");
    }
    let before = by.map(|o| format!(" before {o}")).unwrap_or_default();
    format!("add `acl nobump ssl::server_name {value}` and `ssl_bump splice nobump`{before}")
}

/// A `deny CONNECT !SSL_ports`-like rule: deny, CONNECT, a negated port ACL.
fn is_connect_guard(conf: &SquidConfig, r: &Rule) -> bool {
    r.action == "deny"
        && r.conds.iter().any(|(n, a)| !n && a == "CONNECT")
        && r.conds.iter().any(|(n, a)| {
            *n && matches!(
                conf.acls.get(a),
                Some(Acl {
                    test: Test::Ports(_),
                    ..
                })
            )
        })
}

fn deny_connect(conf: &SquidConfig, allow: &Origin) -> String {
    match conf.http_access.iter().find(|r| is_connect_guard(conf, r)) {
        Some(guard) => format!(
            "move the line at {} (http_access deny CONNECT !<ports>) before the line at {allow}",
            guard.at
        ),
        None => format!(
            "add `acl SSL_ports port 443` and `http_access deny CONNECT !SSL_ports` before the line at {allow}"
        ),
    }
}

fn restrict(conf: &SquidConfig, allow: &Origin) -> String {
    let src = conf
        .acls
        .iter()
        .find(|(_, a)| matches!(a.test, Test::Src(_)))
        .map(|(name, a)| format!("{name} (acl at {})", a.at));
    match src {
        Some(acl) => format!("add the client ACL {acl} to the line at {allow}"),
        None => format!(
            "add `acl localnet src <your device networks>` and test localnet in the line at {allow}"
        ),
    }
}
