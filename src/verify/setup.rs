//! What a verify run probes through: the routes asked for, the PAC, the lookup answers.
//!
//! Built from the command's request and the ruleset: the CLI only parses
//! the flags into a [`Request`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use crate::generate::GenerateError;
use crate::policy::Policy;
use crate::ruleset::Ruleset;
use crate::values::Resolve;

use super::certs::Trust;
use super::net::{Context, Hop, Resolver};
use super::pac::PacError;
use super::route::{EnvProxies, Route, proxy_from_url, proxy_hop};
use super::{Judge, Limits, Report, plan};

/// The kinds of route `--route` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum RouteKind {
    Direct,
    Proxy,
    Pac,
    Env,
    Cli,
}

/// What a run was asked to probe through.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The kinds asked for; none: every kind that is configured.
    pub kinds: &'a [RouteKind],
    /// `--proxy URL`.
    pub proxy: Option<&'a str>,
    /// `--pac FILE|URL`; default the ruleset's own PAC output.
    pub pac: Option<&'a str>,
    /// The device address the PAC's `myIpAddress()` answers.
    pub client: IpAddr,
    /// Lookup answers (`--resolve`).
    pub resolve: &'a [Resolve],
    /// CA certificates devices trust besides the public ones (an
    /// inspecting proxy's).
    pub ca_file: Option<&'a Path>,
    /// CA certificates that stand for the endpoints' own, in a lab.
    pub origin_ca: Option<&'a Path>,
    /// Reachability, or only admission by the proxies (`--admission-only`).
    pub judge: Judge,
}

/// Why the routes cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A route asked for that the ruleset or the flags do not give.
    #[error("{0}")]
    Usage(String),
    /// A probe setting, a proxy address, the environment's proxy, a CA
    /// file or the PAC script is bad.
    #[error("{0}")]
    Input(String),
    /// Rendering the ruleset's own PAC output failed.
    #[error(transparent)]
    Render(#[from] GenerateError),
}

/// Probes every endpoint of the policy on every route asked for, at most
/// `limits.jobs` at once. `start` is told how many probes there will be,
/// `tick` of each one done.
pub fn run(
    req: &Request,
    ruleset: &Ruleset,
    policy: &Policy,
    limits: Limits,
    start: impl FnOnce(usize),
    tick: &(dyn Fn() + Sync),
) -> Result<Report, SetupError> {
    let began = std::time::Instant::now();
    let targets =
        plan::targets(policy, &ruleset.verify).map_err(|e| SetupError::Input(e.to_string()))?;
    let routes = routes(req, ruleset, policy, &limits)?;
    // Fetching a PAC URL is part of the run: what it took is gone from
    // the deadline the probes share.
    let limits = Limits {
        deadline: limits.deadline.saturating_sub(began.elapsed()),
        ..limits
    };
    let trust = Trust::new(req.ca_file, req.origin_ca).map_err(SetupError::Input)?;
    if trust.public_roots == 0 {
        tracing::warn!(
            "the system holds no public root certificates: no chain can count as Microsoft's"
        );
    }
    let resolver = resolver(req.resolve);
    let cx = Context {
        resolver: &resolver,
        trust: &trust,
    };
    start(targets.len() * routes.len());
    let name = ruleset.site.name.as_str();
    Ok(super::run(
        name, targets, &routes, &cx, limits, req.judge, tick,
    ))
}

/// The fixed lookup answers of a run: (host, port or any) -> address.
pub fn resolver(resolve: &[Resolve]) -> Resolver {
    Resolver {
        fixed: resolve
            .iter()
            .map(|r| ((r.host.clone(), r.port), r.ip))
            .collect(),
    }
}

/// The routes asked for, or every configured one.
pub fn routes(
    req: &Request,
    ruleset: &Ruleset,
    policy: &Policy,
    limits: &Limits,
) -> Result<Vec<Route>, SetupError> {
    let named = |k: RouteKind| req.kinds.contains(&k);
    let asked = |k: RouteKind| req.kinds.is_empty() || named(k);
    let usage = |m: &str| SetupError::Usage(m.to_string());
    let mut out = Vec::new();
    if asked(RouteKind::Direct) {
        out.push(Route::Direct);
    }
    if asked(RouteKind::Proxy) {
        if ruleset.site.proxy.addresses.is_empty() && named(RouteKind::Proxy) {
            return Err(usage(
                "--route proxy: the ruleset's [proxy] has no addresses",
            ));
        }
        for a in &ruleset.site.proxy.addresses {
            let hop = proxy_hop(a.as_str()).map_err(SetupError::Input)?;
            out.push(Route::Proxy {
                label: format!("proxy {a}"),
                hop,
            });
        }
    }
    if asked(RouteKind::Pac) {
        match pac(req, ruleset, policy, limits)? {
            Some(pac) => out.push(Route::Pac {
                label: "pac".to_string(),
                pac: Box::new(pac),
                client: req.client,
            }),
            None if named(RouteKind::Pac) => {
                return Err(usage(
                    "--route pac: give --pac, or configure [outputs.pac] in the ruleset",
                ));
            }
            None => {}
        }
    }
    if asked(RouteKind::Env) {
        match EnvProxies::from_env().map_err(SetupError::Input)? {
            Some(env) => out.push(Route::Env(env)),
            None if named(RouteKind::Env) => {
                return Err(usage(
                    "--route env: neither HTTPS_PROXY nor HTTP_PROXY is set",
                ));
            }
            None => {}
        }
    }
    if asked(RouteKind::Cli) {
        match req.proxy {
            Some(url) => out.push(cli_proxy(url)?),
            None if named(RouteKind::Cli) => return Err(usage("--route cli: give --proxy")),
            None => {}
        }
    }
    if out.is_empty() {
        return Err(usage("no route to probe"));
    }
    // Direct hops are not probed then: a run of them alone judges nothing.
    if req.judge == Judge::Admission && out.iter().all(|r| matches!(r, Route::Direct)) {
        return Err(usage(
            "--admission-only judges a proxy's answer: give a route through a proxy (--route proxy, pac, env or cli)",
        ));
    }
    Ok(out)
}

/// The route of `--proxy URL`.
fn cli_proxy(url: &str) -> Result<Route, SetupError> {
    let hop = proxy_from_url(url).map_err(|e| SetupError::Usage(format!("--proxy: {e}")))?;
    let label = match &hop {
        Hop::Proxy { host, port } => format!("--proxy {host}:{port}"),
        Hop::Direct => "--proxy".to_string(),
    };
    Ok(Route::Proxy { label, hop })
}

/// The PAC script: `--pac` (a file or a URL), else the ruleset's own.
fn pac(
    req: &Request,
    ruleset: &Ruleset,
    policy: &Policy,
    limits: &Limits,
) -> Result<Option<crate::backends::pac::read::PacConfig>, SetupError> {
    // The PAC's lookups have no port: an answer for every port wins over
    // one for a single port.
    let mut resolve: BTreeMap<String, IpAddr> = BTreeMap::new();
    let (any_port, one_port): (Vec<&Resolve>, Vec<&Resolve>) =
        req.resolve.iter().partition(|r| r.port.is_none());
    for r in any_port.into_iter().chain(one_port) {
        resolve.entry(r.host.clone()).or_insert(r.ip);
    }
    super::pac::load(req.pac, ruleset, policy, resolve, limits).map_err(|e| match e {
        PacError::Render(g) => SetupError::Render(g),
        PacError::Input(m) => SetupError::Input(m),
    })
}
