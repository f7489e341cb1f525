//! The live sources by name: what a ruleset writes as `live:NAME`.
//!
//! What a ruleset writes as `live:NAME` and what `refresh` fetches (how,
//! from where, is `refresh::live`'s business). A live source reaches the
//! readers as the bytes of its last good copy, under the file name its kind
//! needs.

use std::fmt;

/// One live source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Live {
    /// A Defender for Endpoint Learn page, as Markdown.
    Learn(LearnPage),
    /// The weekly Azure service-tag file of one cloud.
    ServiceTags(TagCloud),
    /// The Microsoft 365 endpoints web service, one instance.
    M365(M365Instance),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LearnPage {
    StandardCommercial,
    StandardGov,
    StreamlinedCommercial,
    StreamlinedGov,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagCloud {
    Public,
    AzureGovernment,
    China,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum M365Instance {
    Worldwide,
    UsGovDod,
    UsGovGccHigh,
    China,
}

/// Every live source a ruleset may name. The China service tags and
/// Microsoft 365 China are fetched by `refresh::live`, but egressgen's
/// clouds are commercial and the US Government ones, so no site could use
/// them: naming them is an error that says so.
pub const SUPPORTED: [Live; 9] = [
    Live::Learn(LearnPage::StandardCommercial),
    Live::Learn(LearnPage::StandardGov),
    Live::Learn(LearnPage::StreamlinedCommercial),
    Live::Learn(LearnPage::StreamlinedGov),
    Live::ServiceTags(TagCloud::Public),
    Live::ServiceTags(TagCloud::AzureGovernment),
    Live::M365(M365Instance::Worldwide),
    Live::M365(M365Instance::UsGovDod),
    Live::M365(M365Instance::UsGovGccHigh),
];

impl Live {
    /// Its name in rulesets (`live:NAME`), in the cache and in reports.
    pub fn name(self) -> String {
        match self {
            Live::Learn(p) => format!("learn-{}", p.slug()),
            Live::ServiceTags(c) => format!("service-tags-{}", c.file().to_ascii_lowercase()),
            Live::M365(i) => format!("m365-{}", i.instance().to_ascii_lowercase()),
        }
    }

    /// The file name the readers see: its extension says the kind.
    pub fn file_name(self) -> String {
        match self {
            Live::Learn(p) => format!("{}.md", p.page()),
            Live::ServiceTags(c) => format!("ServiceTags_{}.json", c.file()),
            Live::M365(i) => format!("m365-{}.json", i.instance()),
        }
    }

    /// `live:NAME` (without the prefix) back to a source; the error lists
    /// the names there are.
    pub fn parse(name: &str) -> Result<Live, String> {
        if let Some(live) = SUPPORTED.into_iter().find(|l| l.name() == name) {
            return Ok(live);
        }
        let china = [
            Live::ServiceTags(TagCloud::China),
            Live::M365(M365Instance::China),
        ];
        if china.iter().any(|l| l.name() == name) {
            return Err(format!(
                "live:{name}: Azure China has no cloud in egressgen (commercial, gcc, gcc-high, dod), so no site could use it"
            ));
        }
        let known: Vec<String> = SUPPORTED
            .iter()
            .map(|l| format!("live:{}", l.name()))
            .collect();
        Err(format!(
            "unknown live source \"live:{}\" (known: {})",
            crate::model::text::display_escape(name),
            known.join(", ")
        ))
    }
}

impl fmt::Display for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "live:{}", self.name())
    }
}

impl LearnPage {
    fn slug(self) -> &'static str {
        match self {
            LearnPage::StandardCommercial => "standard-commercial",
            LearnPage::StandardGov => "standard-gov",
            LearnPage::StreamlinedCommercial => "streamlined-commercial",
            LearnPage::StreamlinedGov => "streamlined-gov",
        }
    }

    /// The page's file name in the docs repository, without `.md`.
    pub fn page(self) -> &'static str {
        match self {
            LearnPage::StandardCommercial => "standard-device-connectivity-urls-commercial",
            LearnPage::StandardGov => "standard-device-connectivity-urls-gov",
            LearnPage::StreamlinedCommercial => "streamlined-device-connectivity-urls-commercial",
            LearnPage::StreamlinedGov => "streamlined-device-connectivity-urls-gov",
        }
    }
}

impl TagCloud {
    /// `Public` in `ServiceTags_Public_20251013.json`, and the file's own
    /// `cloud` field.
    pub fn file(self) -> &'static str {
        match self {
            TagCloud::Public => "Public",
            TagCloud::AzureGovernment => "AzureGovernment",
            TagCloud::China => "China",
        }
    }
}

impl M365Instance {
    /// The instance as the web service names it.
    pub fn instance(self) -> &'static str {
        match self {
            M365Instance::Worldwide => "Worldwide",
            M365Instance::UsGovDod => "USGovDoD",
            M365Instance::UsGovGccHigh => "USGovGCCHigh",
            M365Instance::China => "China",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_china_is_explained() {
        for live in SUPPORTED {
            assert_eq!(Live::parse(&live.name()), Ok(live));
        }
        assert_eq!(
            Live::ServiceTags(TagCloud::Public).name(),
            "service-tags-public"
        );
        assert_eq!(
            Live::Learn(LearnPage::StandardGov).file_name(),
            "standard-device-connectivity-urls-gov.md"
        );
        assert!(
            Live::parse("service-tags-china")
                .unwrap_err()
                .contains("Azure China has no cloud")
        );
        assert!(Live::parse("learn-standard").unwrap_err().starts_with(
            "unknown live source \"live:learn-standard\" (known: live:learn-standard-commercial,"
        ));
    }
}
