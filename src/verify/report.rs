//! A verify run as a table for a terminal, as JSON and as JUnit XML.
//!
//! A verify run as a table for a terminal, as JSON (docs/verify.schema.json)
//! and as JUnit XML for CI systems (docs/junit.xsd): one test case per
//! endpoint, failed when it is reachable on no route or inspected against
//! Microsoft's guidance.

use std::fmt::Write as _;

use super::{Judge, Report, RouteResult, Status, TargetResult, Verdict};
use crate::backends::pfsense::xml_escape;

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Inspected => "INSPECTED",
        Status::Unreachable => "UNREACHABLE",
        Status::RoutedWrong => "ROUTED-WRONG",
        Status::OptionalUnreachable => "optional-unreachable",
        Status::Refused => "REFUSED",
        Status::OptionalRefused => "optional-refused",
        Status::Untested => "untested",
    }
}

fn paint(text: &str, status: Status, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match status {
        Status::Ok => "32",
        Status::OptionalUnreachable | Status::OptionalRefused | Status::Untested => "33",
        Status::Unreachable | Status::Refused | Status::Inspected | Status::RoutedWrong => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A route's verdict in a table cell.
fn cell(r: &RouteResult) -> String {
    let mut s = match &r.verdict {
        Verdict::Reachable { status }
        | Verdict::Unexpected { status }
        | Verdict::Blocked { status, .. }
        | Verdict::ProxyFailed { status, .. } => format!("{} {status}", r.verdict.name()),
        Verdict::Failed { phase, kind, .. } => {
            format!("{}:{}", kind_word(*kind), phase_word(*phase))
        }
        other => other.name().to_string(),
    };
    if r.inspected_by.is_some() {
        s.push_str(" +inspected");
    }
    s
}

fn kind_word(k: super::net::FailKind) -> &'static str {
    use super::net::FailKind as K;
    match k {
        K::Timeout => "timeout",
        K::Reset => "reset",
        K::Refused => "refused",
        K::Closed => "closed",
        K::Unresolved => "nxdomain",
        K::Certificate => "certificate",
        K::Protocol => "protocol",
        K::Other => "error",
    }
}

fn phase_word(p: super::net::Phase) -> &'static str {
    use super::net::Phase as P;
    match p {
        P::Dns => "dns",
        P::Tcp => "tcp",
        P::ProxyConnect => "connect",
        P::Tls => "tls",
        P::Http => "http",
    }
}

/// The table, then a paragraph for each endpoint that is not fine, the
/// totals, and a line of counts per route.
pub fn to_text(r: &Report, colour: bool) -> String {
    let mut out = format!(
        "egressgen verify: ruleset {}, {} endpoints on {} route(s) in {:.1} s\n",
        r.ruleset,
        r.targets.len(),
        r.routes.len(),
        r.elapsed_ms as f64 / 1000.0
    );
    if r.judge == Judge::Admission {
        out.push_str(ADMISSION_NOTE);
    }
    out.push('\n');
    let url_width = r
        .targets
        .iter()
        .map(|t| t.target.url.to_string().len())
        .max()
        .unwrap_or(3)
        .clamp(3, 70);
    let _ = write!(out, "{:<20} {:<url_width$}", "STATUS", "URL");
    for route in &r.routes {
        let _ = write!(out, "  {route}");
    }
    out.push('\n');
    for t in &r.targets {
        let word = format!("{:<20}", status_word(t.status));
        let _ = write!(
            out,
            "{} {:<url_width$}",
            paint(&word, t.status, colour),
            t.target.url.to_string()
        );
        for route in &t.routes {
            let _ = write!(out, "  {}", cell(route));
        }
        out.push('\n');
    }
    let notable: Vec<&TargetResult> = r
        .targets
        .iter()
        .filter(|t| t.status != Status::Ok)
        .collect();
    if !notable.is_empty() {
        out.push('\n');
    }
    for t in notable {
        details(&mut out, t);
    }
    out.push('\n');
    totals(&mut out, r);
    for s in &r.summary {
        let _ = writeln!(out, "{}", summary_line(s, r.judge));
    }
    out
}

const ADMISSION_NOTE: &str = "--admission-only: judged on each proxy's answer alone (admitted or refused), not on the origin's; \
     direct hops are not probed, and endpoints the policy sends direct are not judged\n";

/// The count of each status; a refusal is only judged with
/// `--admission-only`.
fn totals(out: &mut String, r: &Report) {
    let refused = match r.judge {
        Judge::Reachability => String::new(),
        Judge::Admission => format!(
            "{} refused, {} optional refused, ",
            r.count(Status::Refused),
            r.count(Status::OptionalRefused)
        ),
    };
    let _ = writeln!(
        out,
        "{} ok, {refused}{} unreachable, {} routed wrong, {} inspected against the guidance, {} optional unreachable, {} untested",
        r.count(Status::Ok),
        r.count(Status::Unreachable),
        r.count(Status::RoutedWrong),
        r.count(Status::Inspected),
        r.count(Status::OptionalUnreachable),
        r.count(Status::Untested)
    );
}

/// One route's results counted by where the route sent each endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouteSummary {
    pub route: String,
    /// Endpoints the policy sends through a proxy, sent to one.
    pub proxied: Tally,
    /// Endpoints the policy sends direct, sent to a proxy anyway (a proxy
    /// route sends every endpoint): a refusal is as it should be.
    pub direct_route_proxied: Tally,
    /// Endpoints the route sent direct (not probed with
    /// `--admission-only`).
    pub sent_direct: Tally,
    /// Endpoints the route gave no way to (a PAC that failed).
    pub no_route: usize,
}

/// Results counted by what they came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub endpoints: usize,
    /// Reachable, or admitted by the proxy (`Verdict::passes`).
    pub passed: usize,
    /// Refused by a proxy (`RouteResult::refused`).
    pub refused: usize,
    /// Nothing learned: the deadline came first, a made-up name looked
    /// up directly, a direct hop with `--admission-only`.
    pub untested: usize,
}

impl Tally {
    fn add(&mut self, r: &RouteResult) {
        self.endpoints += 1;
        if r.verdict.passes() {
            self.passed += 1;
        } else if r.refused() {
            self.refused += 1;
        } else if matches!(
            r.verdict,
            Verdict::NotRun { .. } | Verdict::Untestable { .. }
        ) {
            self.untested += 1;
        }
    }

    /// Neither passed, refused nor untested: failed some other way.
    pub fn failed(&self) -> usize {
        self.endpoints - self.passed - self.refused - self.untested
    }
}

/// A summary per route; `targets[i].routes[j]` is route `labels[j]`.
pub fn summarize(labels: &[String], targets: &[TargetResult]) -> Vec<RouteSummary> {
    labels
        .iter()
        .enumerate()
        .map(|(j, label)| {
            let mut s = RouteSummary {
                route: label.clone(),
                ..RouteSummary::default()
            };
            for t in targets {
                let Some(r) = t.routes.get(j) else { continue };
                let tally = if r.hops.is_empty() {
                    s.no_route += 1;
                    continue;
                } else if r.goes_direct() {
                    &mut s.sent_direct
                } else if t.target.direct {
                    &mut s.direct_route_proxied
                } else {
                    &mut s.proxied
                };
                tally.add(r);
            }
            s
        })
        .collect()
}

/// `proxy 127.0.0.1:3128: 40/42 reachable, 2 blocked, 3/3 direct-route
/// hosts refused`; with `--admission-only`, `42/42 admitted`.
pub fn summary_line(s: &RouteSummary, judge: Judge) -> String {
    let (pass, refuse) = match judge {
        Judge::Reachability => ("reachable", "blocked"),
        Judge::Admission => ("admitted", "refused"),
    };
    let mut parts = Vec::new();
    if s.proxied.endpoints > 0 {
        parts.push(tally_words(&s.proxied, pass, refuse));
    }
    let d = &s.direct_route_proxied;
    if d.endpoints > 0 {
        parts.push(format!(
            "{}/{} direct-route hosts refused",
            d.refused, d.endpoints
        ));
    }
    let n = s.sent_direct.endpoints;
    let only_direct = s.proxied.endpoints == 0 && d.endpoints == 0;
    match judge {
        _ if n == 0 => {}
        Judge::Admission => parts.push(format!("{n} sent direct, not probed")),
        Judge::Reachability if only_direct => {
            parts.push(tally_words(&s.sent_direct, "reachable", "blocked"))
        }
        Judge::Reachability => parts.push(tally_words(
            &s.sent_direct,
            "reachable direct",
            "blocked direct",
        )),
    }
    if s.no_route > 0 {
        parts.push(format!("{} without a route", s.no_route));
    }
    format!("{}: {}", s.route, parts.join(", "))
}

/// `40/42 reachable, 1 blocked, 1 failed`: the counts that are not 0.
fn tally_words(t: &Tally, pass: &str, refuse: &str) -> String {
    let mut s = format!("{}/{} {pass}", t.passed, t.endpoints);
    for (n, word) in [
        (t.refused, refuse),
        (t.failed(), "failed"),
        (t.untested, "untested"),
    ] {
        if n > 0 {
            let _ = write!(s, ", {n} {word}");
        }
    }
    s
}

fn details(out: &mut String, t: &TargetResult) {
    let x = &t.target;
    let _ = writeln!(
        out,
        "{} {} ({}; {}; {})",
        status_word(t.status),
        x.url,
        x.pattern,
        if x.must_not_inspect {
            "must not be inspected"
        } else {
            "inspection allowed"
        },
        x.provenance
    );
    for r in &t.routes {
        let _ = writeln!(out, "    {}: {}", r.route, route_words(r));
    }
}

fn route_words(r: &RouteResult) -> String {
    let mut s = r.verdict.words();
    if let Some(a) = r.attempts.last() {
        let steps: Vec<String> = [
            a.dns.as_ref().map(|d| format!("dns {} ms", d.ms)),
            a.tcp.as_ref().map(|d| format!("tcp {} ms", d.ms)),
            a.connect.as_ref().map(|c| format!("connect {} ms", c.ms)),
            a.tls_ms.map(|ms| format!("tls {ms} ms")),
            a.http.as_ref().map(|h| format!("http {} ms", h.ms)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !steps.is_empty() {
            let _ = write!(s, " [{}; via {}]", steps.join(", "), a.hop);
        }
        if let Some(tls) = &a.tls {
            let _ = write!(
                s,
                "; certificate for {:?} issued by {:?} ({:?})",
                tls.subject, tls.issuer, tls.presenter
            );
        }
    }
    if let Some(by) = &r.inspected_by {
        let _ = write!(s, "; TLS INSPECTED by {by:?}");
    }
    if let Some(d) = &r.chain_differs {
        let _ = write!(s, "; chain differs: {d}");
    }
    s
}

pub fn to_json(r: &Report) -> String {
    let mut text = serde_json::to_string_pretty(r).unwrap_or_default();
    text.push('\n');
    text
}

/// JUnit XML: one suite for the run, one case per endpoint.
pub fn to_junit(r: &Report) -> String {
    let failures = r.unreachable() + r.inspected();
    let skipped = r.count(Status::Untested)
        + r.count(Status::OptionalUnreachable)
        + r.count(Status::OptionalRefused);
    let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml_escape(&format!("egressgen verify {}", r.ruleset));
    let _ = writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        r.targets.len(),
        secs(r.elapsed_ms)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        r.targets.len(),
        secs(r.elapsed_ms)
    );
    let _ = writeln!(out, "    <properties>");
    for route in &r.routes {
        let _ = writeln!(
            out,
            "      <property name=\"route\" value=\"{}\"/>",
            xml_escape(route)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for t in &r.targets {
        case(&mut out, t);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn case(out: &mut String, t: &TargetResult) {
    let x = &t.target;
    let ms: u64 = t
        .routes
        .iter()
        .flat_map(|r| &r.attempts)
        .map(|a| a.total_ms)
        .sum();
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
        xml_escape(&x.pattern),
        xml_escape(&x.url.to_string()),
        ms as f64 / 1000.0
    );
    let lines: Vec<String> = t
        .routes
        .iter()
        .map(|r| format!("{}: {}", r.route, route_words(r)))
        .collect();
    let summary = lines.join("; ");
    match t.status {
        Status::Unreachable => {
            let _ = writeln!(
                out,
                "      <failure type=\"unreachable\" message=\"{}\"/>",
                xml_escape(&format!("reachable on no route: {summary}"))
            );
        }
        Status::Refused => {
            let _ = writeln!(
                out,
                "      <failure type=\"refused\" message=\"{}\"/>",
                xml_escape(&format!("admitted by no proxy: {summary}"))
            );
        }
        Status::RoutedWrong => {
            let _ = writeln!(
                out,
                "      <failure type=\"routed-wrong\" message=\"{}\"/>",
                xml_escape(&format!(
                    "must bypass the proxy, but a route sends it to one: {summary}"
                ))
            );
        }
        Status::Inspected => {
            let by: Vec<&str> = t
                .routes
                .iter()
                .filter_map(|r| r.inspected_by.as_deref())
                .collect();
            let _ = writeln!(
                out,
                "      <failure type=\"inspected\" message=\"{}\"/>",
                xml_escape(&format!(
                    "must not be inspected, but a certificate from {} was shown",
                    by.join(", ")
                ))
            );
        }
        Status::Untested | Status::OptionalUnreachable | Status::OptionalRefused => {
            let _ = writeln!(
                out,
                "      <skipped message=\"{}\"/>",
                xml_escape(&format!("{}: {summary}", status_word(t.status)))
            );
        }
        Status::Ok => {}
    }
    let _ = writeln!(
        out,
        "      <system-out>{}</system-out>",
        lines
            .iter()
            .map(|l| xml_escape(l))
            .collect::<Vec<_>>()
            .join("\n")
    );
    out.push_str("    </testcase>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_line_names_what_was_sent_where() {
        let tally = |endpoints, passed, refused, untested| Tally {
            endpoints,
            passed,
            refused,
            untested,
        };
        let pac = RouteSummary {
            route: "pac".into(),
            proxied: tally(42, 39, 2, 0),
            direct_route_proxied: tally(3, 0, 3, 0),
            sent_direct: tally(2, 1, 0, 1),
            no_route: 1,
        };
        assert_eq!(
            summary_line(&pac, Judge::Reachability),
            "pac: 39/42 reachable, 2 blocked, 1 failed, 3/3 direct-route hosts refused, \
             1/2 reachable direct, 1 untested, 1 without a route"
        );
        assert_eq!(
            summary_line(&pac, Judge::Admission),
            "pac: 39/42 admitted, 2 refused, 1 failed, 3/3 direct-route hosts refused, \
             2 sent direct, not probed, 1 without a route"
        );
        let direct = RouteSummary {
            route: "direct".into(),
            sent_direct: tally(45, 44, 0, 0),
            ..RouteSummary::default()
        };
        assert_eq!(
            summary_line(&direct, Judge::Reachability),
            "direct: 44/45 reachable, 1 failed"
        );
    }
}
