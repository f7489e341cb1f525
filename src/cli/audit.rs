//! `egressgen audit --ruleset R CONFIG...`: checks existing proxy and
//! firewall configurations against the policy `generate` would build from
//! the same ruleset.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::audit::engine::audit;
use crate::audit::report::{Report, to_json, to_markdown, to_text};
use crate::backends::reader::{Options, read_config};
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
    /// More lookup answers from a file in hosts(5) form (`IP NAME...`);
    /// --resolve wins over it
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Service-tag JSON whose prefixes answer for tags a firewall rule
    /// names that the ruleset's sources do not hold
    #[arg(long, value_name = "FILE")]
    pub service_tags: Option<PathBuf>,
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
    let mut options = Options::for_policy(&policy);
    if let Some(path) = &args.hosts {
        options.resolve = read_hosts(path)?;
    }
    options.resolve.extend(args.resolve.iter().cloned());
    let read_all =
        |options: &Options| -> super::Result<Vec<Box<dyn crate::backends::reader::Config>>> {
            args.configs
                .iter()
                .map(|path| {
                    read_config(path, args.kind.as_deref(), options)
                        .map_err(|e| Failure::new(Outcome::Input, e))
                })
                .collect()
        };
    let mut configs = read_all(&options)?;
    // The tags the configurations name decide what to take from the file;
    // then they are read again with the tags' prefixes.
    if let Some(path) = &args.service_tags {
        let tags: std::collections::BTreeSet<String> =
            configs.iter().flat_map(|c| c.service_tags()).collect();
        add_service_tags(&mut options, path, tags)?;
        configs = read_all(&options)?;
    }
    let audits: Vec<_> = configs
        .iter()
        .map(|c| audit(&policy, c.as_ref(), client))
        .collect();
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

/// A hosts(5) file: `IP NAME [NAME...]` per line, `#` comments.
fn read_hosts(path: &std::path::Path) -> super::Result<std::collections::BTreeMap<String, IpAddr>> {
    let shown = crate::backends::reader::shown(path);
    let bytes = crate::input::read_limited(path, 16 << 20)
        .map_err(|e| Failure::new(Outcome::Input, format!("{shown}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::new(Outcome::Input, format!("{shown}: not UTF-8 text")))?;
    let mut out = std::collections::BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(ip) = words.next() else { continue };
        let bad = |what: String| Failure::new(Outcome::Input, format!("{shown}:{}: {what}", i + 1));
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
        for name in words {
            let n =
                crate::model::DnsName::parse(name).map_err(|e| bad(format!("{name:?}: {e}")))?;
            out.entry(n.as_str().to_string()).or_insert(ip);
        }
    }
    Ok(out)
}

/// The prefixes of every tag of a service-tag file, by full and base name,
/// for tags the policy does not hold.
fn add_service_tags(
    options: &mut Options,
    path: &std::path::Path,
    tags: std::collections::BTreeSet<String>,
) -> super::Result<()> {
    let read = crate::sources::ReadOptions {
        extra_tags: tags
            .iter()
            .map(|t| t.split('.').next().unwrap_or(t).to_string())
            .filter(|t| crate::model::valid_tag_name(t))
            .collect(),
        ..Default::default()
    };
    let catalog = crate::sources::read_file(path, &read)?;
    let mut by_tag: std::collections::BTreeMap<String, Vec<ipnet::IpNet>> = Default::default();
    for p in &catalog.prefixes {
        by_tag.entry(p.tag.clone()).or_default().push(p.net);
        if let Some((base, _)) = p.tag.split_once('.') {
            by_tag.entry(base.to_string()).or_default().push(p.net);
        }
    }
    for (tag, nets) in by_tag {
        options.tag_prefixes.entry(tag).or_insert(nets);
    }
    Ok(())
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
