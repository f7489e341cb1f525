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
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use regex::{Regex, RegexBuilder};

use crate::backends::reader::{
    Access, Config, Decision, Grant, GrantHost, IgnoredLine, Limits, Options, Origin, PortRange,
    Probe, ReadError, TlsSeen, Tri, Undecidable, shown,
};
use crate::backends::spelling::{Syntax, read as read_pattern, read_url_regex};
use crate::model::Scheme;

mod hints;

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

/// Unknown directives that get a "did you mean": the rest are reported
/// without one.
const MAX_SUGGESTIONS: usize = 16;

/// Reads a configuration and everything it includes.
pub fn read(path: &Path, options: &Options) -> Result<Box<dyn Config>, ReadError> {
    let mut p = Parser {
        options: options.clone(),
        limits: options.limits,
        conf: SquidConfig::default(),
        stack: Vec::new(),
        bytes: 0,
    };
    p.file(path)?;
    p.check_names()?;
    p.conf.device_ports = options.ports.clone();
    p.conf.check_device_ports();
    Ok(Box::new(p.conf))
}

/// The port of an `http_port` address: `3128`, `127.0.0.1:3128`,
/// `[::1]:3128`, `name:3128`.
fn listen_port(address: &str) -> Option<u16> {
    address
        .rsplit_once(':')
        .map_or(address, |(_, port)| port)
        .parse()
        .ok()
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
        values: Vec<(Regex, String, Origin)>,
        no_lookup: bool,
    },
    /// `url_regex` (on the whole URL) or `urlpath_regex` (on the path).
    UrlRegex {
        values: Vec<(Regex, String, Origin)>,
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

struct Parser {
    options: Options,
    limits: Limits,
    conf: SquidConfig,
    /// Files being read, for include loops.
    stack: Vec<PathBuf>,
    bytes: u64,
}

impl Parser {
    fn load(&mut self, path: &Path) -> Result<String, ReadError> {
        if self.conf.files.len() >= self.limits.files {
            return Err(ReadError::Limit {
                file: shown(path),
                detail: format!("more than {} files", self.limits.files),
            });
        }
        let bytes = crate::input::read_limited(path, self.limits.file_bytes).map_err(|e| {
            ReadError::Read {
                file: shown(path),
                detail: e.to_string(),
            }
        })?;
        self.bytes += bytes.len() as u64;
        if self.bytes > self.limits.total_bytes {
            return Err(ReadError::Limit {
                file: shown(path),
                detail: format!(
                    "the configuration and its files exceed {} bytes together",
                    self.limits.total_bytes
                ),
            });
        }
        self.conf.files.push(shown(path));
        String::from_utf8(bytes).map_err(|_| ReadError::Read {
            file: shown(path),
            detail: "is not UTF-8 text".to_string(),
        })
    }

    fn file(&mut self, path: &Path) -> Result<(), ReadError> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&key) {
            return Err(ReadError::Limit {
                file: shown(path),
                detail: "includes itself (an include loop)".to_string(),
            });
        }
        if self.stack.len() >= self.limits.depth {
            return Err(ReadError::Limit {
                file: shown(path),
                detail: format!("includes nested deeper than {}", self.limits.depth),
            });
        }
        let text = self.load(path)?;
        self.stack.push(key);
        let name = shown(path);
        for (line, words) in logical_lines(&text) {
            let at = Origin {
                file: name.clone(),
                line,
            };
            self.directive(path, at, &words)?;
        }
        self.stack.pop();
        Ok(())
    }

    fn directive(&mut self, path: &Path, at: Origin, words: &[&str]) -> Result<(), ReadError> {
        let Some((&name, args)) = words.split_first() else {
            return Ok(());
        };
        match name {
            "include" => self.include(path, &at, args),
            "acl" => self.acl(path, at, args),
            "http_access" => {
                let rule = rule(at, args, &["allow", "deny"])?;
                self.conf.http_access.push(rule);
                Ok(())
            }
            "ssl_bump" => {
                let actions = [
                    "splice",
                    "bump",
                    "peek",
                    "stare",
                    "terminate",
                    "none",
                    "client-first",
                    "server-first",
                ];
                let rule = rule(at, args, &actions)?;
                self.conf.ssl_bump.push(rule);
                Ok(())
            }
            "http_port" | "https_port" => {
                let bumps = args.contains(&"ssl-bump");
                if bumps && self.conf.bump_port.is_none() {
                    self.conf.bump_port = Some(at.clone());
                }
                let port = args.first().and_then(|a| listen_port(a));
                self.conf.listens.push((port, bumps, at));
                Ok(())
            }
            "if" | "else" | "endif" => {
                self.conf.undecidable.push(Undecidable {
                    at,
                    why: format!("conditional '{name}' is not evaluated: every branch is read"),
                });
                Ok(())
            }
            known if super::directives::known(known) => Ok(()),
            unknown => {
                // A suggestion for the first lines only: a file of garbage
                // costs a bounded number of comparisons.
                let hint = (self.conf.ignored.len() < MAX_SUGGESTIONS)
                    .then(|| super::directives::suggestion(unknown))
                    .flatten()
                    .map(|d| format!(" (did you mean {d}?)"))
                    .unwrap_or_default();
                self.conf.ignored.push(IgnoredLine {
                    at,
                    why: format!(
                        "{unknown} is not a Squid directive{hint}: the line has no effect, and squid -k parse fails on it"
                    ),
                });
                Ok(())
            }
        }
    }

    fn include(&mut self, path: &Path, at: &Origin, args: &[&str]) -> Result<(), ReadError> {
        for pattern in args {
            let full = self.options.locate(path, Path::new(pattern));
            let text = full.to_string_lossy().into_owned();
            let matches: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
                let found = glob::glob(&text).map_err(|e| ReadError::Syntax {
                    at: at.clone(),
                    detail: format!("include {pattern}: {e}"),
                })?;
                // The glob is walked lazily: a pattern over the whole file
                // system stops at the file limit instead of listing it all.
                let mut list: Vec<PathBuf> = found
                    .filter_map(Result::ok)
                    .take(self.limits.files + 1)
                    .collect();
                if list.len() > self.limits.files {
                    return Err(ReadError::Limit {
                        file: at.to_string(),
                        detail: format!(
                            "include {pattern} matches more than {} files",
                            self.limits.files
                        ),
                    });
                }
                list.sort();
                list
            } else {
                vec![full]
            };
            for m in matches {
                self.file(&m)?;
            }
        }
        Ok(())
    }

    fn acl(&mut self, path: &Path, at: Origin, args: &[&str]) -> Result<(), ReadError> {
        let [name, kind, rest @ ..] = args else {
            return Err(ReadError::Syntax {
                at,
                detail: "acl needs a name and a type".to_string(),
            });
        };
        let (flags, values) = split_flags(rest);
        let values = self.values(path, &at, values)?;
        let ignore_case = flags.contains(&"-i");
        let no_lookup = flags.contains(&"-n");
        let test = test(kind, values, ignore_case, no_lookup)?;
        if let Test::Other(why) = &test {
            self.conf.undecidable.push(Undecidable {
                at: at.clone(),
                why: format!("acl {name}: {why}"),
            });
        }
        match self.conf.acls.get_mut(*name) {
            Some(existing) if existing.kind != *kind => Err(ReadError::Syntax {
                at,
                detail: format!(
                    "acl {name} is a {} at {}, not a {kind}",
                    existing.kind, existing.at
                ),
            }),
            Some(existing) => {
                merge(&mut existing.test, test);
                Ok(())
            }
            None => {
                self.conf.acls.insert(
                    name.to_string(),
                    Acl {
                        kind: kind.to_string(),
                        test,
                        at,
                    },
                );
                Ok(())
            }
        }
    }

    /// ACL values, with `"file"` (or `'file'`) values read from their
    /// files (one value per line, `#` comments, as [`acl_file_value`]).
    fn values(
        &mut self,
        path: &Path,
        at: &Origin,
        values: &[&str],
    ) -> Result<Vec<(String, Origin)>, ReadError> {
        let mut out = Vec::new();
        for v in values {
            let Some(file) = quoted_file(v) else {
                out.push((v.to_string(), at.clone()));
                continue;
            };
            let full = self.options.locate(path, Path::new(file));
            let text = self.load(&full).map_err(|e| match e {
                ReadError::Read { file, detail } => ReadError::Syntax {
                    at: at.clone(),
                    detail: format!("ACL file {file}: {detail}"),
                },
                other => other,
            })?;
            let name = shown(&full);
            for (i, line) in text.lines().enumerate() {
                let Some(value) = acl_file_value(line) else {
                    continue;
                };
                let origin = Origin {
                    file: name.clone(),
                    line: i + 1,
                };
                out.push((value.to_string(), origin));
            }
        }
        Ok(out)
    }

    /// Every ACL a rule names exists (Squid refuses to start otherwise).
    fn check_names(&self) -> Result<(), ReadError> {
        let rules = self.conf.http_access.iter().chain(&self.conf.ssl_bump);
        for r in rules {
            for (_, name) in &r.conds {
                if !self.conf.acls.contains_key(name) && !is_builtin(name) {
                    return Err(ReadError::Syntax {
                        at: r.at.clone(),
                        detail: format!("ACL {name} is not defined"),
                    });
                }
            }
        }
        for acl in self.conf.acls.values() {
            if let Test::AnyOf(names) | Test::AllOf(names) = &acl.test {
                for name in names {
                    if !self.conf.acls.contains_key(name) && !is_builtin(name) {
                        return Err(ReadError::Syntax {
                            at: acl.at.clone(),
                            detail: format!("ACL {name} is not defined"),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Squid's predefined ACLs.
fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "all" | "localhost" | "to_localhost" | "manager" | "to_linklocal" | "CONNECT"
    )
}

/// Logical lines as Squid's `parseOneConfigFile` builds them, each with
/// its first physical line number and its words. A line whose last
/// character is `\\` continues on the next (a space after the backslash
/// ends it); blank lines and lines starting with `#` are skipped, also
/// between the parts of a continued line, whose leading whitespace is
/// dropped.
fn logical_lines(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, Vec<&str>)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let body = raw.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let (body, continues) = match body.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (body, false),
        };
        let (line, mut words) = pending.take().unwrap_or((i + 1, Vec::new()));
        words.extend(body.split_whitespace());
        if continues {
            pending = Some((line, words));
        } else {
            out.push((line, tokens(words)));
        }
    }
    if let Some((line, words)) = pending {
        out.push((line, tokens(words)));
    }
    out.retain(|(_, words)| !words.is_empty());
    out
}

/// The words of a line up to a trailing comment: as Squid's `TokenParse`
/// reads them, a word that starts with `#` starts a comment, while a `#`
/// inside a word is part of it (`http://a/#x`).
fn tokens(words: Vec<&str>) -> Vec<&str> {
    words
        .into_iter()
        .take_while(|w| !w.starts_with('#'))
        .collect()
}

/// The value on one line of an ACL file, as Squid's `strtokFile` reads
/// it: leading whitespace skipped, the words up to one that starts with
/// `#` (with the spaces between them), nothing for a blank or comment line.
fn acl_file_value(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let mut end = 0;
    let mut rest = line;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        let word = &rest[start..];
        if word.starts_with('#') {
            break;
        }
        let len = word.find(char::is_whitespace).unwrap_or(word.len());
        end = line.len() - rest.len() + start + len;
        rest = &word[len..];
    }
    let value = &line[..end];
    (!value.is_empty()).then_some(value)
}

/// The file a quoted ACL value names: `"path"` or `'path'`, up to the next
/// quote of either kind (Squid's `strtokFile`).
fn quoted_file(value: &str) -> Option<&str> {
    let rest = value.strip_prefix(['"', '\''])?;
    Some(rest.split(['"', '\'']).next().unwrap_or(rest))
}

/// `-i`, `+i`, `-n` and `--` before the values.
fn split_flags<'a>(rest: &'a [&'a str]) -> (Vec<&'a str>, &'a [&'a str]) {
    let mut flags = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            "--" => {
                i += 1;
                break;
            }
            f @ ("-i" | "+i" | "-n" | "-m" | "-z") => flags.push(f),
            _ => break,
        }
        i += 1;
    }
    (flags, &rest[i..])
}

fn rule(at: Origin, args: &[&str], actions: &[&str]) -> Result<Rule, ReadError> {
    let Some((action, names)) = args.split_first() else {
        return Err(ReadError::Syntax {
            at,
            detail: format!("expected one of {}", actions.join(", ")),
        });
    };
    if !actions.contains(action) {
        return Err(ReadError::Syntax {
            at,
            detail: format!("'{action}' is not one of {}", actions.join(", ")),
        });
    }
    let conds = names
        .iter()
        .map(|n| match n.strip_prefix('!') {
            Some(rest) => (true, rest.to_string()),
            None => (false, n.to_string()),
        })
        .collect();
    Ok(Rule {
        at,
        action: action.to_string(),
        conds,
    })
}

fn syntax(at: &Origin, detail: String) -> ReadError {
    ReadError::Syntax {
        at: at.clone(),
        detail,
    }
}

fn test(
    kind: &str,
    values: Vec<(String, Origin)>,
    ignore_case: bool,
    no_lookup: bool,
) -> Result<Test, ReadError> {
    Ok(match kind {
        "dstdomain" | "ssl::server_name" => {
            let values: Vec<(String, Origin)> = values
                .into_iter()
                .map(|(v, o)| (v.to_ascii_lowercase(), o))
                .collect();
            Test::Domains {
                index: index(&values),
                values,
                no_lookup,
            }
        }
        "dstdom_regex" | "ssl::server_name_regex" => Test::HostRegex {
            values: regexes(values, ignore_case)?,
            no_lookup,
        },
        "url_regex" | "urlpath_regex" => Test::UrlRegex {
            values: regexes(values, ignore_case)?,
            path_only: kind == "urlpath_regex",
        },
        "port" => Test::Ports(
            values
                .iter()
                .map(|(v, o)| {
                    PortRange::parse(v, &['-']).ok_or_else(|| syntax(o, format!("bad port {v}")))
                })
                .collect::<Result<_, _>>()?,
        ),
        "method" => Test::Methods(values.into_iter().map(|(v, _)| v).collect()),
        "proto" => Test::Proto(
            values
                .into_iter()
                .map(|(v, _)| v.to_ascii_uppercase())
                .collect(),
        ),
        "src" | "dst" => {
            let ranges = values
                .iter()
                .map(|(v, o)| ip_range(v).ok_or_else(|| syntax(o, format!("bad address {v}"))))
                .collect::<Result<Vec<_>, _>>()?;
            if kind == "src" {
                Test::Src(ranges)
            } else {
                Test::Dst(ranges)
            }
        }
        "at_step" => Test::AtStep(
            values
                .iter()
                .filter_map(|(v, _)| match v.as_str() {
                    "SslBump1" => Some(1),
                    "SslBump2" => Some(2),
                    "SslBump3" => Some(3),
                    _ => None,
                })
                .collect(),
        ),
        "any-of" => Test::AnyOf(values.into_iter().map(|(v, _)| v).collect()),
        "all-of" => Test::AllOf(values.into_iter().map(|(v, _)| v).collect()),
        other => Test::Other(format!(
            "type {other} depends on more than the request (not evaluated here)"
        )),
    })
}

fn regexes(
    values: Vec<(String, Origin)>,
    ignore_case: bool,
) -> Result<Vec<(Regex, String, Origin)>, ReadError> {
    let mut out = Vec::new();
    // In a file, `-i` and `+i` lines switch case sensitivity for the
    // values after them.
    let mut icase = ignore_case;
    for (v, o) in values {
        match v.as_str() {
            "-i" => icase = true,
            "+i" => icase = false,
            _ => {
                let re = RegexBuilder::new(&v)
                    .case_insensitive(icase)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| syntax(&o, format!("regex {v:?}: {e}")))?;
                out.push((re, v, o));
            }
        }
    }
    Ok(out)
}

fn ip_range(v: &str) -> Option<IpRange> {
    if v == "all" {
        // Every IPv4 and IPv6 address (IPv4 orders before IPv6).
        return Some(IpRange::Span(
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(std::net::Ipv6Addr::from(u128::MAX)),
        ));
    }
    if let Ok(net) = v.parse::<IpNet>() {
        return Some(IpRange::Net(net));
    }
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(IpRange::Net(IpNet::from(ip)));
    }
    if let Some((a, b)) = v.split_once('-') {
        return Some(IpRange::Span(a.parse().ok()?, b.parse().ok()?));
    }
    // a.b.c.d/m.m.m.m
    let (addr, mask) = v.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let mask: std::net::Ipv4Addr = mask.parse().ok()?;
    let prefix = ipnet::ipv4_mask_to_prefix(mask).ok()?;
    Some(IpRange::Net(IpNet::V4(
        ipnet::Ipv4Net::new(addr, prefix).ok()?,
    )))
}

/// Values of a second `acl` line with the same name join the first's.
fn merge(into: &mut Test, more: Test) {
    match (into, more) {
        (
            Test::Domains {
                values: a,
                index: i,
                ..
            },
            Test::Domains { values: b, .. },
        ) => {
            // The index grows with the values: rebuilding it for every
            // `acl` line would be quadratic in the lines of one ACL.
            for (v, o) in b {
                i.entry(v.clone()).or_insert(a.len());
                a.push((v, o));
            }
        }
        (Test::HostRegex { values: a, .. }, Test::HostRegex { values: b, .. }) => a.extend(b),
        (Test::UrlRegex { values: a, .. }, Test::UrlRegex { values: b, .. }) => a.extend(b),
        (Test::Ports(a), Test::Ports(b)) => a.extend(b),
        (Test::Methods(a), Test::Methods(b)) => a.extend(b),
        (Test::Proto(a), Test::Proto(b)) => a.extend(b),
        (Test::Src(a), Test::Src(b)) | (Test::Dst(a), Test::Dst(b)) => a.extend(b),
        (Test::AtStep(a), Test::AtStep(b)) => a.extend(b),
        (Test::AnyOf(a), Test::AnyOf(b)) | (Test::AllOf(a), Test::AllOf(b)) => a.extend(b),
        _ => {}
    }
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

/// The first value of each text.
fn index(values: &[(String, Origin)]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, (v, _)) in values.iter().enumerate() {
        out.entry(v.clone()).or_insert(i);
    }
    out
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
                match values.iter().find(|(re, _, _)| re.is_match(req.host)) {
                    Some((_, v, o)) => Tri::Yes(Some((regex_pattern(v), o.clone()))),
                    None => Tri::No,
                }
            }
            Test::UrlRegex { values, path_only } => {
                let subject = if *path_only { req.path } else { &req.url };
                match values.iter().find(|(re, _, _)| re.is_match(subject)) {
                    Some((_, v, o)) if !path_only => {
                        let (host, _) = url_pattern(v);
                        Tri::Yes(Some((host, o.clone())))
                    }
                    Some(_) => Tri::Yes(None),
                    None => Tri::No,
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
                for (_, v, o) in values {
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
                for (_, v, o) in values {
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
    fn lines_and_words_are_read_as_squid_reads_them() {
        let text = "acl a src 10.0.0.0/8  # RFC 1918 \"this\" network\n\
                    acl b dstdomain .a.com \\\n\
                    # a comment between the parts\n\
                    \x20  .b.com\r\n\
                    acl c dstdomain .c.com \\ \n\
                    acl d dstdomain .d.com#x\n\
                    \x20  # indented comment\n";
        let lines = logical_lines(text);
        let words: Vec<(usize, Vec<&str>)> = lines;
        assert_eq!(
            words,
            [
                (1, vec!["acl", "a", "src", "10.0.0.0/8"]),
                (2, vec!["acl", "b", "dstdomain", ".a.com", ".b.com"]),
                (5, vec!["acl", "c", "dstdomain", ".c.com", "\\"]),
                (6, vec!["acl", "d", "dstdomain", ".d.com#x"]),
            ]
        );
        assert_eq!(acl_file_value("  .e.com   # note"), Some(".e.com"));
        assert_eq!(acl_file_value(".f.com#g"), Some(".f.com#g"));
        assert_eq!(acl_file_value("two words  # c"), Some("two words"));
        assert_eq!(acl_file_value("   # whole"), None);
        assert_eq!(acl_file_value("  "), None);
        assert_eq!(quoted_file("\"/etc/x\""), Some("/etc/x"));
        assert_eq!(quoted_file("'/etc/y'"), Some("/etc/y"));
        assert_eq!(quoted_file(".a.com"), None);
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
