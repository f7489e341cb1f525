//! Holes whatever the policy: allow-all lines, an open proxy, tunnels to any port.
//!
//! Holes an administrator of the product wants closed whatever the
//! policy says, found the way a client would find them: by asking the
//! configuration concrete requests (a tunnel to port 25, a client from
//! outside every network the site names) and reading which line let them
//! through. Each finding names that line and the change that closes it,
//! spelled by the reader in the product's own syntax where it can.
//!
//! A PAC file's closing `return` is the routing twin of an allow-all
//! line: it answers every host the script does not name. It is reported
//! as information, not a hole (a default `PROXY` is the usual way a PAC
//! file ends, and the proxy decides what is allowed), with the entries
//! that get their route only from it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use super::engine::{
    DefaultRoute, EntryFinding, LineFinding, LineIssue, SecurityFinding, SecurityIssue, first_route,
};
use super::probe::entry_probes;
use crate::backends::reader::{Access, Change, Clients, Config, Grant, GrantHost, Origin, Probe};
use crate::model::{Scheme, Via};
use crate::policy::Policy;

/// A client no site names: an address of the documentation range
/// TEST-NET-2 (RFC 5737), never a real device's.
pub const OUTSIDER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77));
/// The ports a tunnel is tried to: mail, which no Defender host needs,
/// and its submission twin above 1024, which the stock `Safe_ports`
/// (1025-65535) lets past a `deny !Safe_ports`.
pub const TUNNEL_PORTS: [u16; 2] = [25, 2525];

/// The security findings of one configuration (most severe first), and
/// the allow-all lines that admit only the product's own host, which are
/// merely over-broad.
pub fn findings(
    policy: &Policy,
    config: &dyn Config,
    grants: &[Grant],
    client: IpAddr,
    entries: &[EntryFinding],
) -> (Vec<SecurityFinding>, Vec<LineFinding>) {
    let (mut out, local) = allow_all(config, grants, entries);
    if config.is_proxy() {
        out.extend(open_proxy(policy, config));
        out.extend(connect_any_port(policy, config, client));
    }
    out.sort_by(|a, b| (a.issue, &a.at).cmp(&(b.issue, &b.at)));
    (out, local)
}

/// The words for whom a rule admits.
fn whom(clients: &Clients) -> String {
    match clients {
        Clients::Any => "every client that reaches it".to_string(),
        Clients::ProxyHost => "clients on the proxy host itself".to_string(),
        Clients::Named(words) => words.clone(),
        Clients::Unknown => "the clients the rule names".to_string(),
    }
}

/// Lines that test no destination: every entry they let through is
/// covered by them, not by the policy's own lines.
fn allow_all(
    config: &dyn Config,
    grants: &[Grant],
    entries: &[EntryFinding],
) -> (Vec<SecurityFinding>, Vec<LineFinding>) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut local = Vec::new();
    for g in grants {
        if g.host != GrantHost::Any || !seen.insert(g.rule.clone()) {
            continue;
        }
        let clients = config.clients(&g.rule);
        if clients == Clients::ProxyHost {
            local.push(LineFinding {
                issue: LineIssue::OverBroad,
                at: g.at.clone(),
                rule: Some(g.rule.clone()),
                text: g.text.clone(),
                why: "admits every destination, but only for clients on the proxy host itself"
                    .to_string(),
            });
            continue;
        }
        let covered = entries.iter().filter(|e| e.lines.contains(&g.rule)).count();
        out.push(SecurityFinding {
            issue: SecurityIssue::AllowAll,
            at: g.rule.clone(),
            text: g.text.clone(),
            why: format!(
                "admits every destination for {}: {covered} of {} policy entries pass only because of it",
                whom(&clients),
                entries.len()
            ),
            fix: "remove the line, or add a destination test (the policy's hosts) to it"
                .to_string(),
            covers: Some(covered),
        });
    }
    (out, local)
}

/// The first request of every proxied entry, from a client outside every
/// network: a line that lets one through makes an open proxy.
fn open_proxy(policy: &Policy, config: &dyn Config) -> Vec<SecurityFinding> {
    let lines = let_through(policy, config, OUTSIDER, |p| p);
    lines
        .into_iter()
        .map(|(at, probe)| SecurityFinding {
            issue: SecurityIssue::OpenProxy,
            fix: config
                .spell(&Change::RestrictClients { allow: &at })
                .unwrap_or_else(|| {
                    "limit the line to the addresses of the site's devices".to_string()
                }),
            why: format!(
                "lets {probe} through for a client at {OUTSIDER}, outside every network the configuration names: an open proxy wherever its port is reachable"
            ),
            text: String::new(),
            at,
            covers: None,
        })
        .collect()
}

/// A host no configuration names: a name under `example`, which RFC 2606
/// reserves, so no script has a reason to test for it.
pub const UNNAMED: &str = "egressgen-unnamed-host.example";

/// The statement of a routing configuration (a PAC file) that answers a
/// host it does not name, when some policy entries get their route only
/// from it. `None` when no line is certain (the answer needs a lookup).
pub fn default_route(
    config: &dyn Config,
    client: IpAddr,
    entries: &[EntryFinding],
) -> Option<DefaultRoute> {
    if !config.routes() {
        return None;
    }
    let v = config.decide(&Probe::new(UNNAMED, 443, "/", client));
    let (Access::Allowed, Some(at), Some(answer)) = (&v.access, v.by, v.route) else {
        return None;
    };
    let route = first_route(&answer);
    let only: Vec<&EntryFinding> = entries.iter().filter(|e| e.lines == [at.clone()]).collect();
    let covers = only.len();
    let wrong = only.iter().filter(|e| e.coverage.is_gap()).count();
    (covers > 0).then(|| DefaultRoute {
        why: format!(
            "every host no earlier test names goes {route}: {covers} of {} policy entries get their route only from this line{}{}",
            entries.len(),
            match wrong {
                0 => String::new(),
                n => format!(", {n} of them a route the policy does not want"),
            },
            if route == "DIRECT" {
                ""
            } else {
                " (the proxy decides what they may reach: audit its configuration too)"
            }
        ),
        at,
        route,
        covers,
    })
}

/// A tunnel to port 25 for every entry reached over TLS: a line that lets
/// one through lets clients tunnel anywhere.
fn connect_any_port(policy: &Policy, config: &dyn Config, client: IpAddr) -> Vec<SecurityFinding> {
    let mut lines: Vec<(Origin, Probe)> = Vec::new();
    for port in TUNNEL_PORTS {
        let tunnel = |mut p: Probe| {
            p.port = port;
            p.scheme = Scheme::Https;
            p
        };
        for (at, probe) in let_through(policy, config, client, tunnel) {
            if !lines.iter().any(|(o, _)| *o == at) {
                lines.push((at, probe));
            }
        }
    }
    lines
        .into_iter()
        .map(|(at, probe)| SecurityFinding {
            issue: SecurityIssue::ConnectAnyPort,
            fix: config
                .spell(&Change::DenyConnect { allow: &at })
                .unwrap_or_else(|| format!("refuse tunnels to ports other than 443 before {at}")),
            why: format!(
                "lets a tunnel to {}:{} through (CONNECT to a port other than 443): clients can reach mail, SSH or anything else through the proxy",
                probe.host, probe.port
            ),
            text: String::new(),
            at,
            covers: None,
        })
        .collect()
}

/// The lines that let through the first request of some proxied entry
/// (made from `client` and changed by `shape`), each with that request.
fn let_through(
    policy: &Policy,
    config: &dyn Config,
    client: IpAddr,
    shape: impl Fn(Probe) -> Probe,
) -> Vec<(Origin, Probe)> {
    let mut out: Vec<(Origin, Probe)> = Vec::new();
    for e in policy.entries.iter().filter(|e| e.route == Via::Proxy) {
        let Some(probe) = entry_probes(e, client).into_iter().next().map(&shape) else {
            continue;
        };
        let v = config.decide(&probe);
        if v.access != Access::Allowed {
            continue;
        }
        // The product's default (no line) is the last line's opposite.
        let at =
            v.by.or_else(|| v.granted_by.map(|(_, at)| at))
                .unwrap_or_default();
        if !out.iter().any(|(o, _)| *o == at) {
            out.push((at, probe));
        }
    }
    out
}
