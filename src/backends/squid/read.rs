//! Reading a Squid configuration back, for `audit`: includes, ACLs and access rules.
//!
//! `include` files (with globs), `acl` lines and their `"file"` values,
//! `http_access` and `ssl_bump` rules, and the `http_port` lines that
//! enable ssl-bump. A request is evaluated as Squid does: `http_access`
//! first match wins, the ACL names of a line are ANDed, `!` negates, and
//! with no match the answer is the opposite of the last line's. Whatever
//! cannot be decided from the request alone (an external helper, a time
//! window, a DNS lookup) is reported with its line, never guessed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::backends::reader::{
    Access, Config, Decision, Grant, GrantHost, IgnoredLine, Options, Origin, PortRange, Probe,
    ReadError, TlsSeen, Tri, Undecidable,
};
use crate::backends::spelling::{Syntax, read as read_pattern, read_url_regex};
use crate::model::Scheme;

mod acl;
mod hints;
mod lex;
mod parse;

use acl::Found;

/// Recognises a Squid configuration by its directives.
pub fn recognise(path: &Path, head: &[u8]) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".pac") || name.ends_with(".xml") || name.ends_with(".json") {
        return false;
    }
    let text = String::from_utf8_lossy(head);
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("http_access ") || l.starts_with("acl ") || l.starts_with("http_port ")
    })
}

/// Reads a configuration and everything it includes.
pub fn read(path: &Path, options: &Options) -> Result<Box<dyn Config>, ReadError> {
    let mut conf = parse::read(path, options)?;
    conf.device_ports = options.ports.clone();
    conf.check_device_ports();
    Ok(Box::new(conf))
}

/// What an ACL tests, with its values.
#[derive(Clone, Debug)]
enum Test {
    /// `dstdomain`, `ssl::server_name`: names and `.domains`, in file
    /// order, with an index by value (a list may hold 100,000 names).
    Domains {
        values: Vec<(String, Origin)>,
        index: HashMap<String, usize>,
        no_lookup: bool,
    },
    /// `dstdom_regex`, `ssl::server_name_regex` (on the host).
    HostRegex {
        values: acl::Regexes,
        no_lookup: bool,
    },
    /// `url_regex` (on the whole URL) or `urlpath_regex` (on the path).
    UrlRegex {
        values: acl::Regexes,
        path_only: bool,
    },
    Ports(Vec<PortRange>),
    Methods(BTreeSet<String>),
    Src(Vec<IpRange>),
    Dst(Vec<IpRange>),
    Proto(BTreeSet<String>),
    AtStep(BTreeSet<u8>),
    AnyOf(Vec<String>),
    AllOf(Vec<String>),
    /// A type this reader does not evaluate.
    Other(String),
}

#[derive(Clone, Debug)]
enum IpRange {
    Net(IpNet),
    Span(IpAddr, IpAddr),
}

impl IpRange {
    fn contains(&self, ip: &IpAddr) -> bool {
        match self {
            IpRange::Net(n) => n.contains(ip),
            IpRange::Span(a, b) => a <= ip && ip <= b,
        }
    }
}

#[derive(Clone, Debug)]
struct Acl {
    kind: String,
    test: Test,
    at: Origin,
}

#[derive(Clone, Debug)]
struct Rule {
    at: Origin,
    action: String,
    /// ACL names, `true` when negated.
    conds: Vec<(bool, String)>,
}

/// A Squid configuration, read.
#[derive(Debug, Default)]
pub struct SquidConfig {
    files: Vec<String>,
    acls: BTreeMap<String, Acl>,
    http_access: Vec<Rule>,
    ssl_bump: Vec<Rule>,
    /// An `http_port` or `https_port` with `ssl-bump`.
    bump_port: Option<Origin>,
    /// Every `http_port`/`https_port`: its port, whether it bumps, where.
    listens: Vec<(Option<u16>, bool, Origin)>,
    /// The ports devices send to (the ruleset's `[proxy]`, or `--port`);
    /// empty: judge TLS by any bumping port, as before one was known.
    device_ports: Vec<u16>,
    undecidable: Vec<Undecidable>,
    ignored: Vec<IgnoredLine>,
}

/// One request as Squid's ACLs see it.
struct Request<'a> {
    host: &'a str,
    port: u16,
    method: &'static str,
    proto: &'static str,
    url: String,
    path: &'a str,
    client: IpAddr,
    /// The ssl_bump step, when ssl_bump rules are evaluated.
    step: Option<u8>,
    /// A request decrypted inside a bumped tunnel.
    inner: bool,
}

/// Whether a request host is an address rather than a name.
fn is_ip(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// The value that admits `host`, as `dstdomain` matches: `x` that host
/// only, `.x` x and every name below it. The most specific one answers.
fn domain_lookup(index: &HashMap<String, usize>, host: &str) -> Option<usize> {
    if let Some(&i) = index.get(host) {
        return Some(i);
    }
    if let Some(&i) = index.get(&format!(".{host}")) {
        return Some(i);
    }
    // Each parent domain, nearest first.
    let mut rest = host;
    while let Some((_, parent)) = rest.split_once('.') {
        if let Some(&i) = index.get(&format!(".{parent}")) {
            return Some(i);
        }
        rest = parent;
    }
    None
}

/// The model pattern of a `dstdomain` value.
fn domain_pattern(value: &str) -> GrantHost {
    match read_pattern(Syntax::Dstdomain, value) {
        Some(p) => GrantHost::Pattern(p),
        None => GrantHost::Other(value.to_string()),
    }
}

/// The model pattern of a host regex: ours read back exactly, others kept
/// as text.
fn regex_pattern(value: &str) -> GrantHost {
    match read_pattern(Syntax::HostRegex, value) {
        Some(p) => GrantHost::Pattern(p),
        None => GrantHost::Other(value.to_string()),
    }
}

/// The host and path of a `url_regex` of the form the backend writes.
fn url_pattern(value: &str) -> (GrantHost, Option<String>) {
    match read_url_regex(value) {
        Some((p, path)) => (GrantHost::Pattern(p), Some(path)),
        None => (GrantHost::Other(value.to_string()), None),
    }
}

impl SquidConfig {
    fn acl_matches(&self, name: &str, req: &Request, depth: usize) -> Tri {
        if depth > 16 {
            return Tri::Unknown(format!("acl {name}: any-of/all-of nested too deep"));
        }
        let Some(acl) = self.acls.get(name) else {
            return self.builtin(name, req);
        };
        let yes = |b: bool| if b { Tri::Yes(None) } else { Tri::No };
        match &acl.test {
            Test::Domains {
                values,
                index,
                no_lookup,
            } => {
                if is_ip(req.host) && !no_lookup {
                    return unknown_lookup(name, req.host);
                }
                match domain_lookup(index, req.host) {
                    Some(i) => {
                        let (v, o) = &values[i];
                        Tri::Yes(Some((domain_pattern(v), o.clone())))
                    }
                    None => Tri::No,
                }
            }
            Test::HostRegex { values, no_lookup } => {
                if is_ip(req.host) && !no_lookup {
                    return unknown_lookup(name, req.host);
                }
                match values.first(req.host) {
                    Found::Value((v, o)) => Tri::Yes(Some((regex_pattern(v), o.clone()))),
                    Found::None => Tri::No,
                    Found::Unknown(v) => unknown_regex(name, v),
                }
            }
            Test::UrlRegex { values, path_only } => {
                let subject = if *path_only { req.path } else { &req.url };
                match values.first(subject) {
                    Found::Value((v, o)) if !path_only => {
                        let (host, _) = url_pattern(v);
                        Tri::Yes(Some((host, o.clone())))
                    }
                    Found::Value(_) => Tri::Yes(None),
                    Found::None => Tri::No,
                    Found::Unknown(v) => unknown_regex(name, v),
                }
            }
            Test::Ports(ranges) => yes(ranges.iter().any(|r| r.contains(req.port))),
            Test::Methods(m) => yes(m.contains(req.method)),
            Test::Proto(p) => yes(p.contains(req.proto)),
            Test::Src(ranges) => yes(ranges.iter().any(|r| r.contains(&req.client))),
            Test::Dst(ranges) => match req.host.parse::<IpAddr>() {
                Ok(ip) => yes(ranges.iter().any(|r| r.contains(&ip))),
                Err(_) => Tri::Unknown(format!(
                    "acl {name} (dst) needs the address {} resolves to",
                    req.host
                )),
            },
            Test::AtStep(steps) => match req.step {
                Some(s) => yes(steps.contains(&s)),
                // http_access sees step 1 on a CONNECT; inside a bumped
                // tunnel the step depends on how it was bumped.
                None if req.inner => {
                    Tri::Unknown(format!("acl {name} (at_step) inside a bumped tunnel"))
                }
                None => yes(steps.contains(&1)),
            },
            Test::AnyOf(names) => {
                let mut unknown = None;
                for n in names {
                    match self.acl_matches(n, req, depth + 1) {
                        Tri::Yes(g) => return Tri::Yes(g),
                        Tri::Unknown(w) => unknown = Some(w),
                        Tri::No => {}
                    }
                }
                unknown.map(Tri::Unknown).unwrap_or(Tri::No)
            }
            Test::AllOf(names) => {
                let conds: Vec<(bool, String)> = names.iter().map(|n| (false, n.clone())).collect();
                self.all(&conds, req, depth + 1)
            }
            Test::Other(why) => Tri::Unknown(format!("acl {name}: {why}")),
        }
    }

    fn builtin(&self, name: &str, req: &Request) -> Tri {
        let yes = |b: bool| if b { Tri::Yes(None) } else { Tri::No };
        match name {
            "all" => Tri::Yes(None),
            // Predefined since Squid 4 as `acl CONNECT method CONNECT`.
            "CONNECT" => yes(req.method == "CONNECT"),
            "localhost" => yes(req.client.is_loopback()),
            "manager" => yes(req.url.starts_with("cache_object:")
                || req.path.starts_with("/squid-internal-mgr/")),
            "to_localhost" | "to_linklocal" => match req.host.parse::<IpAddr>() {
                Ok(ip) if name == "to_localhost" => yes(ip.is_loopback() || ip.is_unspecified()),
                Ok(IpAddr::V4(v4)) => yes(v4.is_link_local()),
                Ok(IpAddr::V6(v6)) => yes((v6.segments()[0] & 0xffc0) == 0xfe80),
                Err(_) => Tri::Unknown(format!(
                    "acl {name} needs the address {} resolves to",
                    req.host
                )),
            },
            _ => Tri::Unknown(format!("acl {name} is not defined")),
        }
    }

    /// The conditions of a line, ANDed: the host test that matched among
    /// the positive ones, if any.
    fn all(&self, conds: &[(bool, String)], req: &Request, depth: usize) -> Tri {
        let mut granted = None;
        let mut unknown = None;
        for (negated, name) in conds {
            let t = self.acl_matches(name, req, depth);
            let t = if *negated { !t } else { t };
            match t {
                Tri::No => return Tri::No,
                Tri::Unknown(w) => unknown = unknown.or(Some(w)),
                Tri::Yes(g) => {
                    if granted.is_none() {
                        granted = g;
                    }
                }
            }
        }
        match unknown {
            Some(w) => Tri::Unknown(w),
            None => Tri::Yes(granted),
        }
    }

    /// First match over `rules`: the index of the rule that decided and
    /// its answer, or the undecidable line.
    fn first_match<'r>(&self, rules: &'r [Rule], req: &Request) -> FirstMatch<'r> {
        for (i, r) in rules.iter().enumerate() {
            match self.all(&r.conds, req, 0) {
                Tri::No => {}
                Tri::Yes(g) => return FirstMatch::Rule(i, r, g),
                Tri::Unknown(w) => return FirstMatch::Unknown(i, r, w),
            }
        }
        FirstMatch::None
    }

    /// `http_access` for one request, three-valued: a line whose match
    /// cannot be decided only makes the answer undecidable if its action
    /// differs from what the lines after it (or the default) decide; an
    /// unknown `allow` before a certain `allow` still allows.
    fn access(&self, req: &Request) -> Decision {
        let mut unknown: Option<(usize, &Rule, String)> = None;
        let mut actions = BTreeSet::new();
        for (i, r) in self.http_access.iter().enumerate() {
            match self.all(&r.conds, req, 0) {
                Tri::No => continue,
                Tri::Yes(g) => {
                    let v = self.certain_access(FirstMatch::Rule(i, r, g));
                    return self.unless_changed(v, &r.action, unknown, &actions);
                }
                Tri::Unknown(w) => {
                    actions.insert(r.action.as_str());
                    unknown = unknown.or(Some((i, r, w)));
                }
            }
        }
        let v = self.certain_access(FirstMatch::None);
        let default = if v.access == Access::Allowed {
            "allow"
        } else {
            "deny"
        };
        self.unless_changed(v, default, unknown, &actions)
    }

    /// The certain answer `v` (of `action`), or undecidable at the first
    /// unknown line when one of the unknown lines has another action.
    fn unless_changed(
        &self,
        v: Decision,
        action: &str,
        unknown: Option<(usize, &Rule, String)>,
        actions: &BTreeSet<&str>,
    ) -> Decision {
        match unknown {
            Some((i, r, why)) if actions.iter().any(|a| *a != action) => {
                self.certain_access(FirstMatch::Unknown(i, r, why))
            }
            _ => v,
        }
    }

    /// The answer of one matched line, or of Squid's default.
    fn certain_access(&self, matched: FirstMatch) -> Decision {
        let rank = |i: usize| Some(i);
        match matched {
            FirstMatch::Rule(i, r, g) => {
                let mut v = Decision::denied(Some(r.at.clone()), rank(i));
                if r.action == "allow" {
                    v.access = Access::Allowed;
                    v.granted_by = Some(g.unwrap_or((GrantHost::Any, r.at.clone())));
                }
                v
            }
            FirstMatch::Unknown(i, r, why) => {
                let mut v = Decision::denied(Some(r.at.clone()), rank(i));
                v.access = Access::Undecidable(why);
                v
            }
            // No line matched: the opposite of the last line, deny if
            // there is none.
            FirstMatch::None => match self.http_access.last() {
                Some(last) if last.action == "deny" => Decision {
                    access: Access::Allowed,
                    by: None,
                    rank: Some(self.http_access.len()),
                    granted_by: Some((GrantHost::Any, last.at.clone())),
                    tls: TlsSeen::NotApplicable,
                    tls_by: None,
                    route: None,
                    notes: Vec::new(),
                },
                _ => Decision::denied(None, Some(self.http_access.len())),
            },
        }
    }

    /// Whether what devices send is accepted on a bumping port: `ssl_bump`
    /// rules apply only there (`ssl-bump` on 3129 does not inspect what
    /// devices send to 3128). Devices on several ports, some bumping and
    /// some not: undecidable.
    fn devices_bumped(&self) -> Result<bool, String> {
        if self.device_ports.is_empty() {
            return Ok(self.bump_port.is_some());
        }
        let bumps: BTreeSet<bool> = self
            .listens
            .iter()
            .filter(|(port, _, _)| port.is_some_and(|p| self.device_ports.contains(&p)))
            .map(|(_, bumps, _)| *bumps)
            .collect();
        match bumps.len() {
            2 => Err(format!(
                "devices use ports {:?}, some with ssl-bump and some without",
                self.device_ports
            )),
            _ => Ok(bumps.contains(&true)),
        }
    }

    /// Devices told to use a port no `http_port` listens on reach no
    /// Squid: said once, at the first `http_port` line.
    fn check_device_ports(&mut self) {
        let heard = self
            .listens
            .iter()
            .any(|(port, _, _)| port.is_some_and(|p| self.device_ports.contains(&p)));
        if self.device_ports.is_empty() || heard {
            return;
        }
        let at = self.listens.first().map(|(_, _, at)| at.clone());
        self.undecidable.push(Undecidable {
            at: at.unwrap_or_else(|| Origin {
                file: self.files.first().cloned().unwrap_or_default(),
                line: 0,
            }),
            why: format!(
                "devices are told to use port {:?} (the ruleset's [proxy], or --port), but no http_port listens on it: what they send reaches no Squid",
                self.device_ports
            ),
        });
    }

    /// The ssl_bump decision for a CONNECT: spliced, bumped, terminated,
    /// or undecidable, with the deciding line.
    fn bump(&self, req: &mut Request) -> (Bump, Option<Origin>) {
        match self.devices_bumped() {
            Ok(true) => {}
            Ok(false) => return (Bump::Splice, None),
            Err(why) => return (Bump::Unknown(why), None),
        }
        let mut last_peek: Option<&str> = None;
        let mut at = None;
        for step in 1..=3u8 {
            req.step = Some(step);
            let action = match self.first_match(&self.ssl_bump, req) {
                FirstMatch::Rule(_, r, _) => {
                    at = Some(r.at.clone());
                    r.action.as_str()
                }
                FirstMatch::Unknown(_, r, why) => return (Bump::Unknown(why), Some(r.at.clone())),
                // No rule: splice, or bump after a stare.
                FirstMatch::None if last_peek == Some("stare") => return (Bump::Decrypt, at),
                FirstMatch::None => return (Bump::Splice, at),
            };
            match action {
                "splice" | "none" => return (Bump::Splice, at),
                "bump" | "client-first" | "server-first" => {
                    if last_peek == Some("peek") && step == 3 {
                        return (
                            Bump::Unknown(
                                "bump after a peek at step 2 (Squid may splice or terminate)"
                                    .to_string(),
                            ),
                            at,
                        );
                    }
                    return (Bump::Decrypt, at);
                }
                "terminate" => return (Bump::Terminate, at),
                peek => {
                    if step == 3 {
                        // A peek or stare at step 3 acts as splice or bump.
                        return if peek == "stare" {
                            (Bump::Decrypt, at)
                        } else {
                            (Bump::Splice, at)
                        };
                    }
                    last_peek = Some(if peek == "stare" { "stare" } else { "peek" });
                }
            }
        }
        (Bump::Splice, at)
    }
}

enum FirstMatch<'r> {
    Rule(usize, &'r Rule, Option<(GrantHost, Origin)>),
    Unknown(usize, &'r Rule, String),
    None,
}

/// What `ssl_bump` does with a tunnel.
enum Bump {
    Splice,
    Decrypt,
    Terminate,
    Unknown(String),
}

fn unknown_regex(name: &str, (v, at): &(String, Origin)) -> Tri {
    Tri::Unknown(format!(
        "acl {name}: the regex {v:?} at {at} is too large for the audit's engine to match"
    ))
}

fn unknown_lookup(name: &str, host: &str) -> Tri {
    Tri::Unknown(format!(
        "acl {name}: an address request ({host}) is reverse-resolved without -n"
    ))
}

fn authority(host: &str, port: u16, default: u16) -> String {
    if port == default {
        host.to_string()
    } else {
        format!("{host}:{port}")
    }
}

impl Config for SquidConfig {
    fn kind(&self) -> &'static str {
        "squid"
    }

    fn files(&self) -> Vec<String> {
        self.files.clone()
    }

    fn decide(&self, probe: &Probe) -> Decision {
        let host = probe.host.to_ascii_lowercase();
        match probe.scheme {
            Scheme::Http => self.access(&plain(&host, probe)),
            Scheme::Https => self.decide_tls(&host, probe),
        }
    }

    fn grants(&self) -> Vec<Grant> {
        let mut out = Vec::new();
        for (rank, r) in self.http_access.iter().enumerate() {
            if r.action != "allow" {
                continue;
            }
            let ports = self.rule_ports(r);
            let mut hosts = Vec::new();
            for (negated, name) in &r.conds {
                if !negated {
                    self.host_tests(name, &mut hosts, 0);
                }
            }
            // A line with a destination test that lists nothing (an empty
            // ACL file) matches no request; only a line with no destination
            // test at all admits every host.
            let tests_host = r
                .conds
                .iter()
                .any(|(negated, name)| !negated && self.tests_host(name, 0));
            if hosts.is_empty() && !tests_host {
                hosts.push((GrantHost::Any, None, r.at.clone(), String::new()));
            }
            for (host, path, at, text) in hosts {
                out.push(Grant {
                    rule: r.at.clone(),
                    rank,
                    at,
                    host,
                    ports: ports.clone(),
                    path,
                    text,
                    inspect: None,
                });
            }
        }
        out
    }

    fn rule_matches(&self, grant: &Grant, probe: &Probe) -> bool {
        let Some(rule) = self.http_access.get(grant.rank) else {
            return false;
        };
        let host = probe.host.to_ascii_lowercase();
        self.requests(&host, probe)
            .iter()
            .any(|req| matches!(self.all(&rule.conds, req, 0), Tri::Yes(_)))
    }

    fn matched_before(&self, earlier: &Grant, later: &Grant, probe: &Probe) -> bool {
        let (Some(e), Some(l)) = (
            self.http_access.get(earlier.rank),
            self.http_access.get(later.rank),
        ) else {
            return false;
        };
        let host = probe.host.to_ascii_lowercase();
        let yes = |r: &Rule, req: &Request| matches!(self.all(&r.conds, req, 0), Tri::Yes(_));
        self.requests(&host, probe)
            .iter()
            .all(|req| !yes(l, req) || yes(e, req))
    }

    fn ignored(&self) -> Vec<IgnoredLine> {
        self.ignored.clone()
    }

    fn clients(&self, rule: &Origin) -> crate::backends::reader::Clients {
        hints::clients(self, rule)
    }

    fn spell(&self, change: &crate::backends::reader::Change) -> Option<String> {
        hints::spell(self, change)
    }

    fn undecidable(&self) -> Vec<Undecidable> {
        self.undecidable.clone()
    }

    fn inspects(&self) -> bool {
        self.devices_bumped() != Ok(false)
    }

    fn size(&self) -> usize {
        self.http_access.len() + self.ssl_bump.len()
    }

    fn is_proxy(&self) -> bool {
        true
    }
}

/// A plain HTTP request.
fn plain<'a>(host: &'a str, probe: &'a Probe) -> Request<'a> {
    Request {
        host,
        port: probe.port,
        method: "GET",
        proto: "HTTP",
        url: format!("http://{}{}", authority(host, probe.port, 80), probe.path),
        path: &probe.path,
        client: probe.client,
        step: None,
        inner: false,
    }
}

/// The CONNECT of a TLS request.
fn connect<'a>(host: &'a str, probe: &'a Probe) -> Request<'a> {
    Request {
        host,
        port: probe.port,
        method: "CONNECT",
        // Squid's scheme of a CONNECT request.
        proto: "AUTHORITY",
        url: format!("{host}:{}", probe.port),
        path: "",
        client: probe.client,
        step: None,
        inner: false,
    }
}

/// The request decrypted inside a bumped tunnel.
fn decrypted<'a>(host: &'a str, probe: &'a Probe) -> Request<'a> {
    Request {
        host,
        port: probe.port,
        method: "GET",
        proto: "HTTPS",
        url: format!("https://{}{}", authority(host, probe.port, 443), probe.path),
        path: &probe.path,
        client: probe.client,
        step: None,
        inner: true,
    }
}

impl SquidConfig {
    /// The requests `http_access` sees for a probe: the plain request; or
    /// the CONNECT, and the decrypted request when the tunnel is bumped.
    fn requests<'a>(&self, host: &'a str, probe: &'a Probe) -> Vec<Request<'a>> {
        if probe.scheme == Scheme::Http {
            return vec![plain(host, probe)];
        }
        let mut req = connect(host, probe);
        let bumped = matches!(self.bump(&mut req).0, Bump::Decrypt);
        req.step = None;
        let mut out = vec![req];
        if bumped {
            out.push(decrypted(host, probe));
        }
        out
    }

    fn decide_tls(&self, host: &str, probe: &Probe) -> Decision {
        let mut req = connect(host, probe);
        let mut v = self.access(&req);
        if v.access != Access::Allowed {
            return v;
        }
        let (bump, at) = self.bump(&mut req);
        v.tls_by = at;
        match bump {
            Bump::Splice => v.tls = TlsSeen::Spliced,
            Bump::Terminate => {
                v.access = Access::Denied;
                v.by = v.tls_by.clone();
                v.granted_by = None;
            }
            Bump::Unknown(why) => v.tls = TlsSeen::Undecidable(why),
            Bump::Decrypt => {
                // The decrypted request is checked again.
                let tls_by = v.tls_by.clone();
                v = self.access(&decrypted(host, probe));
                v.tls = TlsSeen::Inspected;
                v.tls_by = tls_by;
            }
        }
        v
    }

    /// The ports a rule limits traffic to: the intersection of its
    /// positive `port` ACLs; `None` when it has none.
    fn rule_ports(&self, r: &Rule) -> Option<Vec<u16>> {
        let mut ports: Option<BTreeSet<u16>> = None;
        for (negated, name) in &r.conds {
            let Some(Acl {
                test: Test::Ports(ranges),
                ..
            }) = self.acls.get(name)
            else {
                continue;
            };
            if *negated {
                continue;
            }
            // Only small ranges are listed; a wide range reads as any port.
            let set: BTreeSet<u16> = ranges
                .iter()
                .filter_map(|r| r.ports(64))
                .flatten()
                .collect();
            if set.is_empty() {
                continue;
            }
            ports = Some(match ports {
                Some(p) => p.intersection(&set).copied().collect(),
                None => set,
            });
        }
        ports.map(|p| p.into_iter().collect())
    }

    /// Whether an ACL tests the destination host (or names one that does).
    fn tests_host(&self, name: &str, depth: usize) -> bool {
        match self.acls.get(name).map(|a| &a.test) {
            _ if depth > 16 => false,
            // The predefined `manager` admits only the cache manager's URLs.
            None => name == "manager",
            Some(Test::Domains { .. } | Test::HostRegex { .. }) => true,
            Some(Test::UrlRegex { path_only, .. }) => !path_only,
            Some(Test::AnyOf(names) | Test::AllOf(names)) => {
                names.iter().any(|n| self.tests_host(n, depth + 1))
            }
            _ => false,
        }
    }

    /// The host tests of an ACL (and of the ACLs an any-of names).
    fn host_tests(
        &self,
        name: &str,
        out: &mut Vec<(GrantHost, Option<String>, Origin, String)>,
        depth: usize,
    ) {
        let Some(acl) = self.acls.get(name) else {
            return;
        };
        if depth > 16 {
            return;
        }
        match &acl.test {
            Test::Domains { values, .. } => {
                for (v, o) in values {
                    out.push((
                        domain_pattern(v),
                        None,
                        o.clone(),
                        format!("{} {v}", acl.kind),
                    ));
                }
            }
            Test::HostRegex { values, .. } => {
                for (v, o) in &values.values {
                    out.push((
                        regex_pattern(v),
                        None,
                        o.clone(),
                        format!("{} {v}", acl.kind),
                    ));
                }
            }
            Test::UrlRegex {
                values,
                path_only: false,
            } => {
                for (v, o) in &values.values {
                    let (host, path) = url_pattern(v);
                    out.push((host, path, o.clone(), format!("{} {v}", acl.kind)));
                }
            }
            Test::AnyOf(names) | Test::AllOf(names) => {
                for n in names {
                    self.host_tests(n, out, depth + 1);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostPattern;
    use crate::model::host::parse_pattern;

    fn pattern(text: &str) -> HostPattern {
        parse_pattern(text).unwrap()
    }

    fn conf(dir: &Path, text: &str) -> Box<dyn Config> {
        let path = dir.join("squid.conf");
        std::fs::write(&path, text).unwrap();
        read(&path, &Options::default()).unwrap()
    }

    fn probe(host: &str, port: u16) -> Probe {
        Probe {
            host: host.to_string(),
            port,
            scheme: crate::model::Scheme::for_port(port),
            path: "/".to_string(),
            client: "10.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn first_match_with_negation_and_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let c = conf(
            dir.path(),
            "acl ms dstdomain .microsoft.com\nacl bad dstdomain evil.microsoft.com\n\
             acl CONNECT method CONNECT\n\
             http_access deny bad\nhttp_access allow CONNECT ms\nhttp_access deny all\n",
        );
        assert_eq!(
            c.decide(&probe("a.microsoft.com", 443)).access,
            Access::Allowed
        );
        assert_eq!(
            c.decide(&probe("microsoft.com", 443)).access,
            Access::Allowed
        );
        assert_eq!(
            c.decide(&probe("evil.microsoft.com", 443)).access,
            Access::Denied
        );
        // Not a CONNECT: the allow line does not match.
        assert_eq!(
            c.decide(&probe("a.microsoft.com", 80)).access,
            Access::Denied
        );
        let v = c.decide(&probe("a.microsoft.com", 443));
        assert_eq!(
            v.granted_by.map(|g| g.0),
            Some(GrantHost::Pattern(pattern(".microsoft.com")))
        );
        // With no line matching, the opposite of the last one.
        let c = conf(
            dir.path(),
            "acl x dstdomain x.example\nhttp_access deny x\n",
        );
        assert_eq!(c.decide(&probe("y.example", 443)).access, Access::Allowed);
        let c = conf(
            dir.path(),
            "acl x dstdomain x.example\nhttp_access allow x\n",
        );
        assert_eq!(c.decide(&probe("y.example", 443)).access, Access::Denied);
    }

    #[test]
    fn undecidable_types_are_reported_not_guessed() {
        let dir = tempfile::tempdir().unwrap();
        let c = conf(
            dir.path(),
            "acl office time MTWHF 08:00-18:00\nhttp_access allow office\nhttp_access deny all\n",
        );
        assert!(matches!(
            c.decide(&probe("a.example", 443)).access,
            Access::Undecidable(_)
        ));
        assert_eq!(c.undecidable().len(), 1);
        assert_eq!(c.undecidable()[0].at.line, 1);
    }

    #[test]
    fn ssl_bump_steps() {
        let dir = tempfile::tempdir().unwrap();
        let c = conf(
            dir.path(),
            "http_port 3128 ssl-bump tls-cert=/x.pem\nacl step1 at_step SslBump1\n\
             acl nobump ssl::server_name .example.com\n\
             ssl_bump peek step1\nssl_bump splice nobump\nssl_bump bump all\nhttp_access allow all\n",
        );
        assert!(c.inspects());
        assert_eq!(c.decide(&probe("a.example.com", 443)).tls, TlsSeen::Spliced);
        assert_eq!(
            c.decide(&probe("a.example.org", 443)).tls,
            TlsSeen::Inspected
        );
    }

    #[test]
    fn includes_globs_loops_and_acl_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("hosts.txt"),
            "# ours\na.example.com\n.b.example.com\n",
        )
        .unwrap();
        std::fs::write(
            d.join("conf.d/10-acl.conf"),
            format!("acl ours dstdomain \"{}\"\n", d.join("hosts.txt").display()),
        )
        .unwrap();
        std::fs::write(d.join("conf.d/20-allow.conf"), "http_access allow ours\n").unwrap();
        let c = conf(
            d,
            &format!(
                "include {}/conf.d/*.conf\nhttp_access deny all\n",
                d.display()
            ),
        );
        assert_eq!(
            c.decide(&probe("x.b.example.com", 443)).access,
            Access::Allowed
        );
        let v = c.decide(&probe("a.example.com", 443));
        assert_eq!(v.granted_by.unwrap().1.line, 2);
        assert_eq!(c.files().len(), 4);
        // A loop is an error naming the file.
        std::fs::write(
            d.join("loop.conf"),
            format!("include {}/loop.conf\n", d.display()),
        )
        .unwrap();
        let e = read(&d.join("loop.conf"), &Options::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("include loop"), "{e}");
    }
}
