//! The site: scope, placeholders' values, proxy, TLS choices, devices, own entries.
//!
//! Cloud, data locations, operating systems, products, workspace IDs, MDI
//! instances, proxy, TLS choices, devices and the site's own allow and
//! exclude entries. The policy reads only this; it knows nothing of outputs
//! (a ruleset file adds those, in `crate::ruleset`).

pub mod devices;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{Cloud, Os, Product};
use crate::sources::SourceSpec;
use crate::values::{
    GeoName, HostText, InstanceName, PortNumber, ProxyAddress, RulesetName, TagName, UrlText,
    WorkspaceId,
};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// `baseline`, `builtin:…`, file paths (relative to the ruleset file)
    /// or URLs, parsed as they are read so a misspelt built-in is an error
    /// with its line and column.
    #[serde(default = "default_sources")]
    pub files: Vec<SourceSpec>,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            files: default_sources(),
        }
    }
}

fn default_sources() -> Vec<SourceSpec> {
    vec![SourceSpec::Baseline]
}

/// Which connectivity model the devices use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connectivity {
    /// The per-service URLs of the standard workbooks and Learn tables.
    #[default]
    Standard,
    /// The consolidated `*.endpoint.security.microsoft.com` model of the
    /// streamlined workbook.
    Streamlined,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub cloud: Cloud,
    /// Data locations beyond WW (`EU`, `US`, `UK`, `AU`, ...). WW is always
    /// included; Gov clouds take their Gov geographies from the cloud.
    #[serde(default)]
    pub geographies: Vec<GeoName>,
    /// Operating systems of the site's devices.
    #[serde(default = "all_os")]
    pub os: BTreeSet<Os>,
    #[serde(default = "default_products")]
    pub products: BTreeSet<Product>,
    #[serde(default)]
    pub connectivity: Connectivity,
    /// Keep endpoints marked Optional.
    #[serde(default = "crate::values::yes")]
    pub include_optional: bool,
}

fn all_os() -> BTreeSet<Os> {
    Os::ALL.into_iter().collect()
}

fn default_products() -> BTreeSet<Product> {
    [Product::Mde, Product::Mdav, Product::SmartScreen].into()
}

/// The `[site]` table: the values that fill Microsoft's placeholders.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteValues {
    /// Log Analytics workspace IDs for the MMA endpoints.
    #[serde(default)]
    pub workspace_ids: Vec<WorkspaceId>,
    /// Defender for Identity instance (workspace) names.
    #[serde(default)]
    pub mdi_instances: Vec<InstanceName>,
    /// Keep Microsoft's wildcard when a placeholder has no value here
    /// (otherwise the endpoint is dropped and reported).
    #[serde(default)]
    pub allow_unresolved_wildcards: bool,
    /// Service tags whose prefixes go into the policy. Default: the tags
    /// the selected products need (AzureAdvancedThreatProtection for MDI;
    /// MicrosoftDefenderForEndpoint and OneDsCollector for streamlined).
    #[serde(default)]
    pub service_tags: Option<Vec<TagName>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// `host:port` of the site's forward proxies, in order of preference.
    #[serde(default)]
    pub addresses: Vec<ProxyAddress>,
}

/// How a conflict between "do not inspect" and "never exempt from
/// inspection" is decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictRule {
    #[default]
    NeverBypassWins,
    BypassWins,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Patterns no exemption may equal or cover, like the built-in storage
    /// wildcards: named hosts strictly inside stay exempt, anything as
    /// broad is a conflict that `conflict` decides.
    #[serde(default)]
    pub never_bypass: Vec<HostText>,
    /// Extra hosts to exempt from inspection.
    #[serde(default)]
    pub bypass: Vec<HostText>,
    /// Hosts the site inspects although Microsoft says not to (at its own
    /// risk): they beat every exemption they overlap, and each Defender
    /// host they touch is a warning on every run.
    #[serde(default)]
    pub inspect_anyway: Vec<HostText>,
    #[serde(default)]
    pub conflict: ConflictRule,
}

/// An extra destination the site allows: a host pattern with optional
/// scheme, port and path (`http://crl.contoso.com/pki/*`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    pub url: UrlText,
    /// TCP ports; default from the URL (scheme or `:port`), else 443.
    #[serde(default)]
    pub ports: Vec<PortNumber>,
    #[serde(default)]
    pub direct: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// One site: everything in a ruleset but its outputs.
#[derive(Clone, Debug)]
pub struct Site {
    /// Names the output directory and appears in every file header.
    pub name: RulesetName,
    pub description: Option<String>,
    pub sources: Sources,
    pub scope: Scope,
    /// The `[site]` table.
    pub values: SiteValues,
    pub proxy: Proxy,
    pub tls: Tls,
    pub allow: Vec<AllowEntry>,
    pub exclude: Vec<HostText>,
    /// The `[refresh]` table: what a refresh may not take away.
    pub refresh: RefreshGuards,
    /// The `[devices]` table: what the device-side outputs tell devices.
    pub devices: devices::Devices,
    /// Where the ruleset was read from (relative source paths resolve
    /// against its directory).
    pub file: PathBuf,
}

impl Site {
    /// The sources, with file paths resolved against the ruleset's
    /// directory.
    pub fn source_specs(&self) -> Vec<SourceSpec> {
        let base = self.file.parent().unwrap_or(Path::new("."));
        self.sources
            .files
            .iter()
            .map(|s| s.relative_to(base))
            .collect()
    }
}

/// The `[refresh]` table: the guards `egressgen refresh` applies to this
/// site's policy before it replaces the published one.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshGuards {
    /// The largest share of entries, or of prefixes, a refresh may take
    /// away (0.10 = 10 %); more is refused unless `--force`.
    #[serde(default = "default_max_loss")]
    pub max_loss: LossShare,
    /// Host patterns the policy must keep: a refresh that would drop one
    /// is refused unless `--force`.
    #[serde(default)]
    pub essential: Vec<HostText>,
}

impl Default for RefreshGuards {
    fn default() -> Self {
        RefreshGuards {
            max_loss: default_max_loss(),
            essential: Vec::new(),
        }
    }
}

fn default_max_loss() -> LossShare {
    LossShare(0.10)
}

/// A share between 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct LossShare(pub f64);

impl TryFrom<f64> for LossShare {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if (0.0..=1.0).contains(&v) {
            Ok(LossShare(v))
        } else {
            Err(format!("max_loss {v} is not a share between 0 and 1"))
        }
    }
}
