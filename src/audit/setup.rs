//! What an audit run reads besides the policy: configurations, lookups, tags, client.
//!
//! Built from the command's request and the ruleset: the CLI only parses
//! the flags into a [`Request`] and prints the [`Report`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use crate::backends::reader::{Config, Options, ReadError, read_config, shown};
use crate::model::DnsName;
use crate::policy::Policy;
use crate::ruleset::Ruleset;
use crate::values::Resolve;

use super::engine::audit;
use super::report::Report;

/// A hosts file is small; this bounds a hostile one.
const MAX_HOSTS: u64 = 16 << 20;

/// What a run was asked to audit, and with what answers.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub configs: &'a [PathBuf],
    /// The kind of every configuration, instead of recognising it.
    pub kind: Option<&'a str>,
    /// The device address source tests are judged for; default the first
    /// host of the ruleset's Squid `clients`.
    pub client: Option<IpAddr>,
    /// Lookup answers (`--resolve`), which win over `hosts`.
    pub resolve: &'a [Resolve],
    /// More lookup answers, in hosts(5) form.
    pub hosts: Option<&'a Path>,
    /// Service-tag JSON for tags the policy does not hold.
    pub service_tags: Option<&'a Path>,
    /// The proxy's `/`, for a copy of its files ([`Options::root`]).
    pub root: Option<&'a Path>,
    /// The proxy port devices use; default the ports of the ruleset's
    /// `[proxy]` addresses ([`Options::ports`]).
    pub port: Option<u16>,
}

/// Why an audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The hosts file.
    #[error("{0}")]
    Hosts(String),
    /// A configuration.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The service-tag file.
    #[error(transparent)]
    ServiceTags(#[from] crate::error::Error),
}

/// Reads every configuration and audits it against `policy`.
pub fn run(req: &Request, ruleset: &Ruleset, policy: &Policy) -> Result<Report, SetupError> {
    let client = req.client.unwrap_or_else(|| default_client(ruleset));
    let mut options = Options::for_policy(policy);
    options.root = req.root.map(Path::to_path_buf);
    options.ports = match req.port {
        Some(port) => vec![port],
        None => ruleset
            .site
            .proxy
            .addresses
            .iter()
            .map(|a| a.port())
            .collect(),
    };
    options.ports.sort_unstable();
    options.ports.dedup();
    if let Some(path) = req.hosts {
        options.resolve = read_hosts(path)?;
    }
    options
        .resolve
        .extend(req.resolve.iter().map(|r| (r.host.clone(), r.ip)));
    let mut configs = read_all(req, &options)?;
    // The tags the configurations name decide what to take from the file;
    // then they are read again with the tags' prefixes.
    if let Some(path) = req.service_tags {
        let tags: BTreeSet<String> = configs.iter().flat_map(|c| c.service_tags()).collect();
        add_service_tags(&mut options, path, tags)?;
        configs = read_all(req, &options)?;
    }
    let audits = configs
        .iter()
        .map(|c| audit(policy, c.as_ref(), client))
        .collect();
    Ok(Report::new(&policy.ruleset.name, audits))
}

fn read_all(req: &Request, options: &Options) -> Result<Vec<Box<dyn Config>>, ReadError> {
    req.configs
        .iter()
        .map(|path| read_config(path, req.kind, options))
        .collect()
}

/// A hosts(5) file: `IP NAME [NAME...]` per line, `#` comments.
fn read_hosts(path: &Path) -> Result<BTreeMap<String, IpAddr>, SetupError> {
    let shown = shown(path);
    let bytes = crate::input::read_limited(path, MAX_HOSTS)
        .map_err(|e| SetupError::Hosts(format!("{shown}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| SetupError::Hosts(format!("{shown}: not UTF-8 text")))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(ip) = words.next() else { continue };
        let bad = |what: String| SetupError::Hosts(format!("{shown}:{}: {what}", i + 1));
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
        for name in words {
            let n = DnsName::parse(name).map_err(|e| bad(format!("{name:?}: {e}")))?;
            out.entry(n.as_str().to_string()).or_insert(ip);
        }
    }
    Ok(out)
}

/// The prefixes of every tag of a service-tag file, by full and base name,
/// for tags the policy does not hold.
fn add_service_tags(
    options: &mut Options,
    path: &Path,
    tags: BTreeSet<String>,
) -> Result<(), SetupError> {
    let read = crate::sources::ReadOptions {
        extra_tags: tags
            .iter()
            .map(|t| t.split('.').next().unwrap_or(t).to_string())
            .filter(|t| crate::model::valid_tag_name(t))
            .collect(),
        ..Default::default()
    };
    let catalog = crate::sources::read_file(path, &read)?;
    let mut by_tag: BTreeMap<String, Vec<ipnet::IpNet>> = BTreeMap::new();
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
        .unwrap_or(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
}
