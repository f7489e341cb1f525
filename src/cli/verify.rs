//! `egressgen verify --ruleset R`: probes every endpoint of the ruleset's
//! policy on every route a device may take and says, per endpoint, whether
//! it is reachable and whether a TLS-inspecting proxy is in the way.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::backends::pac::read::PacConfig;
use crate::generate;
use crate::policy::Policy;
use crate::ruleset::Ruleset;
use crate::verify::certs::Trust;
use crate::verify::net::{Context, Hop, Resolver};
use crate::verify::report::{to_json, to_junit, to_text};
use crate::verify::route::{EnvProxies, Route, proxy_from_url};
use crate::verify::{Limits, Report, Status, Verdict, plan};

use super::{Failure, Outcome};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table on the terminal, then each endpoint that is not fine
    #[default]
    Text,
    /// One JSON document (docs/verify-json.md)
    Json,
    /// JUnit XML for CI systems: a test case per endpoint
    Junit,
}

/// The kinds of route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum RouteKind {
    /// No proxy
    Direct,
    /// Each proxy of the ruleset's [proxy] addresses
    Proxy,
    /// The proxy the PAC file picks for each URL
    Pac,
    /// The environment's proxy as curl reads it (https_proxy, http_proxy, NO_PROXY)
    Env,
    /// The proxy given with --proxy
    Cli,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ruleset whose policy is probed
    #[arg(long, value_name = "RULESET")]
    pub ruleset: PathBuf,
    /// Routes to probe (repeat or comma-separate); default every route
    /// that is configured
    #[arg(
        long = "route",
        value_enum,
        value_delimiter = ',',
        value_name = "ROUTE"
    )]
    pub routes: Vec<RouteKind>,
    /// A proxy to probe through as well: http://HOST:PORT
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// The PAC file whose answers make the PAC route: a file or an http(s)
    /// URL; default the ruleset's own PAC output, rendered in memory
    #[arg(long, value_name = "FILE|URL")]
    pub pac: Option<String>,
    /// Answer a name lookup without DNS, as curl does: HOST:IP or
    /// HOST:PORT:IP, IPv6 in brackets (repeatable); also answers the PAC's dnsResolve
    #[arg(long, value_name = "HOST:[PORT:]IP", value_parser = parse_resolve)]
    pub resolve: Vec<(String, Option<u16>, IpAddr)>,
    /// CA certificates devices trust besides the public ones (an
    /// inspecting proxy's CA): handshakes through it complete, and are
    /// reported as inspected
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// CA certificates that stand for the endpoints' own in a lab:
    /// chains to them count as the origin's, not as inspection
    #[arg(long, value_name = "PEM")]
    pub origin_ca: Option<PathBuf>,
    /// The device address the PAC's myIpAddress() answers
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub client: IpAddr,
    /// Seconds one probe may take on one hop, every step included
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_seconds)]
    pub timeout: f64,
    /// Seconds the whole run may take; probes not started by then are
    /// reported as not run
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0, value_parser = parse_seconds)]
    pub deadline: f64,
    /// Probes in flight at once
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.001..=86_400.0).contains(&s) => Ok(s),
        _ => Err(format!("{text:?}: seconds between 0.001 and 86400")),
    }
}

/// `HOST:IP` for every port, or curl's `HOST:PORT:IP`. An IPv6 address
/// goes in brackets: bare, `h:2001:db8::1` could be port 2001.
fn parse_resolve(text: &str) -> Result<(String, Option<u16>, IpAddr), String> {
    let (host, rest) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected HOST:IP or HOST:PORT:IP"))?;
    let name = crate::model::DnsName::parse(host).map_err(|e| format!("{host:?}: {e}"))?;
    let name = name.as_str().to_string();
    let addr = |t: &str| -> Result<IpAddr, String> {
        match t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().map(IpAddr::V6).ok(),
            None => t.parse::<std::net::Ipv4Addr>().map(IpAddr::V4).ok(),
        }
        .ok_or_else(|| format!("{t:?}: not an IPv4 address or an [IPv6] address in brackets"))
    };
    if rest.starts_with('[') || !rest.contains(':') {
        return Ok((name, None, addr(rest)?));
    }
    let (port, ip) = rest.split_once(':').unwrap_or((rest, ""));
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{port:?}: not a port (an IPv6 address goes in brackets)"))?;
    Ok((name, Some(port), addr(ip)?))
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let ruleset = Ruleset::load(&args.ruleset)?;
    let policy = generate::policy_for(&ruleset)?;
    let targets =
        plan::targets(&policy, &ruleset.verify).map_err(|e| Failure::new(Outcome::Input, e))?;
    let routes = routes(args, &ruleset, &policy)?;
    let trust = Trust::new(args.ca_file.as_deref(), args.origin_ca.as_deref())
        .map_err(|e| Failure::new(Outcome::Input, e))?;
    if trust.public_roots == 0 {
        tracing::warn!(
            "the system holds no public root certificates: no chain can count as Microsoft's"
        );
    }
    let resolver = Resolver {
        fixed: args
            .resolve
            .iter()
            .map(|(h, p, ip)| ((h.clone(), *p), *ip))
            .collect(),
    };
    let cx = Context {
        resolver: &resolver,
        trust: &trust,
    };
    let limits = Limits {
        timeout: Duration::from_secs_f64(args.timeout),
        deadline: Duration::from_secs_f64(args.deadline),
        jobs: usize::from(args.jobs),
    };
    let bar = super::refresh::progress_bar(v);
    bar.set_length((targets.len() * routes.len()) as u64);
    bar.set_message("probes");
    let tick = || bar.inc(1);
    let report = crate::verify::run(
        ruleset.site.name.as_str(),
        targets,
        &routes,
        &cx,
        limits,
        &tick,
    );
    bar.finish_and_clear();
    if !v.quiet || args.format != Format::Text {
        let text = match args.format {
            Format::Text => to_text(&report, std::io::stdout().is_terminal()),
            Format::Json => to_json(&report),
            Format::Junit => to_junit(&report),
        };
        super::print(&text);
    }
    Ok(outcome(&report))
}

/// Inspection first, then unreachable endpoints, then a run cut short.
fn outcome(r: &Report) -> Outcome {
    let cut_short = r.targets.iter().any(|t| {
        t.target.required
            && t.status == Status::Untested
            && t.routes
                .iter()
                .any(|x| matches!(x.verdict, Verdict::NotRun { .. }))
    });
    if r.inspected() > 0 {
        Outcome::VerifyInspected
    } else if r.unreachable() > 0 {
        Outcome::VerifyUnreachable
    } else if cut_short {
        Outcome::VerifyIncomplete
    } else {
        Outcome::Success
    }
}

/// The routes asked for, or every configured one.
fn routes(args: &Args, ruleset: &Ruleset, policy: &Policy) -> super::Result<Vec<Route>> {
    let asked = |k: RouteKind| args.routes.is_empty() || args.routes.contains(&k);
    let usage = |m: String| Failure::new(Outcome::Usage, m);
    let mut out = Vec::new();
    if asked(RouteKind::Direct) {
        out.push(Route::Direct);
    }
    if asked(RouteKind::Proxy) {
        if ruleset.site.proxy.addresses.is_empty() && args.routes.contains(&RouteKind::Proxy) {
            return Err(usage(
                "--route proxy: the ruleset's [proxy] has no addresses".to_string(),
            ));
        }
        for a in &ruleset.site.proxy.addresses {
            let hop = crate::verify::route::proxy_hop(a.as_str())
                .map_err(|e| Failure::new(Outcome::Input, e))?;
            out.push(Route::Proxy {
                label: format!("proxy {a}"),
                hop,
            });
        }
    }
    if asked(RouteKind::Pac) {
        match pac(args, ruleset, policy)? {
            Some(pac) => out.push(Route::Pac {
                label: "pac".to_string(),
                pac: Box::new(pac),
                client: args.client,
            }),
            None if args.routes.contains(&RouteKind::Pac) => {
                return Err(usage(
                    "--route pac: give --pac, or configure [outputs.pac] in the ruleset"
                        .to_string(),
                ));
            }
            None => {}
        }
    }
    if asked(RouteKind::Env) {
        match EnvProxies::from_env().map_err(|e| Failure::new(Outcome::Input, e))? {
            Some(env) => out.push(Route::Env(env)),
            None if args.routes.contains(&RouteKind::Env) => {
                return Err(usage(
                    "--route env: neither HTTPS_PROXY nor HTTP_PROXY is set".to_string(),
                ));
            }
            None => {}
        }
    }
    if asked(RouteKind::Cli) {
        match &args.proxy {
            Some(url) => {
                let hop = proxy_from_url(url).map_err(|e| usage(format!("--proxy: {e}")))?;
                let label = match &hop {
                    Hop::Proxy { host, port } => format!("--proxy {host}:{port}"),
                    Hop::Direct => "--proxy".to_string(),
                };
                out.push(Route::Proxy { label, hop });
            }
            None if args.routes.contains(&RouteKind::Cli) => {
                return Err(usage("--route cli: give --proxy".to_string()));
            }
            None => {}
        }
    }
    if out.is_empty() {
        return Err(usage("no route to probe".to_string()));
    }
    Ok(out)
}

/// The PAC script: `--pac` (a file or a URL), else the ruleset's own.
fn pac(args: &Args, ruleset: &Ruleset, policy: &Policy) -> super::Result<Option<PacConfig>> {
    // The PAC's lookups have no port: an answer for every port wins over
    // one for a single port.
    let mut resolve: BTreeMap<String, IpAddr> = BTreeMap::new();
    let (any_port, one_port): (Vec<_>, Vec<_>) = args.resolve.iter().partition(|r| r.1.is_none());
    for (host, _, ip) in any_port.into_iter().chain(one_port) {
        resolve.entry(host.clone()).or_insert(*ip);
    }
    crate::verify::pac::load(args.pac.as_deref(), ruleset, policy, resolve).map_err(|e| match e {
        crate::verify::pac::PacError::Render(g) => Failure::from(g),
        input => Failure::new(Outcome::Input, input),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_resolve;

    #[test]
    fn resolve_reads_as_curl_writes_it() {
        let ip = |s: &str| s.parse().unwrap();
        assert_eq!(
            parse_resolve("a.example.com:127.0.0.2").unwrap(),
            ("a.example.com".into(), None, ip("127.0.0.2"))
        );
        assert_eq!(
            parse_resolve("A.example.com:443:127.0.0.2").unwrap(),
            ("a.example.com".into(), Some(443), ip("127.0.0.2"))
        );
        assert_eq!(
            parse_resolve("a.example.com:[::1]").unwrap(),
            ("a.example.com".into(), None, ip("::1"))
        );
        assert_eq!(
            parse_resolve("a.example.com:443:[::1]").unwrap(),
            ("a.example.com".into(), Some(443), ip("::1"))
        );
        for bad in [
            "a.example.com",
            "a.example.com:x",
            "bad host:127.0.0.1",
            "a.example.com:0:127.0.0.1",
            "a.example.com:2001:db8::1",
            "a.example.com:443:2001:db8::1",
            "a.example.com:[127.0.0.1]",
        ] {
            assert!(parse_resolve(bad).is_err(), "{bad}");
        }
    }
}
