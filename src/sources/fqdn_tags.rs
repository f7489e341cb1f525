//! Which hosts each Azure Firewall FQDN tag is documented to hold, as facts with provenance.
//!
//! An Azure Firewall application rule may name `fqdnTags` instead of
//! hosts. Microsoft keeps each tag's content and publishes it only in
//! part: the FQDN-tag page describes most tags by service, and a few by a
//! link to a page that lists hosts. This table holds what those pages
//! say, tag by tag, with the page and its date, and how much of the tag
//! it covers ([`Listing`]). Nothing here is inferred from traffic or
//! guessed: a tag whose hosts are not published is listed without hosts,
//! so a reader keeps requests it might match undecidable.

use crate::model::host::parse_pattern;
use crate::model::{Catalog, HostPattern, Note, Provenance, SourceInfo};

use super::Builtin;

const TABLE: &str = "Azure Firewall FQDN tags";
/// The newest page this transcription follows; bump it with any change.
const VERSION: &str = "2026-07-02";
const REFERENCE: &str = "Azure Firewall FQDN tags overview (learn.microsoft.com/azure/firewall/\
fqdn-tags, ms.date 2026-03-28) for the tag names and what each stands for. Host lists only where a \
page says what a tag holds: WindowsUpdate from Configuration Manager's Internet access requirements, \
Software updates (the page the overview links, through two others; ms.date 2022-04-08), at least; \
WindowsDiagnostics from the Endpoints table of Configure Windows diagnostic data, complete (the \
overview defines the tag as all of those endpoints); MicrosoftActiveProtectionService from the MAPS \
row of Defender Antivirus network connections (ms.date 2026-07-02), at least; Windows365 from the \
Windows365 tag section of Use Azure Firewall for Windows 365 (ms.date 2025-04-21) with the required \
session host FQDNs on ports 443 and 80 of Azure Virtual Desktop's list (ms.date 2024-06-26), at \
least. WindowsVirtualDesktop and the other tags are described by service only: no hosts";

/// How much of a tag's content Microsoft publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// The tag is defined as the listed hosts: a host outside them is
    /// outside the tag.
    Complete,
    /// The tag is documented to hold the listed hosts, not to hold only
    /// them: another host may or may not be in it.
    AtLeast,
    /// The tag is described by service, without hosts.
    Unlisted,
}

impl Listing {
    pub fn as_str(self) -> &'static str {
        match self {
            Listing::Complete => "complete",
            Listing::AtLeast => "at least",
            Listing::Unlisted => "unlisted",
        }
    }
}

/// One tag: its name as ARM writes it, what is known of its hosts, and
/// the page that says so.
#[derive(Debug)]
pub struct FqdnTag {
    pub name: &'static str,
    pub listing: Listing,
    /// Host patterns as Microsoft writes them (`*.x` below `x`, `*x` a
    /// suffix). Schemes are dropped: a tag applies on the rule's own
    /// HTTP/HTTPS protocols.
    pub hosts: &'static [&'static str],
    /// The page that says what the tag holds, and its `ms.date`.
    pub page: &'static str,
    pub date: &'static str,
    /// What that page says, in short.
    pub says: &'static str,
}

impl FqdnTag {
    /// The listed hosts the model can hold, as patterns.
    pub fn patterns(&self) -> Vec<HostPattern> {
        self.hosts
            .iter()
            .filter_map(|h| parse_pattern(h).ok())
            .collect()
    }

    /// The listed hosts it cannot: suffix globs whose text after `*`
    /// starts with `-` (`*-umwatsonc.events.data.microsoft.com`), which
    /// the model's name check refuses. The unit test below proves every
    /// host is one or the other. See [`glob_admits`].
    pub fn globs(&self) -> Vec<&'static str> {
        self.hosts
            .iter()
            .copied()
            .filter(|h| parse_pattern(h).is_err() && h.starts_with("*-"))
            .collect()
    }

    /// Where its content is documented: `page, ms.date D`.
    pub fn source(&self) -> String {
        format!("{}, ms.date {}", self.page, self.date)
    }
}

const OVERVIEW: &str = "learn.microsoft.com/azure/firewall/fqdn-tags";
const OVERVIEW_DATE: &str = "2026-03-28";

/// Hosts of the Software updates section: "Allow the active software
/// update point to access the following endpoints so that WSUS and
/// Automatic Updates can communicate with the Microsoft Update cloud
/// service" (http and https forms merged).
const WINDOWS_UPDATE: &[&str] = &[
    "windowsupdate.microsoft.com",
    "*.windowsupdate.microsoft.com",
    "*.update.microsoft.com",
    "*.windowsupdate.com",
    "download.windowsupdate.com",
    "download.microsoft.com",
    "*.download.windowsupdate.com",
    "ntservicepack.microsoft.com",
];

/// The Endpoints table: Connected User Experiences and Telemetry,
/// Windows Error Reporting, Authentication, Online Crash Analysis and
/// Settings.
const WINDOWS_DIAGNOSTICS: &[&str] = &[
    "v10.events.data.microsoft.com",
    "v10c.events.data.microsoft.com",
    "v10.vortex-win.data.microsoft.com",
    "watson.telemetry.microsoft.com",
    "umwatsonc.events.data.microsoft.com",
    "*-umwatsonc.events.data.microsoft.com",
    "ceuswatcab01.blob.core.windows.net",
    "ceuswatcab02.blob.core.windows.net",
    "eaus2watcab01.blob.core.windows.net",
    "eaus2watcab02.blob.core.windows.net",
    "weus2watcab01.blob.core.windows.net",
    "weus2watcab02.blob.core.windows.net",
    "login.live.com",
    "oca.telemetry.microsoft.com",
    "oca.microsoft.com",
    "kmwatsonc.events.data.microsoft.com",
    "*-kmwatsonc.events.data.microsoft.com",
    "settings-win.data.microsoft.com",
];

/// The row "Microsoft Defender Antivirus cloud-delivered protection
/// service is referred to as Microsoft Active Protection Service (MAPS)".
const MAPS: &[&str] = &[
    "*.wdcp.microsoft.com",
    "*.wdcpalt.microsoft.com",
    "*.wd.microsoft.com",
];

/// Azure Virtual Desktop's required session host FQDNs (Azure cloud) on
/// ports 443 and 80; `azkms.core.windows.net` (port 1688) is left out as
/// the Windows 365 page says, and the two addresses are not names.
const WINDOWS_365: &[&str] = &[
    "login.microsoftonline.com",
    "*.wvd.microsoft.com",
    "*.prod.warm.ingest.monitor.core.windows.net",
    "catalogartifact.azureedge.net",
    "gcs.prod.monitoring.core.windows.net",
    "mrsglobalsteus2prod.blob.core.windows.net",
    "wvdportalstorageblob.blob.core.windows.net",
    "oneocsp.microsoft.com",
    "www.microsoft.com",
];

/// A tag the overview describes by service only.
const fn unlisted(name: &'static str, says: &'static str) -> FqdnTag {
    FqdnTag {
        name,
        listing: Listing::Unlisted,
        hosts: &[],
        page: OVERVIEW,
        date: OVERVIEW_DATE,
        says,
    }
}

/// Every tag the overview names, in its order.
const TAGS: &[FqdnTag] = &[
    FqdnTag {
        name: "WindowsUpdate",
        listing: Listing::AtLeast,
        hosts: WINDOWS_UPDATE,
        page: "learn.microsoft.com/mem/configmgr/core/plan-design/network/internet-endpoints#software-updates",
        date: "2022-04-08",
        says: "the overview: \"Allow outbound access to Microsoft Update as described in How to \
Configure a Firewall for Software Updates\"; that page defers to Internet access requirements, \
which lists these endpoints for WSUS. Microsoft documents other Windows Update hosts elsewhere, so \
the tag holds at least these",
    },
    FqdnTag {
        name: "WindowsDiagnostics",
        listing: Listing::Complete,
        hosts: WINDOWS_DIAGNOSTICS,
        page: "learn.microsoft.com/windows/privacy/configure-windows-diagnostic-data-in-your-organization#endpoints",
        // The page's own ms.date field, although it describes Windows 11.
        date: "2016-03-11",
        says: "the overview: \"Allow outbound access to all Windows Diagnostics endpoints\", \
linking to this table",
    },
    FqdnTag {
        name: "MicrosoftActiveProtectionService",
        listing: Listing::AtLeast,
        hosts: MAPS,
        page: "learn.microsoft.com/defender-endpoint/configure-network-connections-microsoft-defender-antivirus",
        date: "2026-07-02",
        says: "the overview: \"Allow outbound access to MAPS\", linking a 2016 blog post whose \
stored copy has lost its host names; the hosts are the MAPS row of the Defender Antivirus page",
    },
    unlisted(
        "AppServiceEnvironment",
        "outbound access to App Service Environment platform traffic",
    ),
    unlisted(
        "AzureBackup",
        "outbound access to the Azure Backup services",
    ),
    unlisted(
        "AzureHDInsight",
        "outbound access for HDInsight platform traffic",
    ),
    FqdnTag {
        name: "WindowsVirtualDesktop",
        listing: Listing::Unlisted,
        hosts: &[],
        page: "learn.microsoft.com/azure/firewall/protect-azure-virtual-desktop",
        date: "2026-02-05",
        says: "outbound Azure Virtual Desktop platform traffic, without deployment-specific \
Storage and Service Bus endpoints; the page lists no hosts for the tag",
    },
    unlisted("AzureKubernetesService", "outbound access to AKS"),
    unlisted(
        "Office365",
        "Office365.<product>.<category>... tags: the required FQDNs of Microsoft 365's \
endpoint web service for that product and category, on ports 80 and 443 (not transcribed here)",
    ),
    FqdnTag {
        name: "Windows365",
        listing: Listing::AtLeast,
        hosts: WINDOWS_365,
        page: "learn.microsoft.com/windows-365/enterprise/azure-firewall-windows-365#windows365-tag \
(ms.date 2025-04-21) and learn.microsoft.com/azure/virtual-desktop/required-fqdn-endpoint",
        date: "2024-06-26",
        says: "\"The Windows365 tag includes the required Azure Virtual Desktop (AVD) endpoints, \
except those endpoints with nonstandard ports\"",
    },
    unlisted(
        "MicrosoftIntune",
        "access to Microsoft Intune for managed devices (Intune's endpoint list is not transcribed \
here)",
    ),
    unlisted(
        "citrixHdxPlusForWindows365",
        "required when using Citrix HDX Plus",
    ),
];

/// Whether a suffix glob `*X` admits a (lower-case) host: the host's text
/// ends with `X` and has something before it, as the model's suffix glob
/// is tested.
pub fn glob_admits(glob: &str, host: &str) -> bool {
    glob.strip_prefix('*')
        .is_some_and(|x| host.len() > x.len() && host.ends_with(x))
}

/// Every tag of the table.
pub fn all() -> &'static [FqdnTag] {
    TAGS
}

/// The tag a rule names, if the table knows it. Names are compared
/// without regard to case; `Office365.<product>...` names find the
/// Office365 row.
pub fn find(name: &str) -> Option<&'static FqdnTag> {
    let family = match name.split_once('.') {
        Some((head, _)) if head.eq_ignore_ascii_case("Office365") => head,
        _ => name,
    };
    TAGS.iter().find(|t| t.name.eq_ignore_ascii_case(family))
}

/// The table as a catalog: its source, and one note per tag with what is
/// known of it and where Microsoft says so (a catalog has no rows of
/// this kind; the reader takes the table from this module).
pub fn catalog() -> Catalog {
    let file = Builtin::FqdnTags.spec();
    let notes = TAGS
        .iter()
        .enumerate()
        .map(|(i, t)| Note {
            provenance: Provenance {
                file: file.to_string(),
                sheet: Some(TABLE.to_string()),
                row: u32::try_from(i + 1).ok(),
                ..Default::default()
            },
            message: note(t),
        })
        .collect();
    Catalog {
        sources: vec![SourceInfo::builtin(file, VERSION, REFERENCE)],
        notes,
        ..Catalog::default()
    }
}

fn note(t: &FqdnTag) -> String {
    let hosts = if t.hosts.is_empty() {
        "no hosts published".to_string()
    } else {
        t.hosts.join(", ")
    };
    format!(
        "FQDN tag {} ({}): {hosts}. Source: {}. {}",
        t.name,
        t.listing.as_str(),
        t.source(),
        t.says
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DnsName;
    use crate::policy::matching::admits;

    #[test]
    fn every_host_parses_and_every_tag_is_found_by_its_name() {
        for t in all() {
            let held = t.patterns().len() + t.globs().len();
            assert_eq!(held, t.hosts.len(), "{}", t.name);
            assert_eq!(
                t.hosts.is_empty(),
                t.listing == Listing::Unlisted,
                "{}",
                t.name
            );
            assert!(std::ptr::eq(find(&t.name.to_ascii_lowercase()).unwrap(), t));
        }
        assert_eq!(find("Office365.Skype.Optimize").unwrap().name, "Office365");
        assert!(find("Office365x").is_none() && find("NoSuchTag").is_none());
    }

    #[test]
    fn a_dash_wildcard_admits_only_names_ending_so() {
        let t = find("WindowsDiagnostics").unwrap();
        assert_eq!(t.globs().len(), 2);
        let admitted = |h: &str| {
            let n = DnsName::parse(h).unwrap();
            t.patterns().iter().any(|p| admits(p, &n))
                || t.globs().iter().any(|g| glob_admits(g, n.as_str()))
        };
        assert!(!glob_admits("*-umwatsonc.x.com", "-umwatsonc.x.com"));
        assert!(admitted("eu-umwatsonc.events.data.microsoft.com"));
        assert!(!admitted("umwatsonc2.events.data.microsoft.com"));
        assert!(!admitted("v20.events.data.microsoft.com"));
    }

    #[test]
    fn the_catalog_notes_each_tag_with_its_page_and_date() {
        let c = catalog();
        assert_eq!(c.notes.len(), all().len());
        for (n, t) in c.notes.iter().zip(all()) {
            assert!(n.message.contains(t.page) && n.message.contains(t.date));
        }
    }
}
