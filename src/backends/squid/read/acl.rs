//! ACL values as Squid 5.7 stores them.
//!
//! Options checked per type, typed tests, and the domain lists where
//! Squid drops or refuses an entry another one covers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use ipnet::IpNet;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_automata::nfa::thompson;

use super::{IpRange, Test};
use crate::backends::reader::{IgnoredLine, Origin, PortRange, ReadError};

/// The ACL types whose values are regular expressions, read with
/// backslash pairs kept (`ConfigParser::RegexStrtokFile`).
pub(super) fn is_regex(kind: &str) -> bool {
    kind.ends_with("_regex")
        || matches!(
            kind,
            "browser" | "urllogin" | "req_mime_type" | "rep_mime_type"
        )
}

/// The options Squid 5.7 takes for the ACL types the audit evaluates:
/// flag letters (after `-`; `+` only with `i`) and long options. `None`:
/// a type the audit does not evaluate, whose options it does not check.
fn supported(kind: &str) -> Option<(&'static [char], &'static [&'static str])> {
    Some(match kind {
        "dstdomain" | "dst" => (&['n'], &[]),
        "dstdom_regex" => (&['i', 'n'], &[]),
        "url_regex" | "urlpath_regex" | "ssl::server_name_regex" => (&['i'], &[]),
        "ssl::server_name" => (
            &[],
            &["--client-requested", "--server-provided", "--consensus"],
        ),
        "src" | "port" | "method" | "proto" | "at_step" | "any-of" | "all-of" => (&[], &[]),
        _ => return None,
    })
}

/// The options before an ACL's values, checked as Squid checks them
/// (`configuration error: unsupported ACL option: -i` is fatal), and how
/// many words they take. `--` ends them.
pub(super) fn options<'a>(kind: &str, words: &[&'a str]) -> Result<(Vec<&'a str>, usize), String> {
    let mut flags = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if *w == "--" {
            return Ok((flags, i + 1));
        }
        let Some(body) = w.strip_prefix(['-', '+']) else {
            return Ok((flags, i));
        };
        let Some(first) = body.chars().next() else {
            return Err(format!("configuration error: truncated(?) ACL flag: {w}"));
        };
        if let Some((letters, long)) = supported(kind) {
            let name = w.split('=').next().unwrap_or(w);
            let known = if body.starts_with('-') {
                long.contains(&name)
            } else {
                letters.contains(&first) && (w.starts_with('-') || first == 'i')
            };
            if !known {
                let shown = if body.starts_with('-') {
                    name.to_string()
                } else {
                    format!("{}{first}", &w[..1])
                };
                return Err(format!(
                    "configuration error: unsupported ACL option: {shown}"
                ));
            }
        }
        flags.push(*w);
    }
    Ok((flags, words.len()))
}

fn syntax(at: &Origin, detail: String) -> ReadError {
    ReadError::Syntax {
        at: at.clone(),
        detail,
    }
}

/// The test of one `acl` line's values (domain types are built value by
/// value instead, see [`add_domains`]).
pub(super) fn test(
    kind: &str,
    values: Vec<(String, Origin)>,
    ignore_case: bool,
    no_lookup: bool,
    room: &mut RegexRoom,
) -> Result<Test, ReadError> {
    Ok(match kind {
        "dstdom_regex" | "ssl::server_name_regex" => Test::HostRegex {
            values: regexes(values, ignore_case, room)?,
            no_lookup,
        },
        "url_regex" | "urlpath_regex" => Test::UrlRegex {
            values: regexes(values, ignore_case, room)?,
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

/// What the regular expressions of one configuration may take compiled.
pub(super) struct RegexRoom<'a> {
    pub used: &'a mut usize,
    pub limit: usize,
}

/// Bytes the forward automaton of one value may take (what the read
/// checks).
const VALUE_LIMIT: usize = 1 << 20;
/// The limit one value compiles under when the index takes it alone. The
/// engine also builds a reverse automaton, which for Unicode classes is
/// about three times the forward one (`\w{50}`: 0.88 MB forward, 2.5 MB
/// in all); a test holds the margin for the atoms that grow most.
const FALLBACK_LIMIT: usize = 8 * VALUE_LIMIT;

/// Regular expressions in order; a `-i` or `+i` among the values switches
/// case sensitivity for the ones after it, as in Squid. One that does not
/// compile is an error at its line: Squid skips it (an ERROR, and the ACL
/// loses a pattern), and the audit's engine is not POSIX's, so a verdict
/// without it would be a guess. Each is checked by parsing it and building
/// the engine's automaton (the step that enforces its size limit), then
/// dropped: a compiled `Regex` per value held about 12 KB, and the index
/// compiles the values together instead.
fn regexes(
    values: Vec<(String, Origin)>,
    ignore_case: bool,
    room: &mut RegexRoom,
) -> Result<Regexes, ReadError> {
    let mut out = Regexes::default();
    let mut icase = ignore_case;
    for (v, o) in values {
        match v.as_str() {
            "-i" => icase = true,
            "+i" => icase = false,
            _ => {
                let bytes =
                    check_regex(&v, icase).map_err(|e| syntax(&o, format!("regex {v:?}: {e}")))?;
                *room.used = room.used.saturating_add(bytes);
                if *room.used > room.limit {
                    return Err(ReadError::Limit {
                        file: o.to_string(),
                        detail: format!(
                            "the regular expressions would take more than {} bytes compiled",
                            room.limit
                        ),
                    });
                }
                out.values.push((v, o));
                out.icase.push(icase);
            }
        }
    }
    Ok(out)
}

/// Whether `pattern` compiles as the index will compile it, and the bytes
/// its automaton takes.
fn check_regex(pattern: &str, icase: bool) -> Result<usize, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(icase)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let nfa = thompson::Compiler::new()
        .configure(thompson::Config::new().nfa_size_limit(Some(VALUE_LIMIT)))
        .build_from_hir(&hir)
        .map_err(|_| format!("compiled, it exceeds the size limit of {VALUE_LIMIT} bytes"))?;
    Ok(nfa.memory_usage())
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

/// Values per set of the first-match index.
const CHUNK: usize = 128;

/// The values of a regex ACL, in file order, and an index built on first
/// use: sets of [`CHUNK`] values matched at once, so a request costs a
/// pass per set, not one per value (a list of 10,000 `url_regex` lines
/// asked once per line was quadratic).
#[derive(Clone, Debug, Default)]
pub(super) struct Regexes {
    pub values: Vec<(String, Origin)>,
    /// Per value: matched without regard to case (`-i`).
    icase: Vec<bool>,
    index: OnceLock<Vec<Chunk>>,
}

/// One chunk of the index.
#[derive(Clone, Debug)]
enum Chunk {
    Set(RegexSet),
    /// A chunk whose set the engine refuses (over the set's size limit):
    /// its values one by one. `None`: a value the engine would not compile
    /// even under [`FALLBACK_LIMIT`]; the read checked its forward
    /// automaton only, so this is kept possible rather than assumed away.
    Each(Vec<Option<Regex>>),
}

/// The first value of a regex list that matches a subject.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Found<'a> {
    Value(&'a (String, Origin)),
    None,
    /// A value before any match could not be compiled: whether it matches
    /// is not known.
    Unknown(&'a (String, Origin)),
}

impl Regexes {
    /// The first value, in file order, that matches `subject`.
    pub fn first(&self, subject: &str) -> Found<'_> {
        let chunks = self.index.get_or_init(|| self.build());
        for (k, chunk) in chunks.iter().enumerate() {
            let base = k * CHUNK;
            let hit = match chunk {
                // Most sets do not match: a yes/no search stops sooner
                // than collecting which of 128 patterns match.
                Chunk::Set(set) if !set.is_match(subject) => None,
                Chunk::Set(set) => set.matches(subject).iter().next(),
                Chunk::Each(each) => {
                    for (i, re) in each.iter().enumerate() {
                        match re {
                            Some(re) if re.is_match(subject) => {
                                return Found::Value(&self.values[base + i]);
                            }
                            Some(_) => {}
                            None => return Found::Unknown(&self.values[base + i]),
                        }
                    }
                    None
                }
            };
            if let Some(i) = hit {
                return Found::Value(&self.values[base + i]);
            }
        }
        Found::None
    }

    fn build(&self) -> Vec<Chunk> {
        self.values
            .chunks(CHUNK)
            .zip(self.icase.chunks(CHUNK))
            .map(|(part, icase)| {
                let patterns =
                    part.iter().zip(icase).map(
                        |((v, _), &i)| {
                            if i { format!("(?i:{v})") } else { v.clone() }
                        },
                    );
                match RegexSetBuilder::new(patterns).size_limit(16 << 20).build() {
                    Ok(set) => Chunk::Set(set),
                    Err(_) => Chunk::Each(
                        part.iter()
                            .zip(icase)
                            .map(|((v, _), &i)| {
                                RegexBuilder::new(v)
                                    .case_insensitive(i)
                                    .size_limit(FALLBACK_LIMIT)
                                    .build()
                                    .ok()
                            })
                            .collect(),
                    ),
                }
            })
            .collect()
    }

    /// The values of a second `acl` line of the same name, after these.
    pub fn extend(&mut self, more: Regexes) {
        self.values.extend(more.values);
        self.icase.extend(more.icase);
        self.index = OnceLock::new();
    }
}

/// Values of a second `acl` line with the same name join the first's.
pub(super) fn merge(into: &mut Test, more: Test) {
    match (into, more) {
        (Test::HostRegex { values: a, .. }, Test::HostRegex { values: b, .. })
        | (Test::UrlRegex { values: a, .. }, Test::UrlRegex { values: b, .. }) => a.extend(b),
        (Test::Ports(a), Test::Ports(b)) => a.extend(b),
        (Test::Methods(a), Test::Methods(b)) => a.extend(b),
        (Test::Proto(a), Test::Proto(b)) => a.extend(b),
        (Test::Src(a), Test::Src(b)) | (Test::Dst(a), Test::Dst(b)) => a.extend(b),
        (Test::AtStep(a), Test::AtStep(b)) => a.extend(b),
        (Test::AnyOf(a), Test::AnyOf(b)) | (Test::AllOf(a), Test::AllOf(b)) => a.extend(b),
        _ => {}
    }
}

/// `matchDomainName(h, d) == 0` (url.cc), the comparison Squid's domain
/// lists are sorted by: host `h` (leading dots ignored) is `d`, or `d` is
/// `.h`, or `d` starts with a dot and `h` ends with it.
pub(super) fn domain_match(h: &str, d: &str) -> bool {
    let h = h.trim_start_matches('.');
    !h.is_empty()
        && (h == d || d.strip_prefix('.') == Some(h) || (d.starts_with('.') && h.ends_with(d)))
}

/// What Squid does with one more value of a domain list.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Fate {
    Keep,
    /// The same text again: dropped without a word.
    Duplicate,
    /// Under a value already listed (`x.a.com` after `.a.com`): dropped
    /// with a WARNING; the index of that value.
    Covered(usize),
    /// Over a value already listed (`.a.com` after `x.a.com`, or `a.com`
    /// with `.a.com`): fatal; the index of that value.
    Covers(usize),
}

/// The state of one domain ACL for Squid's rule, kept beside its values.
/// Squid keeps a domain list in a splay tree ordered by
/// [`domain_match`] (`ACLDomainData::parse`, `aclDomainCompare`); inserting
/// a value that compares equal to one already there is a duplicate (same
/// text, dropped silently), a value under it (dropped: `WARNING: 'x' is a
/// subdomain of 'y'`, `WARNING: You should remove 'x' from the ACL named
/// 'n'`), or a value over it (fatal: `ERROR: You need to remove ...`).
/// The values kept never cover one another, so a search meets at most one
/// above and any below: the answer is the same whatever the tree's shape
/// (checked against squid -k parse on random lists).
#[derive(Debug, Default)]
pub(super) struct Overlap {
    /// Each kept value without its leading dots.
    bare: HashMap<String, usize>,
    /// Every `.suffix` of each kept value's bare name (`.a.com` and `.com`
    /// for `x.a.com`).
    below: HashMap<String, usize>,
}

impl Overlap {
    /// What Squid does with `x`, given the values kept so far.
    pub fn fate(&self, x: &str, values: &[(String, Origin)]) -> Fate {
        let value = |i: usize| values.get(i).map_or("", |(v, _)| v.as_str());
        // A kept value `y` under `x` or equal to it: domain_match(y, x).
        let equal_bare = x.strip_prefix('.').unwrap_or(x);
        if let Some(&i) = self.bare.get(equal_bare)
            && domain_match(value(i), x)
        {
            return if value(i) == x {
                Fate::Duplicate
            } else {
                Fate::Covers(i)
            };
        }
        if x.starts_with('.')
            && let Some(&i) = self.below.get(x)
        {
            return Fate::Covers(i);
        }
        // A kept value `y` over `x`: domain_match(x, y).
        let bare = x.trim_start_matches('.');
        let over = std::iter::once(bare)
            .chain(bare.match_indices('.').map(|(i, _)| &bare[i + 1..]))
            .filter_map(|b| self.bare.get(b).copied())
            .find(|&i| domain_match(x, value(i)));
        match over {
            Some(i) => Fate::Covered(i),
            None => Fate::Keep,
        }
    }

    /// Records a kept value, at `index` in the ACL's values.
    pub fn keep(&mut self, x: &str, index: usize) {
        let bare = x.trim_start_matches('.');
        for (i, _) in bare.match_indices('.') {
            self.below.entry(bare[i..].to_string()).or_insert(index);
        }
        self.bare.entry(bare.to_string()).or_insert(index);
    }
}

/// Adds values to a domain list as Squid does: lower-cased, duplicates
/// and covered values dropped (each covered one reported as a line Squid
/// ignores), a value over one already listed refused as Squid refuses it.
pub(super) fn add_domains(
    name: &str,
    test: &mut Test,
    overlap: &mut Overlap,
    more: Vec<(String, Origin)>,
    ignored: &mut Vec<IgnoredLine>,
) -> Result<(), String> {
    let Test::Domains { values, index, .. } = test else {
        return Ok(());
    };
    for (mut x, at) in more {
        x.make_ascii_lowercase();
        match overlap.fate(&x, values) {
            Fate::Keep => {
                overlap.keep(&x, values.len());
                index.entry(x.clone()).or_insert(values.len());
                values.push((x, at));
            }
            Fate::Duplicate => {}
            Fate::Covered(i) => {
                let (y, y_at) = &values[i];
                ignored.push(covered(name, &x, at, y, y_at));
            }
            Fate::Covers(i) => {
                let (y, y_at) = &values[i];
                let (long, short) = if y.len() > x.len() { (y, &x) } else { (&x, y) };
                return Err(format!(
                    "acl {name}: '{x}' ({at}) covers '{y}', listed before it at {y_at}, and Squid refuses the file: \
                     ERROR: '{long}' is a subdomain of '{short}', ERROR: You need to remove '{long}' from the ACL named '{name}'"
                ));
            }
        }
    }
    Ok(())
}

/// The line of a value Squid drops because an earlier one covers it.
fn covered(name: &str, x: &str, at: Origin, y: &str, y_at: &Origin) -> IgnoredLine {
    let (long, short) = if x.len() > y.len() { (x, y) } else { (y, x) };
    IgnoredLine {
        at,
        why: format!(
            "acl {name}: Squid ignores '{x}', already covered by '{y}' ({y_at}); squid -k parse says \
             WARNING: '{long}' is a subdomain of '{short}', WARNING: You should remove '{long}' from the ACL named '{name}'"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index answers as a scan in file order does: the first value
    /// that matches, over lists longer than a set, with `-i`/`+i` turned
    /// on and off along the list, values that overlap, and a set too
    /// large to build (scanned instead).
    #[test]
    fn the_index_finds_the_first_match_as_a_scan_does() {
        let mut lines: Vec<String> = Vec::new();
        for i in 0..700 {
            match i % 97 {
                10 => lines.push("-i".into()),
                60 => lines.push("+i".into()),
                _ => {}
            }
            lines.push(match i % 4 {
                0 => format!("^http://h{i}\\.Example\\.(com|net)/"),
                1 => format!("/p{}/", i % 50),
                2 => format!("h{}", i % 70),
                _ => format!("^https://[a-z]+{i}\\.example\\.org(:443)?/"),
            });
        }
        // A chunk of values each within the limit of one regex, whose set
        // exceeds the limit of a set: it is scanned.
        for k in 0..CHUNK {
            lines.insert(3 * CHUNK, format!("[a-z]{{4000}}q{k}"));
        }
        let values: Vec<(String, Origin)> = lines
            .into_iter()
            .enumerate()
            .map(|(n, v)| {
                (
                    v,
                    Origin {
                        file: "t.conf".into(),
                        line: n + 1,
                    },
                )
            })
            .collect();
        let mut used = 0;
        let mut room = RegexRoom {
            used: &mut used,
            limit: usize::MAX,
        };
        let list = regexes(values, false, &mut room).unwrap();
        assert!(list.values.len() > 5 * CHUNK);
        // The reference: each value compiled on its own, tried in order.
        let each: Vec<Regex> = list
            .values
            .iter()
            .zip(&list.icase)
            .map(|((v, _), &i)| RegexBuilder::new(v).case_insensitive(i).build().unwrap())
            .collect();
        let scan = |s: &str| {
            each.iter()
                .position(|re| re.is_match(s))
                .map(|i| (list.values[i].0.clone(), list.values[i].1.line))
        };
        let mut found = 0;
        for i in 0..300 {
            for s in [
                format!("http://h{i}.example.com/p{}/x", i % 60),
                format!("http://H{i}.EXAMPLE.NET/"),
                format!("https://abc{i}.example.org/"),
                format!("https://ABC{i}.example.org:443/"),
                format!("http://z.invalid/q{i}"),
            ] {
                let want = scan(&s);
                found += usize::from(want.is_some());
                let got = match list.first(&s) {
                    Found::Value((v, o)) => Some((v.clone(), o.line)),
                    Found::None => None,
                    Found::Unknown(v) => panic!("{v:?} not compiled"),
                };
                assert_eq!(got, want, "{s}");
            }
        }
        assert!(found > 300, "{found}");
        let chunks = list.index.get().unwrap();
        assert!(chunks.iter().any(|c| matches!(c, Chunk::Each(_))));
        assert!(chunks.iter().any(|c| matches!(c, Chunk::Set(_))));
    }

    /// What passes the read's check compiles when the index falls back to
    /// one value at a time: for atoms whose automata grow differently
    /// (Unicode classes compile to large UTF-8 automata, forward and
    /// reverse), the longest repetition the check accepts builds with the
    /// fallback's limit, and one more is refused at read.
    #[test]
    fn what_the_read_accepts_the_engine_compiles() {
        for atom in [
            "a",
            "[a-z]",
            r"\w",
            r"\W",
            r"\d",
            ".",
            "(?s:.)",
            "[^a]",
            r"\pL",
            r"[\p{Han}\p{Greek}]",
            "[a-zé]",
            r"(?:ab|cd)",
        ] {
            for icase in [false, true] {
                let ok = |n: usize| check_regex(&format!("{atom}{{{n}}}"), icase).is_ok();
                let (mut lo, mut hi) = (1, 2);
                while ok(hi) {
                    (lo, hi) = (hi, hi * 2);
                }
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2;
                    if ok(mid) { lo = mid } else { hi = mid }
                }
                let longest = format!("{atom}{{{lo}}}");
                assert!(
                    RegexBuilder::new(&longest)
                        .case_insensitive(icase)
                        .size_limit(FALLBACK_LIMIT)
                        .build()
                        .is_ok(),
                    "{longest} (case-insensitive: {icase})"
                );
                let err = check_regex(&format!("{atom}{{{hi}}}"), icase).unwrap_err();
                assert!(err.contains("size limit"), "{err}");
            }
        }
    }

    fn fates(list: &[&str]) -> Result<Vec<String>, String> {
        let mut test = Test::Domains {
            values: Vec::new(),
            index: HashMap::new(),
            no_lookup: false,
        };
        let mut ignored = Vec::new();
        let values = list
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    v.to_string(),
                    Origin {
                        file: "f".into(),
                        line: i + 1,
                    },
                )
            })
            .collect();
        add_domains(
            "d",
            &mut test,
            &mut Overlap::default(),
            values,
            &mut ignored,
        )?;
        Ok(ignored.iter().map(|i| i.at.to_string()).collect())
    }

    /// Each case as squid -k parse answered it (see the module's tests in
    /// tests/audit_squid.rs for the live comparison).
    #[test]
    fn domain_lists_drop_and_refuse_as_squid_does() {
        assert_eq!(
            fates(&[".example.com", "x.example.com"]),
            Ok(vec!["f:2".into()])
        );
        assert_eq!(
            fates(&[".example.net", ".a.example.net"]),
            Ok(vec!["f:2".into()])
        );
        assert_eq!(
            fates(&[".Example.com", "x.example.COM"]),
            Ok(vec!["f:2".into()])
        );
        assert_eq!(fates(&[".com", "example.com"]), Ok(vec!["f:2".into()]));
        for fatal in [
            ["y.example.org", ".example.org"],
            [".a.example.net", ".example.net"],
            ["c.d", ".c.d"],
            [".c.d", "c.d"],
            ["example.com", ".com"],
        ] {
            assert!(fates(&fatal).is_err(), "{fatal:?}");
        }
        for fine in [
            ["a.b", "a.b"],
            [".c.d", ".c.d"],
            ["A.b", "a.B"],
            ["example.com", ".x.example.com"],
            ["example.com", "x.example.com"],
            ["..example.com", "x.example.com"],
        ] {
            assert_eq!(fates(&fine), Ok(vec![]), "{fine:?}");
        }
        let e = fates(&["y.example.org", ".example.org"]).unwrap_err();
        assert!(
            e.contains("You need to remove 'y.example.org' from the ACL named 'd'"),
            "{e}"
        );
    }

    #[test]
    fn options_as_squid_checks_them() {
        assert_eq!(options("dstdomain", &["-n", "a"]), Ok((vec!["-n"], 1)));
        assert_eq!(options("dstdomain", &["a", "-n"]), Ok((vec![], 0)));
        assert_eq!(options("url_regex", &["+i", "x"]), Ok((vec!["+i"], 1)));
        assert_eq!(options("dstdomain", &["--", "-n"]), Ok((vec![], 1)));
        assert_eq!(
            options("dstdomain", &["-i", "a"]),
            Err("configuration error: unsupported ACL option: -i".into())
        );
        assert_eq!(
            options("dstdomain", &["-x.com"]),
            Err("configuration error: unsupported ACL option: -x".into())
        );
        assert_eq!(
            options("dstdomain", &["+n"]),
            Err("configuration error: unsupported ACL option: +n".into())
        );
        assert!(options("ssl::server_name", &["--consensus", "a"]).is_ok());
        assert!(options("dstdomain", &["-"]).is_err());
        // A type the audit does not evaluate: not checked.
        assert!(options("time", &["-q"]).is_ok());
    }
}
