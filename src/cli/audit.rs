//! `egressgen audit --ruleset R CONFIG...`: checks existing proxy and
//! firewall configurations against the policy `generate` would build from
//! the same ruleset.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::audit::engine::audit;
use crate::audit::report::{Report, to_json, to_markdown, to_text};
use crate::audit::{Options, read_config};
use crate::generate;
use crate::ruleset::Ruleset;

use super::{Failure, Outcome};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
    /// One self-contained HTML file: a chart per product, a sortable table
    Html,
}

/// What makes `audit` exit non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum FailOn {
    /// An entry partly covered or missing
    Gaps,
    /// A must-not-inspect host inspected, or a storage wildcard exempted
    Tls,
    /// A line admitting far more than the policy needs
    Broad,
    /// An entry or line the reader cannot evaluate
    Undecidable,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ruleset whose policy the configurations must carry
    #[arg(long, value_name = "RULESET")]
    pub ruleset: PathBuf,
    /// Configurations to audit (a squid.conf with its includes, …)
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// The kind of every CONFIG, instead of recognising it by name and content
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// The device address source-address tests (Squid `src`) are judged for;
    /// default the first address of the ruleset's Squid `clients`
    #[arg(long, value_name = "IP")]
    pub client: Option<IpAddr>,
    /// Answer a name lookup of a PAC file (`dnsResolve`, `isInNet`): HOST:IP,
    /// repeatable; a lookup with no answer here makes the request undecidable
    #[arg(long, value_name = "HOST:IP", value_parser = parse_resolve)]
    pub resolve: Vec<(String, IpAddr)>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// What fails the run (repeat or comma-separate)
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [FailOn::Gaps, FailOn::Tls])]
    pub fail_on: Vec<FailOn>,
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let ruleset = Ruleset::load(&args.ruleset)?;
    let policy = generate::policy_for(&ruleset)?;
    let client = args.client.unwrap_or_else(|| default_client(&ruleset));
    let options = Options {
        resolve: args.resolve.iter().cloned().collect(),
        ..Options::for_policy(&policy)
    };
    let mut audits = Vec::new();
    for path in &args.configs {
        let config = read_config(path, args.kind.as_deref(), &options)
            .map_err(|e| Failure::new(Outcome::Input, e))?;
        audits.push(audit(&policy, config.as_ref(), client));
    }
    let report = Report::new(&policy.ruleset.name, audits);
    if !v.quiet || args.format != Format::Text {
        let text = match args.format {
            Format::Text => to_text(&report, std::io::stdout().is_terminal()),
            Format::Json => to_json(&report),
            Format::Markdown => to_markdown(&report),
            Format::Html => crate::audit::html::to_html(&report),
        };
        super::print(&text);
    }
    Ok(outcome(&report, &args.fail_on))
}

/// `HOST:IP` as curl's `--resolve` writes it (the IP may be IPv6).
fn parse_resolve(text: &str) -> Result<(String, IpAddr), String> {
    let (host, ip) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected HOST:IP"))?;
    let name = crate::model::DnsName::parse(host).map_err(|e| format!("{host:?}: {e}"))?;
    let ip = ip
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| format!("{ip:?}: not an IP address"))?;
    Ok((name.as_str().to_string(), ip))
}

/// The device address of the ruleset's Squid clients (its first
/// network's first host), or 10.0.0.1 as the default clients have it.
fn default_client(ruleset: &Ruleset) -> IpAddr {
    ruleset
        .outputs
        .squid
        .as_ref()
        .and_then(|s| s.clients.first())
        .and_then(|c| c.to_string().parse::<ipnet::IpNet>().ok())
        .and_then(|n| n.hosts().next())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)))
}

/// The exit status: TLS violations first, then gaps, then lines.
fn outcome(r: &Report, fail_on: &[FailOn]) -> Outcome {
    let on = |f: FailOn| fail_on.contains(&f);
    if on(FailOn::Tls) && r.has_tls_violations() {
        Outcome::AuditTls
    } else if on(FailOn::Gaps) && r.has_gaps() {
        Outcome::AuditGaps
    } else if on(FailOn::Broad) && r.has_over_broad() {
        Outcome::AuditBroad
    } else if on(FailOn::Undecidable) && r.has_undecidable() {
        Outcome::AuditUndecidable
    } else {
        Outcome::Success
    }
}
