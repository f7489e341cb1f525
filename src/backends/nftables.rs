//! nftables: interval sets of the policy's prefixes and a chain accepting 80 and 443.
//!
//! Named interval sets of the policy's aggregated prefixes (`ipv4_addr`,
//! `ipv6_addr`) and a chain accepting tcp/80 and tcp/443 towards them,
//! declared inside the site's own table so the site's chains can `jump` to
//! it. The file can be loaded again and again: it declares, flushes, then
//! fills. nftables takes no names, so every host entry is reported:
//! replaced by a service tag's prefixes where one covers it, dropped
//! otherwise.

use serde::Deserialize;

use super::caps::{Caps, Host, HostCaps, Paths, Ports, Support, TagWords};
use super::loss::plan;
use super::{Backend, BackendError, LossEntry, LossReport, Registered, Rendered, header_lines};
use crate::policy::Policy;
use crate::values::{FileName, Identifier};

const NAME: &str = "nftables";

/// `[outputs.nftables]`: sets and a chain, declared in the site's own
/// table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "nft_file")]
    pub file: FileName,
    /// The `inet` table the site's chains live in.
    #[serde(default = "nft_table")]
    pub table: Identifier,
    /// The chain to jump to; its sets are `<chain>_v4` and `<chain>_v6`.
    #[serde(default = "nft_chain")]
    pub chain: Identifier,
}

fn nft_file() -> FileName {
    FileName::fixed("egressgen.nft")
}

fn nft_table() -> Identifier {
    Identifier::fixed("filter")
}

fn nft_chain() -> Identifier {
    Identifier::fixed("egressgen_allow")
}

pub struct Nftables {
    cfg: Settings,
}

impl Registered for Nftables {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "nftables interval sets of the prefixes and a chain accepting tcp/80 and tcp/443";
    fn new(cfg: Settings) -> Self {
        Nftables { cfg }
    }
}

const NO_NAMES: Host = Host::ByTag(TagWords {
    whole: "nftables takes no names: the {tag} service tag's prefixes stand for it",
    part: "nftables takes no names: the {tag} prefixes serve only {part} within it",
    none: "nftables takes no names and no service tag covers this host",
});

const CAPS: Caps = Caps {
    hosts: HostCaps {
        exact: NO_NAMES,
        subdomains: NO_NAMES,
        domain: NO_NAMES,
        suffix_glob: NO_NAMES,
    },
    paths: Paths::Widened("a firewall sees no paths: {path} widened to the whole host"),
    ports: Ports::Only {
        ports: &[80, 443],
        why: "port {port}: the chain accepts tcp/80 and tcp/443 only",
    },
    proxy_route: Support::Exact,
    direct_route: Support::Exact,
    prefixes: true,
    tls_bypass: None,
};

impl Nftables {
    /// `egressgen.nft` -> `egressgen`.
    fn stem(&self) -> String {
        let name = self.cfg.file.as_str();
        name.strip_suffix(".nft").unwrap_or(name).to_string()
    }
}

/// Host entries: what became of each in an address-only format.
fn host_losses(policy: &Policy) -> Vec<LossEntry> {
    policy
        .entries
        .iter()
        .map(|e| plan(e, &CAPS, &policy.prefixes).entry(e, Vec::new()))
        .collect()
}

/// Elements per file. One `nft -f` is one netlink transaction, and an
/// unprivileged `nft` (a user namespace, as in `unshare -rn nft -c`) cannot
/// raise its socket buffer past the default: about 2,500 IPv4 or 1,500
/// IPv6 interval elements fit. 1,000 per file leaves room.
const ELEMENTS_PER_FILE: usize = 1000;

impl Backend for Nftables {
    fn name(&self) -> &'static str {
        NAME
    }

    fn caps(&self) -> Caps {
        CAPS
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let table = self.cfg.table.as_str();
        let chain = self.cfg.chain.as_str();
        let v4: Vec<String> = policy
            .prefixes
            .total_ipv4
            .iter()
            .map(|n| n.to_string())
            .collect();
        let v6: Vec<String> = policy
            .prefixes
            .total_ipv6
            .iter()
            .map(|n| n.to_string())
            .collect();
        let header: String = header_lines(policy, "nftables sets and chain")
            .iter()
            .map(|l| format!("# {l}\n"))
            .collect();
        // Declaring is idempotent: it creates what is missing and changes
        // nothing that exists. Every file declares, so each loads alone.
        let declare = format!(
            "table inet {table} {{\n  set {chain}_v4 {{ type ipv4_addr; flags interval; }}\n  set {chain}_v6 {{ type ipv6_addr; flags interval; }}\n  chain {chain} {{\n  }}\n}}\n"
        );
        let chunks: Vec<(&str, &[String])> = v4
            .chunks(ELEMENTS_PER_FILE)
            .map(|c| ("v4", c))
            .chain(v6.chunks(ELEMENTS_PER_FILE).map(|c| ("v6", c)))
            .collect();
        let mut main = format!("#!/usr/sbin/nft -f\n{header}");
        main.push_str(&format!(
            "# Load this file, then every {stem}-elements-*.nft in order ({stem}-load.sh does), and jump\n# here from your own chain in table inet {table}: jump {chain}\n{declare}\
             flush set inet {table} {chain}_v4\nflush set inet {table} {chain}_v6\nflush chain inet {table} {chain}\n\
             add rule inet {table} {chain} ip daddr @{chain}_v4 tcp dport {{ 80, 443 }} accept\n\
             add rule inet {table} {chain} ip6 daddr @{chain}_v6 tcp dport {{ 80, 443 }} accept\n",
            stem = self.stem()
        ));
        let mut files = vec![(self.cfg.file.to_string(), main)];
        for (i, (family, chunk)) in chunks.iter().enumerate() {
            let name = format!("{}-elements-{:03}.nft", self.stem(), i + 1);
            let text = format!(
                "#!/usr/sbin/nft -f\n{header}# part {} of {}\n{declare}add element inet {table} {chain}_{family} {{\n    {}\n}}\n",
                i + 1,
                chunks.len(),
                chunk.join(",\n    ")
            );
            files.push((name, text));
        }
        let mut load = format!(
            "#!/bin/sh\n{header}# Loads the sets and chain: the main file, then each part.\nset -eu\ncd \"$(dirname \"$0\")\"\n"
        );
        for (name, _) in &files {
            load.push_str(&format!("nft -f {name}\n"));
        }
        files.push((format!("{}-load.sh", self.stem()), load));
        let mut rendered = Rendered {
            loss: LossReport {
                backend: NAME.to_string(),
                entries: host_losses(policy),
            },
            ..Default::default()
        };
        for (name, text) in files {
            rendered.files.insert(name, text.into_bytes());
        }
        Ok(rendered)
    }
}
