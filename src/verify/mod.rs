//! `verify`: can each endpoint be reached on each route, and is TLS inspected on the way?
//!
//! `egressgen verify`: from a client's seat, whether each endpoint of a
//! policy can be reached on each route a device may take, and whether a
//! TLS-inspecting proxy is in the way, the way Microsoft's client
//! analyzer checks it. The only module besides `refresh` that opens
//! sockets.

pub mod certs;
pub mod known;
pub mod net;
pub mod pac;
pub mod plan;
pub mod report;
pub mod route;
pub mod setup;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use net::{Attempt, Context, FailKind, Hop, Phase};
use plan::{Target, UrlFrom};
use route::Route;

/// How long and how wide a run may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// One probe on one hop, every step included (a PAC's list may give
    /// a route several hops).
    pub timeout: Duration,
    /// The whole run: probes not started by then are reported as not run.
    pub deadline: Duration,
    /// Probes in flight at once.
    pub jobs: usize,
}

/// What a run judges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judge {
    /// Whether the origin answers on each route (the default).
    #[default]
    Reachability,
    /// Only whether each proxy admits each endpoint (`--admission-only`),
    /// so that a lab without internet can pass: what became of the
    /// request behind the proxy is not judged, and direct hops are not
    /// probed.
    Admission,
}

/// What one probe on one route came to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The origin answered with an expected status.
    Reachable { status: u16 },
    /// The origin answered, with a status outside the expected set.
    Unexpected { status: u16 },
    /// The proxy refused (its own 403/407, or a refused CONNECT; with
    /// `--admission-only` any answer of its own that is not an upstream
    /// failure).
    Blocked {
        by: String,
        status: u16,
        reason: String,
    },
    /// The proxy let the request through but could not reach the origin.
    ProxyFailed {
        by: String,
        status: u16,
        reason: String,
    },
    /// The proxy let the request through, and whether the service
    /// answers is not known or not judged: a made-up name (the proxy
    /// admits the wildcard), or any endpoint with `--admission-only`.
    Admitted { by: String, reason: String },
    /// The proxy could not be looked up or connected to.
    ProxyDown { proxy: String, detail: String },
    /// A step towards the origin failed.
    Failed {
        phase: Phase,
        kind: FailKind,
        detail: String,
    },
    /// Nothing to learn on this route (a made-up name looked up
    /// directly; a direct hop with `--admission-only`).
    Untestable { why: String },
    /// The route gives no way to the URL: the PAC script failed, or
    /// answered something no client can use.
    NoRoute { why: String },
    /// Not probed: the deadline came first.
    NotRun { why: String },
}

impl Verdict {
    /// Whether the route works for the endpoint.
    pub fn passes(&self) -> bool {
        matches!(self, Verdict::Reachable { .. } | Verdict::Admitted { .. })
    }

    /// Whether the route says nothing either way.
    pub fn silent(&self) -> bool {
        matches!(self, Verdict::Untestable { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Reachable { .. } => "reachable",
            Verdict::Unexpected { .. } => "unexpected",
            Verdict::Blocked { .. } => "blocked",
            Verdict::ProxyFailed { .. } => "proxy-failed",
            Verdict::Admitted { .. } => "admitted",
            Verdict::ProxyDown { .. } => "proxy-down",
            Verdict::Failed { .. } => "failed",
            Verdict::Untestable { .. } => "untestable",
            Verdict::NoRoute { .. } => "no-route",
            Verdict::NotRun { .. } => "not-run",
        }
    }

    /// One line for a person.
    pub fn words(&self) -> String {
        match self {
            Verdict::Reachable { status } => format!("reachable ({status})"),
            Verdict::Unexpected { status } => {
                format!("the origin answered {status}, not an expected status")
            }
            Verdict::Blocked { by, status, reason } => {
                format!("blocked by {by}: {status} {reason}")
            }
            Verdict::ProxyFailed { by, status, reason } => {
                format!("{by} let it through but could not reach the origin: {status} {reason}")
            }
            Verdict::Admitted { by, reason } => format!("admitted by {by} ({reason})"),
            Verdict::ProxyDown { proxy, detail } => format!("proxy {proxy} unreachable: {detail}"),
            Verdict::Failed { phase, detail, .. } => format!("{} failed: {detail}", phase.words()),
            Verdict::Untestable { why } => format!("untestable: {why}"),
            Verdict::NoRoute { why } => format!("no route: {why}"),
            Verdict::NotRun { why } => format!("not run: {why}"),
        }
    }
}

/// One target on one route.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RouteResult {
    pub route: String,
    /// The route picks per URL (a PAC, the environment's proxy).
    pub per_url: bool,
    /// The hops the route gave, in order.
    pub hops: Vec<String>,
    pub attempts: Vec<Attempt>,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The CA of a private chain shown on this route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspected_by: Option<String>,
    /// The chain differs from what another route showed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_differs: Option<String>,
}

impl RouteResult {
    /// Whether the route's first hop is DIRECT (the hops are planned
    /// before any probe, so this holds for a hop not probed too).
    pub fn goes_direct(&self) -> bool {
        self.hops
            .first()
            .is_some_and(|h| *h == Hop::Direct.to_string())
    }

    /// Whether a proxy refused: its own refusal, or a proxy that closed
    /// the connection before any answer (a proxy that forwards a request
    /// answers, with an error page when the origin fails it).
    pub fn refused(&self) -> bool {
        let closed_by_proxy = || {
            let a = self.attempts.last();
            let failure = a.and_then(|a| a.failure.as_ref());
            a.is_some_and(|a| matches!(a.hop, Hop::Proxy { .. }) && a.connect.is_none())
                && failure.is_some_and(|f| {
                    matches!(f.phase, Phase::ProxyConnect | Phase::Http)
                        && matches!(f.kind, FailKind::Closed | FailKind::Reset)
                })
        };
        match &self.verdict {
            Verdict::Blocked { .. } => true,
            Verdict::Failed { .. } => closed_by_proxy(),
            _ => false,
        }
    }
}

/// One target on every route, and what it comes to.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TargetResult {
    #[serde(flatten)]
    pub target: Target,
    pub routes: Vec<RouteResult>,
    pub status: Status,
}

/// The verdict over every route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Reachable on at least one route, and not inspected where
    /// Microsoft says it must not be.
    Ok,
    /// A must-not-inspect endpoint shown a private chain on some route.
    Inspected,
    /// Reachable on no route, and Microsoft says it is required.
    Unreachable,
    /// Microsoft says it must bypass the proxy, and a route that picks
    /// per URL (a PAC, `NO_PROXY`) sends it to one.
    RoutedWrong,
    /// Reachable on no route, but optional.
    OptionalUnreachable,
    /// `--admission-only`: admitted by no proxy, and refused by one;
    /// Microsoft says it is required.
    Refused,
    /// `--admission-only`: refused, but optional.
    OptionalRefused,
    /// No route could say (every route untestable or not run).
    Untested,
}

/// A whole run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub format: &'static str,
    pub version: u32,
    pub ruleset: String,
    /// What was judged: reachability, or admission by the proxy only.
    pub judge: Judge,
    pub routes: Vec<String>,
    pub limits: LimitsShown,
    pub elapsed_ms: u64,
    pub targets: Vec<TargetResult>,
    /// One line of counts per route, in the order of `routes`.
    pub summary: Vec<report::RouteSummary>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LimitsShown {
    pub timeout_ms: u64,
    pub deadline_ms: u64,
    pub jobs: usize,
}

impl Report {
    /// Endpoints that fail the run for want of a way there (exit 30):
    /// required ones reachable on no route (with `--admission-only`:
    /// admitted by no proxy), or sent to a proxy though they must go
    /// direct. An optional endpoint routed wrong is reported, not failed
    /// on.
    pub fn unreachable(&self) -> usize {
        self.targets
            .iter()
            .filter(|t| {
                matches!(t.status, Status::Unreachable | Status::Refused)
                    || (t.status == Status::RoutedWrong && t.target.required)
            })
            .count()
    }

    pub fn inspected(&self) -> usize {
        self.count(Status::Inspected)
    }

    pub fn count(&self, status: Status) -> usize {
        self.targets.iter().filter(|t| t.status == status).count()
    }
}

/// One probe to run: a target, a route, and the hops the route gave.
struct Job {
    target: usize,
    route: usize,
    hops: Result<Vec<Hop>, Verdict>,
}

/// What the workers share about the routes.
struct RouteInfo {
    label: String,
    /// The route picks per URL (a PAC, the environment with NO_PROXY):
    /// sending a must-go-direct endpoint to a proxy is its mistake.
    per_url: bool,
    judge: Judge,
}

/// Runs every target on every route, at most `jobs` at once, within the
/// deadline. `progress` is told of each finished probe.
pub fn run(
    ruleset: &str,
    targets: Vec<Target>,
    routes: &[Route],
    cx: &Context<'_>,
    limits: Limits,
    judge: Judge,
    progress: &(dyn Fn() + Sync),
) -> Report {
    let started = Instant::now();
    let deadline = started + limits.deadline;
    let jobs = plan_jobs(&targets, routes, deadline);
    let info: Vec<RouteInfo> = routes
        .iter()
        .map(|r| RouteInfo {
            label: r.label(),
            per_url: r.per_url(),
            judge,
        })
        .collect();
    let results = run_jobs(&jobs, &targets, &info, cx, limits, deadline, progress);
    let mut per_target: Vec<Vec<RouteResult>> = targets.iter().map(|_| Vec::new()).collect();
    for (job, result) in jobs.iter().zip(results) {
        per_target[job.target].push(result);
    }
    let targets = targets
        .into_iter()
        .zip(per_target)
        .map(|(target, mut routes)| {
            compare_chains(&mut routes);
            let status = status_of(&target, &routes, judge);
            TargetResult {
                target,
                routes,
                status,
            }
        })
        .collect::<Vec<_>>();
    let labels: Vec<String> = info.into_iter().map(|r| r.label).collect();
    Report {
        format: "egressgen-verify",
        version: 1,
        ruleset: ruleset.to_string(),
        judge,
        summary: report::summarize(&labels, &targets),
        routes: labels,
        limits: LimitsShown {
            timeout_ms: u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
            deadline_ms: u64::try_from(limits.deadline.as_millis()).unwrap_or(u64::MAX),
            jobs: limits.jobs,
        },
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        targets,
    }
}

/// The hops of every target on every route. PAC answers are asked here,
/// in one thread (the script engine is not shared), and stop at the
/// deadline like the probes.
fn plan_jobs(targets: &[Target], routes: &[Route], deadline: Instant) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(targets.len() * routes.len());
    for (t, target) in targets.iter().enumerate() {
        for (r, route) in routes.iter().enumerate() {
            let hops = if Instant::now() >= deadline {
                Err(Verdict::NotRun {
                    why: DEADLINE.to_string(),
                })
            } else {
                route
                    .hops(&target.url)
                    .map_err(|why| Verdict::NoRoute { why })
            };
            jobs.push(Job {
                target: t,
                route: r,
                hops,
            });
        }
    }
    jobs
}

const DEADLINE: &str = "the run's deadline passed first";
const NOT_PROBED: &str =
    "not probed: --admission-only judges only a proxy's answer, and this hop is DIRECT";

/// The jobs on `limits.jobs` threads; results in the jobs' order.
fn run_jobs(
    jobs: &[Job],
    targets: &[Target],
    routes: &[RouteInfo],
    cx: &Context<'_>,
    limits: Limits,
    deadline: Instant,
    progress: &(dyn Fn() + Sync),
) -> Vec<RouteResult> {
    let results: Vec<Mutex<Option<RouteResult>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..limits.jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let route = &routes[job.route];
                    let result = run_one(
                        &targets[job.target],
                        route,
                        &job.hops,
                        cx,
                        limits.timeout,
                        deadline,
                    );
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                    progress();
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner().ok().flatten().unwrap_or(RouteResult {
                route: String::new(),
                per_url: false,
                hops: Vec::new(),
                attempts: Vec::new(),
                verdict: Verdict::NotRun {
                    why: "lost".to_string(),
                },
                inspected_by: None,
                chain_differs: None,
            })
        })
        .collect()
}

/// One target on one route: each hop in turn until one is reached (a
/// proxy that cannot be reached gives way to the next, as browsers do
/// with a PAC's list). Each hop has the probe timeout.
fn run_one(
    target: &Target,
    route: &RouteInfo,
    hops: &Result<Vec<Hop>, Verdict>,
    cx: &Context<'_>,
    timeout: Duration,
    deadline: Instant,
) -> RouteResult {
    let mut result = RouteResult {
        route: route.label.clone(),
        per_url: route.per_url,
        hops: Vec::new(),
        attempts: Vec::new(),
        verdict: Verdict::NotRun {
            why: DEADLINE.to_string(),
        },
        inspected_by: None,
        chain_differs: None,
    };
    let hops = match hops {
        Ok(h) => h,
        Err(verdict) => {
            result.verdict = verdict.clone();
            return result;
        }
    };
    result.hops = hops.iter().map(Hop::to_string).collect();
    for hop in hops {
        if route.judge == Judge::Admission && *hop == Hop::Direct {
            result.verdict = Verdict::Untestable {
                why: NOT_PROBED.to_string(),
            };
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            result.verdict = Verdict::NotRun {
                why: DEADLINE.to_string(),
            };
            return result;
        }
        let attempt = net::probe(&target.url, hop, cx, (now + timeout).min(deadline));
        let verdict = match route.judge {
            Judge::Reachability => verdict_of(target, &attempt),
            Judge::Admission => admission_of(&attempt),
        };
        // A proxy that refuses a CONNECT may bump it only to show its
        // error page: that certificate is the refusal's, and no traffic
        // to the endpoint was ever decrypted.
        let refused = matches!(verdict, Verdict::Blocked { .. });
        result.inspected_by = attempt
            .tls
            .as_ref()
            .filter(|s| s.inspected() && !refused)
            .map(|s| s.issuer.clone());
        result.attempts.push(attempt);
        let next = matches!(verdict, Verdict::ProxyDown { .. });
        result.verdict = verdict;
        if !next {
            break;
        }
    }
    result
}

/// What one attempt comes to.
pub fn verdict_of(target: &Target, a: &Attempt) -> Verdict {
    let proxy = match &a.hop {
        Hop::Proxy { host, port } => Some(format!("{host}:{port}")),
        Hop::Direct => None,
    };
    let made_up = target.url_from == UrlFrom::MadeUp;
    if let Some(f) = &a.failure {
        return match (&proxy, f.phase) {
            (Some(p), Phase::Dns | Phase::Tcp) => Verdict::ProxyDown {
                proxy: p.clone(),
                detail: f.detail.clone(),
            },
            (None, Phase::Dns) if made_up && f.kind == FailKind::Unresolved => {
                Verdict::Untestable {
                    why: format!(
                        "{} is a made-up name; add a real URL under [[verify.probes]] for {}",
                        target.url.host, target.pattern
                    ),
                }
            }
            _ => Verdict::Failed {
                phase: f.phase,
                kind: f.kind,
                detail: f.detail.clone(),
            },
        };
    }
    // A proxy's own answer on a direct hop comes from a device that
    // intercepts traffic nobody sent it.
    let by = proxy.unwrap_or_else(|| "an intercepting proxy on the direct path".to_string());
    if let Some(c) = a
        .connect
        .as_ref()
        .filter(|c| !(200..300).contains(&c.status))
    {
        return proxy_answer(&by, c.status, c.proxy_reason(), made_up);
    }
    // Inside TLS that ends at the endpoint itself, nobody else can answer.
    let end_to_end = a.tls.as_ref().is_some_and(|s| {
        matches!(
            s.presenter,
            certs::Presenter::Microsoft | certs::Presenter::Origin
        )
    });
    match &a.http {
        Some(h) if h.from_proxy() && !end_to_end => {
            proxy_answer(&by, h.status, h.proxy_reason(), made_up)
        }
        Some(h) if target.expect.contains(&h.status) => Verdict::Reachable { status: h.status },
        Some(h) => Verdict::Unexpected { status: h.status },
        None => Verdict::NotRun {
            why: "no answer recorded".to_string(),
        },
    }
}

/// A proxy's own answer: a refusal (403, 407) is a block; anything else
/// means it let the request through and failed upstream, which for a
/// made-up name is what admitting it looks like.
fn proxy_answer(by: &str, status: u16, reason: String, made_up: bool) -> Verdict {
    let by = by.to_string();
    match status {
        403 | 407 => Verdict::Blocked { by, status, reason },
        _ if made_up => Verdict::Admitted { by, reason },
        _ => Verdict::ProxyFailed { by, status, reason },
    }
}

/// What one attempt through a proxy comes to when only the proxy's
/// answer is judged (`--admission-only`): admitted or refused, whatever
/// became of the request behind it. A TLS handshake and a request still
/// follow an accepted CONNECT, because a bumping proxy accepts every
/// CONNECT and shows its refusal inside (Squid's ssl-bump answers 200,
/// then its 403 ERR_ACCESS_DENIED under its own CA); a failure there is
/// the origin's, not the proxy's.
pub fn admission_of(a: &Attempt) -> Verdict {
    let Hop::Proxy { host, port } = &a.hop else {
        return Verdict::Untestable {
            why: NOT_PROBED.to_string(),
        };
    };
    let by = format!("{host}:{port}");
    if let Some(f) = a.failure.as_ref()
        && matches!(f.phase, Phase::Dns | Phase::Tcp)
    {
        return Verdict::ProxyDown {
            proxy: by,
            detail: f.detail.clone(),
        };
    }
    let tunnel = a.connect.as_ref();
    if let Some(c) = tunnel.filter(|c| !(200..300).contains(&c.status)) {
        return proxy_admission(by, c);
    }
    let end_to_end = a.tls.as_ref().is_some_and(|s| {
        matches!(
            s.presenter,
            certs::Presenter::Microsoft | certs::Presenter::Origin
        )
    });
    if let Some(h) = a.http.as_ref().filter(|h| h.from_proxy() && !end_to_end) {
        return proxy_admission(by, h);
    }
    // A proxy's own certificate the client refused: behind it may be the
    // proxy's refusal, which only its CA lets us read.
    if let Some(f) = a.failure.as_ref().filter(|f| {
        f.kind == FailKind::Certificate && a.tls.as_ref().is_some_and(certs::Shown::inspected)
    }) {
        return Verdict::Failed {
            phase: f.phase,
            kind: f.kind,
            detail: format!(
                "{}; the proxy shows its own certificate: give its CA with --ca-file to read its answer",
                f.detail
            ),
        };
    }
    // What followed the proxy's admission, shown but not judged.
    let after = match (&a.http, &a.failure) {
        (Some(h), _) => Some(format!("the origin answered {}", h.status)),
        (None, Some(f)) => Some(format!("then {} failed: {}", f.phase.words(), f.detail)),
        (None, None) => None,
    };
    match (tunnel, &a.http, &a.failure) {
        (Some(c), _, _) => Verdict::Admitted {
            by,
            reason: match after {
                Some(after) => format!("CONNECT answered {}; {after} (not judged)", c.status),
                None => format!("CONNECT answered {}", c.status),
            },
        },
        (None, Some(_), _) => Verdict::Admitted {
            by,
            reason: after.unwrap_or_default(),
        },
        // No answer from the proxy: closed (a refusal, see
        // `RouteResult::refused`), a timeout, or not HTTP.
        (None, None, Some(f)) => Verdict::Failed {
            phase: f.phase,
            kind: f.kind,
            detail: f.detail.clone(),
        },
        (None, None, None) => Verdict::NotRun {
            why: "no answer recorded".to_string(),
        },
    }
}

/// Squid's errors for a request it admitted and then could not take to
/// the origin (the names of its errors/templates): no address for the
/// name (`ERR_CANNOT_FORWARD` when its DNS server does not answer), no
/// connection, no answer or a broken one.
const UPSTREAM_ERRORS: [&str; 11] = [
    "ERR_DNS_FAIL",
    "ERR_CANNOT_FORWARD",
    "ERR_CONNECT_FAIL",
    "ERR_SECURE_CONNECT_FAIL",
    "ERR_READ_TIMEOUT",
    "ERR_LIFETIME_EXP",
    "ERR_READ_ERROR",
    "ERR_WRITE_ERROR",
    "ERR_ZERO_SIZE_OBJECT",
    "ERR_INVALID_RESP",
    "ERR_GATEWAY_FAILURE",
];

/// A proxy's own answer with `--admission-only`: an upstream failure
/// means it admitted the request; any other answer is a refusal. Squid
/// names the failure (`X-Squid-Error`); without that name, 502, 503 and
/// 504 say by their meaning that the gateway failed upstream.
fn proxy_admission(by: String, answer: &net::Answer) -> Verdict {
    let code = answer
        .squid_error
        .as_deref()
        .and_then(|e| e.split_whitespace().next());
    let upstream = match code {
        Some(code) => UPSTREAM_ERRORS.contains(&code),
        None => matches!(answer.status, 502..=504),
    };
    let reason = answer.proxy_reason();
    if upstream {
        Verdict::Admitted {
            by,
            reason: format!("it could not reach the origin: {} {reason}", answer.status),
        }
    } else {
        Verdict::Blocked {
            by,
            status: answer.status,
            reason,
        }
    }
}

/// Marks a route whose chain leads to another root than the one another
/// route saw from the endpoint's own CA for the same URL (issuing CAs
/// rotate; roots do not).
fn compare_chains(routes: &mut [RouteResult]) {
    use certs::Presenter;
    let shown = |r: &RouteResult| r.attempts.last().and_then(|a| a.tls.clone());
    let reference = routes.iter().find_map(|r| {
        shown(r)
            .filter(|s| matches!(s.presenter, Presenter::Microsoft | Presenter::Origin))
            .map(|s| (r.route.clone(), s))
    });
    let Some((label, reference)) = reference else {
        return;
    };
    for r in routes.iter_mut() {
        if let Some(s) = shown(r)
            && s.root != reference.root
        {
            r.chain_differs = Some(format!(
                "leads to root \u{201c}{}\u{201d}; on {label} to \u{201c}{}\u{201d}",
                s.root, reference.root
            ));
        }
    }
}

fn status_of(target: &Target, routes: &[RouteResult], judge: Judge) -> Status {
    if target.must_not_inspect && routes.iter().any(|r| r.inspected_by.is_some()) {
        return Status::Inspected;
    }
    if target.direct
        && routes
            .iter()
            .any(|r| r.per_url && !r.attempts.is_empty() && !r.goes_direct())
    {
        return Status::RoutedWrong;
    }
    // An endpoint Microsoft says must bypass the proxy is judged on the
    // routes that send it direct; a proxy refusing it is as it should be.
    // (With --admission-only those are not probed: untested.)
    let routes: Vec<&RouteResult> = routes
        .iter()
        .filter(|r| !target.direct || r.goes_direct())
        .collect();
    if routes.iter().any(|r| r.verdict.passes()) {
        return Status::Ok;
    }
    let said = routes
        .iter()
        .any(|r| !r.verdict.silent() && !matches!(r.verdict, Verdict::NotRun { .. }));
    // With --admission-only a refusal is the finding; a proxy that could
    // not be reached or did not answer stays "unreachable".
    let refused = judge == Judge::Admission && routes.iter().any(|r| r.refused());
    match (said, target.required, refused) {
        (false, _, _) => Status::Untested,
        (true, true, true) => Status::Refused,
        (true, false, true) => Status::OptionalRefused,
        (true, true, false) => Status::Unreachable,
        (true, false, false) => Status::OptionalUnreachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exit 30 counts required endpoints only, as the README says: an
    /// optional one routed wrong is reported but does not fail the run.
    #[test]
    fn only_required_endpoints_fail_the_run() {
        let target = |required: bool| Target {
            entry: "e".into(),
            pattern: "x.example.com".into(),
            url: crate::values::ProbeUrl::parse("https://x.example.com/").unwrap(),
            expect: Vec::new(),
            url_from: UrlFrom::Entry,
            source: String::new(),
            required,
            must_not_inspect: false,
            direct: true,
            products: Vec::new(),
            provenance: String::new(),
        };
        let report = |required: bool, status: Status| Report {
            format: "egressgen-verify",
            version: 1,
            ruleset: "r".into(),
            judge: Judge::Reachability,
            summary: Vec::new(),
            routes: Vec::new(),
            limits: LimitsShown {
                timeout_ms: 1,
                deadline_ms: 1,
                jobs: 1,
            },
            elapsed_ms: 0,
            targets: vec![TargetResult {
                target: target(required),
                routes: Vec::new(),
                status,
            }],
        };
        assert_eq!(report(true, Status::Refused).unreachable(), 1);
        assert_eq!(report(false, Status::OptionalRefused).unreachable(), 0);
        assert_eq!(report(true, Status::RoutedWrong).unreachable(), 1);
        assert_eq!(report(false, Status::RoutedWrong).unreachable(), 0);
        assert_eq!(report(true, Status::Unreachable).unreachable(), 1);
        assert_eq!(report(false, Status::OptionalUnreachable).unreachable(), 0);
    }

    /// With --admission-only, Squid's own answer is read by its error
    /// name: a failure to reach the origin is an admission whatever its
    /// status (Squid 5 answers a CONNECT to a name it cannot look up with
    /// 500 ERR_CANNOT_FORWARD); a refusal is one whatever its status.
    #[test]
    fn a_proxys_answer_is_an_admission_when_it_failed_upstream() {
        let answer = |status: u16, squid: Option<&str>| net::Answer {
            status,
            squid_error: squid.map(String::from),
            ..net::Answer::default()
        };
        let judged = |a: &net::Answer| proxy_admission("p:1".into(), a).name();
        for (status, squid) in [
            (503, Some("ERR_CONNECT_FAIL 111")),
            (503, Some("ERR_DNS_FAIL 0")),
            (500, Some("ERR_CANNOT_FORWARD 0")),
            (502, Some("ERR_READ_ERROR 0")),
            (504, Some("ERR_READ_TIMEOUT 0")),
            (502, None),
            (504, None),
        ] {
            assert_eq!(
                judged(&answer(status, squid)),
                "admitted",
                "{status} {squid:?}"
            );
        }
        for (status, squid) in [
            (403, Some("ERR_ACCESS_DENIED 0")),
            (407, Some("ERR_CACHE_ACCESS_DENIED 0")),
            (503, Some("ERR_ACCESS_DENIED 0")),
            (400, Some("ERR_INVALID_REQ 0")),
            (403, None),
            (407, None),
            (500, None),
            (405, None),
        ] {
            assert_eq!(
                judged(&answer(status, squid)),
                "blocked",
                "{status} {squid:?}"
            );
        }
    }
}
