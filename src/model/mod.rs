//! The catalog model: what Microsoft publishes, normalized and validated, with provenance.
//!
//! What Microsoft publishes, normalized and validated, with the provenance
//! of every entry.
//!
//! Everything in here has passed validation at the edge (see
//! [`crate::normalize`]); a [`DnsName`] cannot be built from an unchecked
//! string, including when a catalog is read back from JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub mod geography;
pub mod host;
pub mod prefix;
mod scheme;
pub mod text;

pub use scheme::Scheme;

pub use geography::Geography;
pub use host::{DnsName, HostPattern, Placeholder, Template};

/// The product an endpoint serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Product {
    /// Defender for Endpoint (sensor, EDR, command and control).
    Mde,
    /// Defender Antivirus (cloud protection, updates).
    Mdav,
    SmartScreen,
    /// The legacy Microsoft Monitoring Agent / Log Analytics agent.
    Mma,
    /// Defender for Identity.
    Mdi,
    /// Admin portals: needed by operators' browsers, not by devices.
    Portal,
    /// Microsoft 365 endpoints web service entries.
    M365,
}

impl Product {
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Mde => "mde",
            Product::Mdav => "mdav",
            Product::SmartScreen => "smart-screen",
            Product::Mma => "mma",
            Product::Mdi => "mdi",
            Product::Portal => "portal",
            Product::M365 => "m365",
        }
    }
}

/// The Microsoft cloud a requirement applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    Commercial,
    Gcc,
    GccHigh,
    Dod,
}

impl Cloud {
    pub const GOV: [Cloud; 3] = [Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];

    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
        }
    }
}

/// Operating-system families, as the workbooks' OS columns group them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Os {
    /// Windows 10/11 and servers on the unified agent.
    Windows,
    /// Windows 7 and 8.1.
    WindowsLegacy,
    /// Windows Server 2008 R2 / 2012 R2 / 2016 onboarded through MMA.
    WindowsServerMma,
    Macos,
    Linux,
}

impl Os {
    pub const ALL: [Os; 5] = [
        Os::Windows,
        Os::WindowsLegacy,
        Os::WindowsServerMma,
        Os::Macos,
        Os::Linux,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Os::Windows => "windows",
            Os::WindowsLegacy => "windows-legacy",
            Os::WindowsServerMma => "windows-server-mma",
            Os::Macos => "macos",
            Os::Linux => "linux",
        }
    }
}

/// One OS cell: `Yes`, `Yes*` (yes, with a condition in the comments), `No`.
/// A blank cell is simply absent from the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OsFlag {
    #[serde(rename = "yes")]
    Yes,
    #[serde(rename = "yes*")]
    Conditional,
    #[serde(rename = "no")]
    No,
}

impl OsFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            OsFlag::Yes => "yes",
            OsFlag::Conditional => "yes*",
            OsFlag::No => "no",
        }
    }
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Requirement {
    Required,
    Optional,
    #[default]
    Unspecified,
}

/// Whether a TLS-inspecting proxy may terminate connections to the endpoint.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TlsHandling {
    #[default]
    Unspecified,
    /// Inspection breaks it (certificate pinning, mutual TLS).
    MustNotInspect,
    /// Guidance says never exempt it from inspection.
    MustBeInspected,
}

/// How traffic to the endpoint must leave the site.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    #[default]
    Proxy,
    /// "Direct Connection/Proxy bypass required".
    Direct,
}

/// Where an entry came from. Only the fields that apply are set: a workbook
/// cell has sheet, cell, row and column; a Markdown table has table, line
/// and column; JSON has a path.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Provenance {
    /// The file name (or `builtin:<table>`).
    pub file: String,
    /// Sheet name (workbooks) or table heading (Markdown, built-ins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// Cell reference such as `E12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// One-based row of the sheet or built-in table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u32>,
    /// One-based line of a text file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Header of the column the value was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// JSON path such as `$.values[3].properties.addressPrefixes[7]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(sheet) = &self.sheet {
            write!(f, " [{}]", sheet.trim_end())?;
        }
        if let Some(cell) = &self.cell {
            write!(f, " {cell}")?;
        } else if let Some(row) = self.row {
            write!(f, " row {row}")?;
        }
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, " ({})", column.trim())?;
        }
        if let Some(path) = &self.json_path {
            write!(f, " {path}")?;
        }
        Ok(())
    }
}

/// One required destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub host: HostPattern,
    /// Path prefix, starting with `/`, when only part of the site is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// TCP ports.
    pub ports: BTreeSet<u16>,
    pub product: Product,
    /// The Service column as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub clouds: BTreeSet<Cloud>,
    pub geography: Geography,
    /// OS cells that were filled in; a missing OS means a blank cell.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub os: BTreeMap<Os, OsFlag>,
    pub required: Requirement,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    pub tls: TlsHandling,
    pub route: Via,
    /// What the reader had to decide about this row (an assumed port, a
    /// ragged row), so nobody has to guess.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub provenance: Vec<Provenance>,
}

/// An IP prefix from a service tag or an M365 endpoint set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefix {
    #[serde(with = "prefix_text")]
    pub net: IpNet,
    /// Service tag name (`AzureAdvancedThreatProtection`,
    /// `AzureAdvancedThreatProtection.WestEurope`) or `m365/<area>/<id>`.
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_number: Option<u64>,
    pub clouds: BTreeSet<Cloud>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    pub provenance: Provenance,
}

/// Prefixes go through the same validation when a catalog is read back.
mod prefix_text {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(net: &IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(net)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        let text = String::deserialize(d)?;
        crate::model::prefix::parse_prefix(&text, &Default::default())
            .map_err(serde::de::Error::custom)
    }
}

/// Tag names are identifiers with dots (`AzureCloud.westeurope`).
pub fn valid_tag_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

/// A workbook row that names a service tag instead of listing addresses
/// (the streamlined workbook's `IP addresses` sheet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRef {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub provenance: Provenance,
}

/// What a piece of Microsoft's TLS-inspection guidance applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum GuidanceTarget {
    /// Every endpoint a Defender list gives for these products, on a port
    /// that carries TLS (anything but 80).
    Products { products: BTreeSet<Product> },
    /// Hosts this pattern covers, whatever list they come from.
    Hosts { host: HostPattern },
}

/// One statement of Microsoft's guidance on TLS inspection, with where it
/// was published. The policy applies these; the catalog only carries them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsGuidance {
    /// Stable identifier, such as `defender-connections` or
    /// `storage-wildcard-commercial`.
    pub id: String,
    pub applies_to: GuidanceTarget,
    /// `must-not-inspect` or `must-be-inspected`.
    pub tls: TlsHandling,
    /// What Microsoft says, quoted or closely paraphrased.
    pub reason: String,
    /// The page (and its date) that says it.
    pub reference: String,
    pub provenance: Provenance,
}

/// A service tag whose prefixes serve the hosts of a published pattern: a
/// firewall that cannot match names can allow the tag instead.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TagHost {
    /// Base tag name, such as `MicrosoftDefenderForEndpoint`.
    pub tag: String,
    pub host: HostPattern,
    /// The page that ties the two together.
    pub reference: String,
    pub provenance: Provenance,
}

/// A cell or value that was not taken into the catalog, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub provenance: Provenance,
    /// The offending value, with control characters escaped and long values
    /// cut, safe to print.
    pub value: String,
    /// Stable machine-readable reason code.
    pub code: String,
    pub reason: String,
    /// The service tag a rejected value belongs to: a policy counts it
    /// only when the site selects that tag, so what one site reads does
    /// not change another site's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Something the reader noticed at file or sheet level (a skipped sheet, a
/// requested tag that is absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub provenance: Provenance,
    pub message: String,
}

/// The kind of a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    MdeWorkbook,
    LearnTable,
    ServiceTags,
    M365,
    Builtin,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::MdeWorkbook => "mde-workbook",
            SourceKind::LearnTable => "learn-table",
            SourceKind::ServiceTags => "service-tags",
            SourceKind::M365 => "m365",
            SourceKind::Builtin => "builtin",
        }
    }
}

/// A service tag selected from a service-tag file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    pub name: String,
    pub change_number: u64,
    pub prefixes: usize,
}

/// One input file, identified well enough to tell two versions apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub file: String,
    pub kind: SourceKind,
    /// SHA-256 of the file as read (absent for built-in tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The file's own version: the latest change-log date of a workbook,
    /// `ms.date` of a Learn page, the document date of a built-in table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Workbook layout: `classic`, `standard` or `streamlined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Service-tag file: its `cloud` and top-level `changeNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagInfo>,
    /// Where the facts come from, for built-in tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl SourceInfo {
    /// A built-in table: no file hash, its document date as version and
    /// the page its facts come from.
    pub fn builtin(file: &str, version: &str, reference: &str) -> SourceInfo {
        SourceInfo {
            file: file.to_string(),
            kind: SourceKind::Builtin,
            sha256: None,
            version: Some(version.to_string()),
            layout: None,
            cloud: None,
            change_number: None,
            tags: Vec::new(),
            reference: Some(reference.to_string()),
        }
    }
}

/// A row whose own cells disagree: its Geography label says one region
/// and its host name another (Microsoft labels the UAE AutoIR storage
/// accounts `AU`). Kept as published, and reported wherever a site could
/// be misled by it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Inconsistency {
    /// The row's host pattern.
    pub host: String,
    /// The geography the row is labelled with, which decides who gets it.
    pub labelled: Geography,
    /// The geography the host name implies.
    pub implied: Geography,
    pub clouds: BTreeSet<Cloud>,
    pub message: String,
    pub provenance: Provenance,
}

impl Inconsistency {
    /// Whether a site selecting these geographies should hear of it: it
    /// gets the row by its label, or would want it by its name.
    pub fn concerns(&self, cloud: Cloud, geographies: &[Geography]) -> bool {
        self.clouds.contains(&cloud)
            && geographies
                .iter()
                .any(|g| g.covers(&self.labelled) || g.covers(&self.implied))
    }
}

pub const CATALOG_FORMAT: &str = "egressgen-catalog";
pub const CATALOG_VERSION: u32 = 1;

/// Everything read from the sources, before any site's choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub format: String,
    pub version: u32,
    pub sources: Vec<SourceInfo>,
    pub endpoints: Vec<Endpoint>,
    pub prefixes: Vec<Prefix>,
    pub tag_refs: Vec<TagRef>,
    pub rejected: Vec<Rejected>,
    pub notes: Vec<Note>,
    /// Microsoft's TLS-inspection guidance (the built-in
    /// `builtin:tls-guidance` source): which hosts must not be inspected
    /// and which must never be exempted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_guidance: Vec<TlsGuidance>,
    /// Which service tag stands for which host pattern (the built-in
    /// `builtin:tag-hosts` source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_hosts: Vec<TagHost>,
    /// Rows that contradict themselves (see [`Inconsistency`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inconsistencies: Vec<Inconsistency>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            format: CATALOG_FORMAT.to_string(),
            version: CATALOG_VERSION,
            sources: Vec::new(),
            endpoints: Vec::new(),
            prefixes: Vec::new(),
            tag_refs: Vec::new(),
            rejected: Vec::new(),
            notes: Vec::new(),
            tls_guidance: Vec::new(),
            tag_hosts: Vec::new(),
            inconsistencies: Vec::new(),
        }
    }
}

impl Catalog {
    /// Appends another catalog (another source file).
    pub fn extend(&mut self, other: Catalog) {
        self.sources.extend(other.sources);
        self.endpoints.extend(other.endpoints);
        self.prefixes.extend(other.prefixes);
        self.tag_refs.extend(other.tag_refs);
        self.rejected.extend(other.rejected);
        self.notes.extend(other.notes);
        self.tls_guidance.extend(other.tls_guidance);
        self.tag_hosts.extend(other.tag_hosts);
        self.inconsistencies.extend(other.inconsistencies);
    }
}
