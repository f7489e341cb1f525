//! `egressgen verify`: probes every policy endpoint on every route a device may take.
//!
//! `egressgen verify --ruleset R`: probes every endpoint of the ruleset's
//! policy on every route a device may take and says, per endpoint, whether
//! it is reachable and whether a TLS-inspecting proxy is in the way.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::args::{Format, Formats};
use crate::generate;
use crate::ruleset::Ruleset;
use crate::values::Resolve;
use crate::verify::report::{to_json, to_junit, to_text};
use crate::verify::setup::{self, Request, RouteKind, SetupError};
use crate::verify::{Judge, Limits, Report, Status, Verdict};

use super::{Exit, Failure};

/// The kinds of route.

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
    #[arg(long, value_name = "HOST:[PORT:]IP", value_parser = Resolve::parse)]
    pub resolve: Vec<Resolve>,
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
    /// How the report is printed: a table on the terminal, then each endpoint
    /// that is not fine; one JSON document (docs/verify-json.md); or JUnit XML
    /// for CI systems, a test case per endpoint
    #[arg(long, default_value = "text", value_parser = Formats(&[Format::Text, Format::Json, Format::Junit]))]
    pub format: Format,
    /// Judge only the proxy's answer, for a lab without internet: an
    /// endpoint passes when a proxy admits it (CONNECT accepted, or the
    /// proxy's own report that it could not reach the origin) and fails
    /// when the proxy refuses it; direct hops are not probed
    #[arg(long)]
    pub admission_only: bool,
    #[command(flatten)]
    pub cache: super::args::CacheArg,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.001..=86_400.0).contains(&s) => Ok(s),
        _ => Err(format!("{text:?}: seconds between 0.001 and 86400")),
    }
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let ruleset = Ruleset::load(&args.ruleset)?;
    let (policy, used) = generate::policy_with(&ruleset, args.cache.reader())?;
    args.cache.say_used(&used, v);
    let request = Request {
        kinds: &args.routes,
        proxy: args.proxy.as_deref(),
        pac: args.pac.as_deref(),
        client: args.client,
        resolve: &args.resolve,
        ca_file: args.ca_file.as_deref(),
        origin_ca: args.origin_ca.as_deref(),
        judge: if args.admission_only {
            Judge::Admission
        } else {
            Judge::Reachability
        },
    };
    let limits = Limits {
        timeout: Duration::from_secs_f64(args.timeout),
        deadline: Duration::from_secs_f64(args.deadline),
        jobs: usize::from(args.jobs),
    };
    let bar = super::progress_bar(v);
    let start = |n: usize| {
        bar.set_length(n as u64);
        bar.set_message("probes");
    };
    let tick = || bar.inc(1);
    let report = setup::run(&request, &ruleset, &policy, limits, start, &tick);
    bar.finish_and_clear();
    let report = report?;
    if !v.quiet || args.format != Format::Text {
        let text = match args.format {
            Format::Json => to_json(&report),
            Format::Junit => to_junit(&report),
            _ => to_text(&report, std::io::stdout().is_terminal()),
        };
        super::print(&text);
    }
    Ok(exit_of(&report))
}

/// Inspection first, then unreachable endpoints, then a run cut short.
fn exit_of(r: &Report) -> Exit {
    let cut_short = r.targets.iter().any(|t| {
        t.target.required
            && t.status == Status::Untested
            && t.routes
                .iter()
                .any(|x| matches!(x.verdict, Verdict::NotRun { .. }))
    });
    if r.inspected() > 0 {
        Exit::VerifyInspected
    } else if r.unreachable() > 0 {
        Exit::VerifyUnreachable
    } else if cut_short {
        Exit::VerifyIncomplete
    } else {
        Exit::Success
    }
}

impl From<SetupError> for Failure {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Usage(m) => Failure::new(Exit::Usage, m),
            SetupError::Input(m) => Failure::new(Exit::Input, m),
            SetupError::Render(g) => Failure::from(g),
        }
    }
}
