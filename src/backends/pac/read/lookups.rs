//! A name lookup the table cannot answer: the answers that matter, tried.
//!
//! A script learns three things from a lookup: whether there is an
//! answer, and, through `isInNet` (or `shExpMatch` on the address),
//! whether the address lies in a range it tests. So a call is run once per
//! kind of answer: none, an address outside every tested range, and an
//! address inside each tested range (outside the narrower ones tested
//! inside it). The ranges are those the runs themselves pass to `isInNet`
//! on a looked-up answer; a range seen only in a later run starts the
//! walk again with it. Several unanswered names multiply the runs: they
//! are bounded, and beyond the bound the answer stays undecidable.
//!
//! What is not explored: a script that reads the address another way
//! (`dnsResolve(host) == "10.1.2.3"`, `substring`) sees only these
//! representatives.
//!
//! The route is the whole answer (`PROXY a:8080; DIRECT`): it is decided
//! only when every kind of answer gives the same text, because the
//! fallbacks after the first route are what a device does when the proxy
//! is down, and `verify` tries them.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::Deserialize;

use crate::model::text::display_escape;

/// Runs of one call, at most, over all combinations of answers.
pub const MAX_RUNS: usize = 32;

/// A lookup neither the table nor the run's answers could answer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Lookup {
    pub name: String,
    /// The script's line that asked (0: not known).
    pub line: usize,
    /// The helper the script called (`dnsResolve`, `isInNet`, …).
    pub via: String,
}

/// A leading-dot suffix test that failed for the bare name.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Miss {
    pub line: usize,
    /// The call as written, `dnsDomainIs(host, ".x.com")`.
    pub test: String,
    pub host: String,
}

/// What one run saw besides its answer.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Trace {
    /// The `return` that answered (0: none marked).
    pub line: usize,
    /// Time-dependent helpers called: no answer can be decided.
    pub notes: Vec<String>,
    pub lookups: Vec<Lookup>,
    /// `isInNet` pattern and mask tested on a looked-up answer.
    pub ranges: Vec<(String, String)>,
    /// `shExpMatch` patterns tested on a looked-up answer.
    pub patterns: Vec<String>,
    pub misses: Vec<Miss>,
}

/// One run: the answer (or the script's error) and its trace.
#[derive(Clone, Debug)]
pub struct Run {
    pub answer: Result<String, String>,
    pub trace: Trace,
}

/// What a lookup answers in one run.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Nothing,
    Address { addr: Ipv4Addr, label: String },
}

impl Reply {
    /// The value `dnsResolve` returns.
    pub fn js(&self) -> serde_json::Value {
        match self {
            Reply::Nothing => serde_json::Value::Null,
            Reply::Address { addr, .. } => serde_json::Value::String(addr.to_string()),
        }
    }

    fn shown(&self) -> String {
        match self {
            Reply::Nothing => "no answer".to_string(),
            Reply::Address { addr, label } => format!("{label} ({addr})"),
        }
    }
}

/// The answers given to lookups in one run, in the order asked.
pub type Assignment = Vec<(Lookup, Reply)>;

/// The answer of a call over every kind of lookup answer, and the line
/// that decided it (0: not known).
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub answer: Result<String, String>,
    pub line: usize,
    /// Said of a decided answer: a leading-dot suffix test that failed
    /// for the bare name (the route is right for what the script says,
    /// which is rarely what its author meant).
    pub notes: Vec<String>,
}

/// An `isInNet` range: the pattern masked, and the mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Range {
    base: u32,
    mask: u32,
}

impl Range {
    fn parse(pattern: &str, mask: &str) -> Option<Range> {
        let mask = u32::from(mask.trim().parse::<Ipv4Addr>().ok()?);
        let base = u32::from(pattern.trim().parse::<Ipv4Addr>().ok()?) & mask;
        Some(Range { base, mask })
    }

    fn holds(self, a: u32) -> bool {
        a & self.mask == self.base
    }

    fn label(self) -> String {
        let bits = self.mask.leading_ones();
        if self.mask.checked_shl(bits).unwrap_or(0) == 0 {
            format!("inside {}/{bits}", Ipv4Addr::from(self.base))
        } else {
            let (b, m) = (Ipv4Addr::from(self.base), Ipv4Addr::from(self.mask));
            format!("inside {b} mask {m}")
        }
    }

    /// Addresses worth trying: near both ends, and just beside each
    /// narrower range inside it.
    fn candidates(self, others: &BTreeSet<Range>) -> Vec<u32> {
        let host = !self.mask;
        let mut out = vec![
            self.base | (1 & host),
            self.base | (host.wrapping_sub(1) & host),
            self.base,
            self.base | host,
        ];
        for o in others.iter().filter(|o| self.holds(o.base)) {
            out.push(o.base.wrapping_sub(1));
            out.push((o.base | !o.mask).wrapping_add(1));
        }
        out
    }
}

/// The address tests seen on looked-up answers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tested {
    ranges: BTreeSet<Range>,
    patterns: BTreeSet<String>,
}

/// Addresses tried as "outside": documentation and public ones first.
const OUTSIDE: [[u8; 4]; 8] = [
    [198, 51, 100, 1],
    [203, 0, 113, 1],
    [192, 0, 2, 1],
    [8, 8, 8, 8],
    [100, 64, 0, 1],
    [169, 254, 0, 1],
    [127, 0, 0, 2],
    [240, 0, 0, 1],
];

impl Tested {
    fn add(&mut self, t: &Trace) {
        let ranges = t.ranges.iter().filter_map(|(p, m)| Range::parse(p, m));
        self.ranges.extend(ranges);
        let patterns = t.patterns.iter().filter(|p| shexp(p).is_some());
        self.patterns.extend(patterns.cloned());
    }

    fn len(&self) -> usize {
        self.ranges.len() + self.patterns.len()
    }

    /// Whether an address passes any test seen.
    fn touches(&self, a: u32) -> bool {
        self.ranges.iter().any(|r| r.holds(a))
            || self
                .patterns
                .iter()
                .any(|p| shexp(p).is_some_and(|re| re.is_match(&Ipv4Addr::from(a).to_string())))
    }

    /// No answer, an address outside every test, one inside each range
    /// and one matching each pattern; one reply per address.
    pub fn replies(&self) -> Vec<Reply> {
        let mut out = vec![Reply::Nothing];
        let mut push = |addr: u32, label: String| {
            let addr = Ipv4Addr::from(addr);
            let known = out
                .iter()
                .any(|r| matches!(r, Reply::Address { addr: a, .. } if *a == addr));
            if !known {
                out.push(Reply::Address { addr, label });
            }
        };
        if let Some(a) = OUTSIDE
            .map(u32::from_be_bytes)
            .into_iter()
            .find(|&a| !self.touches(a))
        {
            push(a, "an address outside the tested ranges".to_string());
        }
        for r in &self.ranges {
            let narrower: Vec<Range> = self
                .ranges
                .iter()
                .filter(|o| o.mask.count_ones() > r.mask.count_ones())
                .copied()
                .collect();
            let pick = r
                .candidates(&self.ranges)
                .into_iter()
                .find(|&a| r.holds(a) && !narrower.iter().any(|n| n.holds(a)));
            if let Some(a) = pick {
                push(a, r.label());
            }
        }
        for p in &self.patterns {
            if let Some(a) = matching(p) {
                push(a, format!("matching {}", display_escape(p)));
            }
        }
        out
    }
}

/// `shExpMatch`'s pattern as a regular expression, translated as the
/// helper does (dots escaped, `*` any text, `?` one character).
fn shexp(pattern: &str) -> Option<regex::Regex> {
    let re = pattern
        .replace('.', "\\.")
        .replace('*', ".*")
        .replace('?', ".");
    regex::Regex::new(&format!("^(?:{re})$")).ok()
}

/// An address a pattern matches, if a simple filling of its wildcards
/// gives one.
fn matching(pattern: &str) -> Option<u32> {
    let re = shexp(pattern)?;
    ["1", "1.1", "1.1.1", "0", "1.1.1.1"]
        .iter()
        .find_map(|fill| {
            let text = pattern.replace('*', fill).replace('?', "1");
            let a: Ipv4Addr = text.parse().ok()?;
            re.is_match(&text).then_some(u32::from(a))
        })
}

/// Runs a call once per combination of answers to the lookups it makes
/// that the table cannot answer, and judges the answers. `run` answers a
/// run, or an error that stops everything (a limit hit).
pub fn settle(mut run: impl FnMut(&Assignment) -> Result<Run, String>) -> Verdict {
    let mut tested = Tested::default();
    let mut budget = MAX_RUNS;
    loop {
        // The fewest tests any branching used: a test seen after it
        // means answers worth trying were left out, so walk again.
        let mut used = usize::MAX;
        let mut leaves: Vec<(Assignment, Run)> = Vec::new();
        let mut stack: Vec<Assignment> = vec![Vec::new()];
        let mut asked: Vec<Lookup> = Vec::new();
        while let Some(a) = stack.pop() {
            if budget == 0 {
                return over_budget(&asked);
            }
            budget -= 1;
            let r = match run(&a) {
                Ok(r) => r,
                Err(why) => {
                    return Verdict {
                        answer: Err(why),
                        line: first_line(&asked),
                        notes: Vec::new(),
                    };
                }
            };
            tested.add(&r.trace);
            match r.trace.lookups.first() {
                Some(l) if r.trace.notes.is_empty() && !a.iter().any(|(k, _)| k.name == l.name) => {
                    used = used.min(tested.len());
                    if !asked.iter().any(|k| k.name == l.name) {
                        asked.push(l.clone());
                    }
                    for reply in tested.replies().into_iter().rev() {
                        let mut b = a.clone();
                        b.push((l.clone(), reply));
                        stack.push(b);
                    }
                }
                _ => leaves.push((a, r)),
            }
        }
        if used == usize::MAX || tested.len() <= used {
            return judge(leaves, &asked);
        }
    }
}

fn first_line(asked: &[Lookup]) -> usize {
    asked.first().map(|l| l.line).unwrap_or(0)
}

fn over_budget(asked: &[Lookup]) -> Verdict {
    Verdict {
        answer: Err(format!(
            "{}: trying each kind of answer takes more than {MAX_RUNS} runs of FindProxyForURL",
            head(asked)
        )),
        line: first_line(asked),
        notes: Vec::new(),
    }
}

/// `line 9 asks DNS for a.example (isInNet), line 12 for b (isResolvable)`.
fn head(asked: &[Lookup]) -> String {
    let one = |l: &Lookup| {
        let at = match l.line {
            0 => "a line".to_string(),
            n => format!("line {n}"),
        };
        (at, display_escape(&l.name), display_escape(&l.via))
    };
    asked
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (at, name, via) = one(l);
            if i == 0 {
                format!("{at} asks DNS for {name} ({via})")
            } else {
                format!("{at} for {name} ({via})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown_answer(answer: &Result<String, String>) -> String {
    match answer {
        Ok(a) if a.trim().is_empty() => "an empty answer".to_string(),
        Ok(a) => format!("\"{}\"", display_escape(a)),
        Err(e) => e.clone(),
    }
}

/// The answer every leaf agrees on, or why there is none.
fn judge(leaves: Vec<(Assignment, Run)>, asked: &[Lookup]) -> Verdict {
    let misses = misses(&leaves);
    if let Some((_, r)) = leaves.iter().find(|(_, r)| !r.trace.notes.is_empty()) {
        let why = r.trace.notes.first().cloned().unwrap_or_default();
        return Verdict {
            answer: Err(why + &misses),
            line: r.trace.line,
            notes: Vec::new(),
        };
    }
    let (first, rest) = match leaves.split_first() {
        Some(split) => split,
        None => {
            return Verdict {
                answer: Err("no run".to_string()),
                line: 0,
                notes: Vec::new(),
            };
        }
    };
    let agree = first.1.answer.is_ok() && rest.iter().all(|(_, r)| r.answer == first.1.answer);
    if leaves.len() == 1 || agree {
        // Returns on different lines that answer alike: the lookup chose
        // between them, so it is the line to show.
        let same_line = rest.iter().all(|(_, r)| r.trace.line == first.1.trace.line);
        let line = if same_line {
            first.1.trace.line
        } else {
            first_line(asked)
        };
        let answer = first.1.answer.clone().map_err(|e| e + &misses);
        let notes = match (&answer, misses.is_empty()) {
            (Ok(_), false) => vec![misses.trim_start_matches("; ").to_string()],
            _ => Vec::new(),
        };
        return Verdict {
            answer,
            line,
            notes,
        };
    }
    let outcomes: Vec<String> = leaves
        .iter()
        .map(|(a, r)| {
            let replies: Vec<String> = match a.as_slice() {
                [(_, reply)] if asked.len() == 1 => vec![reply.shown()],
                _ => a
                    .iter()
                    .map(|(l, reply)| format!("{}: {}", display_escape(&l.name), reply.shown()))
                    .collect(),
            };
            format!("{} -> {}", replies.join(", "), shown_answer(&r.answer))
        })
        .collect();
    Verdict {
        answer: Err(format!("{}: {}{misses}", head(asked), outcomes.join("; "))),
        line: first_line(asked),
        notes: Vec::new(),
    }
}

/// `; line 14: dnsDomainIs(host, ".x") does not match x itself …`.
fn misses(leaves: &[(Assignment, Run)]) -> String {
    let all: BTreeSet<&Miss> = leaves.iter().flat_map(|(_, r)| &r.trace.misses).collect();
    all.iter()
        .map(|m| {
            format!(
                "; line {}: {} does not match {} itself (a suffix test: the name needs a test of its own)",
                m.line,
                display_escape(&m.test),
                display_escape(&m.host)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(p: &str, m: &str) -> Trace {
        Trace {
            ranges: vec![(p.to_string(), m.to_string())],
            ..Trace::default()
        }
    }

    fn addrs(t: &Tested) -> Vec<String> {
        t.replies()
            .iter()
            .map(|r| match r {
                Reply::Nothing => "none".to_string(),
                Reply::Address { addr, label } => format!("{addr} {label}"),
            })
            .collect()
    }

    #[test]
    fn one_reply_per_kind_of_answer_and_nested_ranges_apart() {
        let mut t = Tested::default();
        t.add(&range("10.0.0.0", "255.0.0.0"));
        t.add(&range("10.0.0.0", "255.255.0.0"));
        t.add(&Trace {
            patterns: vec!["192.168.*".to_string()],
            ..Trace::default()
        });
        let got = addrs(&t);
        assert_eq!(
            got,
            [
                "none",
                "198.51.100.1 an address outside the tested ranges",
                "10.255.255.254 inside 10.0.0.0/8",
                "10.0.0.1 inside 10.0.0.0/16",
                "192.168.1.1 matching 192.168.*",
            ],
            "{got:?}"
        );
        // A script that tests everything leaves no outside address.
        t.add(&range("0.0.0.0", "0.0.0.0"));
        assert!(addrs(&t).iter().all(|a| !a.contains("outside")));
    }

    /// A fake script: `isInNet(dnsResolve(a), 10/8) ? DIRECT : PROXY`,
    /// and only when `a` has no answer does it ask for `b`.
    fn script(a: &Assignment) -> Result<Run, String> {
        let reply = |n: &str| a.iter().find(|(l, _)| l.name == n).map(|(_, r)| r.clone());
        let lookup = |n: &str, line| Lookup {
            name: n.to_string(),
            line,
            via: "dnsResolve".to_string(),
        };
        let mut trace = range("10.0.0.0", "255.0.0.0");
        let answer = match reply("a") {
            None => {
                trace.lookups.push(lookup("a", 3));
                "PROXY p:1"
            }
            Some(Reply::Address { addr, .. }) if addr.octets()[0] == 10 => "DIRECT",
            Some(Reply::Address { .. }) => "PROXY p:1",
            Some(Reply::Nothing) => match reply("b") {
                None => {
                    trace.lookups.push(lookup("b", 5));
                    "PROXY p:1"
                }
                Some(Reply::Nothing) => "PROXY p:1",
                Some(_) => "DIRECT",
            },
        };
        Ok(Run {
            answer: Ok(answer.to_string()),
            trace,
        })
    }

    #[test]
    fn each_combination_is_run_and_named() {
        let mut runs = 0;
        let v = settle(|a| {
            runs += 1;
            script(a)
        });
        // a: none (then b: none, outside, inside), outside, inside; plus the first run.
        assert_eq!(runs, 1 + 3 + 3);
        assert_eq!(v.line, 3);
        let why = v.answer.unwrap_err();
        assert!(
            why.starts_with("line 3 asks DNS for a (dnsResolve), line 5 for b (dnsResolve): "),
            "{why}"
        );
        assert!(
            why.contains("a: no answer, b: inside 10.0.0.0/8 (10.0.0.1) -> \"DIRECT\""),
            "{why}"
        );
        assert!(
            why.contains("a: an address outside the tested ranges (198.51.100.1) -> \"PROXY p:1\""),
            "{why}"
        );
    }

    #[test]
    fn the_same_answer_everywhere_decides_and_the_runs_are_bounded() {
        let v = settle(|a| {
            let mut r = script(a)?;
            r.answer = Ok("PROXY p:1".to_string());
            Ok(r)
        });
        assert_eq!(v.answer, Ok("PROXY p:1".to_string()));
        // Every run asks a new name: the bound ends it.
        let mut n = 0;
        let v = settle(|_| {
            n += 1;
            let mut t = Trace::default();
            t.lookups.push(Lookup {
                name: format!("n{n}"),
                line: 2,
                via: "isResolvable".to_string(),
            });
            Ok(Run {
                answer: Ok("DIRECT".to_string()),
                trace: t,
            })
        });
        assert_eq!(n, MAX_RUNS);
        assert!(v.answer.unwrap_err().contains("more than 32 runs"));
    }
}
