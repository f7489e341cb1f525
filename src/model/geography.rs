//! Geographies: Microsoft's labels as codes, the groups a ruleset names, hosts' regions.
//!
//! The Geography column of Microsoft's tables, normalized to short codes,
//! the groups a ruleset may name, and the region a host name itself gives
//! away.
//!
//! Microsoft writes one geography several ways: `USGov` and `US Gov`,
//! `GCC Mod` for GCC (Moderate), and for the newer regions a long label
//! with the code in parentheses (`Azure UAE Central (AEC)`), next to rows
//! with short codes. The long labels become their codes, so a site selects
//! them like any other; `UAE` selects both UAE regions.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{Cloud, HostPattern};

/// The Geography column of the workbooks, normalized (`All` and blank
/// become `WW`; `GCC-H` becomes `GCC High`; `Azure UAE Central (AEC)`
/// becomes `AEC`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Geography(pub(super) String);

/// Groups a ruleset may name for several geographies at once.
const GROUPS: [(&str, &[&str]); 1] = [("UAE", &["AEC", "AEN"])];

/// Long region names Microsoft has used without a code in parentheses.
const LONG_NAMES: [(&str, &str); 2] = [("uae central", "AEC"), ("uae north", "AEN")];

/// `Azure UAE Central (AEC)`, `UAE North (AEN)`: a label ending in a
/// parenthesized region code.
static LABEL_WITH_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9 ]+\(([A-Za-z]{2,4})\)$").expect("static regex"));

/// The geographies a ruleset may name: those Microsoft's tables use (after
/// normalization) and the groups above. WW is always included anyway.
pub const SITE_CHOICES: [&str; 12] = [
    "WW", "US", "EU", "UK", "AU", "AEC", "AEN", "UAE", "US Gov", "GCC", "GCC High", "DoD",
];

/// Names people write for a geography Microsoft labels otherwise: the
/// ones a "did you mean" offers (a country inside the EU, a long name).
const LOOKALIKES: [(&str, &str); 24] = [
    ("europe", "EU"),
    ("european union", "EU"),
    ("emea", "EU"),
    ("de", "EU"),
    ("fr", "EU"),
    ("nl", "EU"),
    ("ie", "EU"),
    ("se", "EU"),
    ("it", "EU"),
    ("es", "EU"),
    ("gb", "UK"),
    ("united kingdom", "UK"),
    ("great britain", "UK"),
    ("england", "UK"),
    ("usa", "US"),
    ("united states", "US"),
    ("america", "US"),
    ("north america", "US"),
    ("australia", "AU"),
    ("emirates", "UAE"),
    ("united arab emirates", "UAE"),
    ("worldwide", "WW"),
    ("global", "WW"),
    ("gcch", "GCC High"),
];

impl Geography {
    /// A geography a ruleset names, checked against [`SITE_CHOICES`]: an
    /// unknown one is refused with the accepted values and, where one is
    /// close, a "did you mean" (`Europe` -> `EU`), since a site that
    /// names no real geography silently gets none of its regional hosts.
    pub fn site_choice(text: &str) -> Result<Geography, String> {
        let accepted = SITE_CHOICES.join(", ");
        if text.trim().is_empty() {
            return Err(format!("geography \"\" is empty; accepted: {accepted}"));
        }
        let g = Geography::parse(text);
        if SITE_CHOICES.contains(&g.as_str()) {
            return Ok(g);
        }
        let key = text.trim().to_ascii_lowercase();
        let near = LOOKALIKES
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, code)| *code)
            .or_else(|| {
                SITE_CHOICES
                    .iter()
                    .map(|c| (strsim::osa_distance(&key, &c.to_ascii_lowercase()), *c))
                    .filter(|(d, c)| *d <= 1 || (*d <= 2 && c.len() > 3))
                    .min()
                    .map(|(_, c)| c)
            });
        let hint = near
            .map(|c| format!(" (did you mean {c}?)"))
            .unwrap_or_default();
        Err(format!(
            "unknown geography {text:?}{hint}; accepted: {accepted}"
        ))
    }

    pub fn worldwide() -> Self {
        Geography("WW".to_string())
    }

    /// Normalizes a Geography cell. Unknown values are kept (trimmed, with
    /// inner whitespace collapsed) so a new region is not lost.
    pub fn parse(cell: &str) -> Self {
        let collapsed = crate::model::text::collapse_ws(cell);
        let key = collapsed.to_ascii_lowercase().replace(['-', '_'], " ");
        let key = key.strip_prefix("azure ").unwrap_or(&key);
        let canonical = match key {
            "" | "ww" | "all" | "worldwide" | "global" => "WW",
            "us gov" | "usgov" | "us government" | "us gov (all)" => "US Gov",
            "gcc" | "gcc mod" | "gcc moderate" => "GCC",
            "gcc high" | "gcch" | "gcc h" => "GCC High",
            "dod" => "DoD",
            _ => {
                if let Some((_, code)) = LONG_NAMES.iter().find(|(name, _)| *name == key) {
                    return Geography(code.to_string());
                }
                // The code inside is a geography like any other: `(DoD)`
                // is DoD, `(AEC)` is AEC.
                if let Some(code) = LABEL_WITH_CODE
                    .captures(&collapsed)
                    .map(|c| c[1].to_string())
                {
                    return Geography::parse(&code);
                }
                if collapsed.len() <= 3 && collapsed.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Geography(collapsed.to_ascii_uppercase());
                }
                return Geography(collapsed);
            }
        };
        Geography(canonical.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region at the end of a Category such as "Microsoft Defender for
    /// Endpoint AU".
    pub fn from_category(category: &str) -> Option<Self> {
        let words: Vec<&str> = category.split_whitespace().collect();
        let last = *words.last()?;
        if words.len() >= 2 && words[words.len() - 2..] == ["GCC", "High"] {
            return Some(Geography("GCC High".to_string()));
        }
        matches!(
            last,
            "US" | "EU" | "UK" | "AU" | "GCC" | "DoD" | "AEC" | "AEN"
        )
        .then(|| Geography::parse(last))
    }

    /// The US Government geographies of the Gov workbooks.
    pub fn is_gov(&self) -> bool {
        matches!(self.0.as_str(), "US Gov" | "GCC" | "GCC High" | "DoD")
    }

    /// Whether a site that names this geography wants rows labelled
    /// `other`: the same geography, or a member of this group (`UAE`
    /// covers `AEC` and `AEN`).
    pub fn covers(&self, other: &Geography) -> bool {
        self == other
            || GROUPS
                .iter()
                .any(|(group, members)| *group == self.0 && members.contains(&other.as_str()))
    }

    /// The clouds a row with this geography applies to, given whether its
    /// table is a Gov table.
    pub fn clouds(&self, gov_table: bool) -> BTreeSet<Cloud> {
        match self.0.as_str() {
            "GCC" => [Cloud::Gcc].into(),
            "GCC High" => [Cloud::GccHigh].into(),
            "DoD" => [Cloud::Dod].into(),
            "US Gov" => Cloud::GOV.into(),
            _ if gov_table => Cloud::GOV.into(),
            _ => [Cloud::Commercial].into(),
        }
    }

    /// The geography a Defender host name gives away by its Azure region
    /// code: the gateways `winatp-gw-<region>` and the AutoIR storage
    /// accounts `automatedirstrprd<region>`, optionally followed by a
    /// stamp (`neu3`, `aec0a`). `None` for every other name, and for a
    /// region code not in the table.
    pub fn implied_by(host: &HostPattern) -> Option<Geography> {
        let HostPattern::Exact(name) = host else {
            return None;
        };
        let label = name.as_str().split('.').next()?;
        let code = REGION_LABEL.captures(label)?.get(1)?.as_str().to_string();
        REGION_CODES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, geo)| Geography(geo.to_string()))
    }
}

/// The first label of the gateway and AutoIR storage names.
static REGION_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:winatp-gw-|automatedirstrprd)([a-z]{3})(?:[0-9]+[a-z]?)?$")
        .expect("static regex")
});

/// Azure region codes in those names, and the geography each belongs to
/// (as Microsoft's own rows pair them: `winatp-gw-weu` EU, `winatp-gw-aec0a`
/// Azure UAE Central (AEC), ...).
const REGION_CODES: [(&str, &str); 11] = [
    ("cus", "US"),
    ("eus", "US"),
    ("wus", "US"),
    ("weu", "EU"),
    ("neu", "EU"),
    ("uks", "UK"),
    ("ukw", "UK"),
    ("aue", "AU"),
    ("aus", "AU"),
    ("aec", "AEC"),
    ("aen", "AEN"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::parse_pattern;

    #[test]
    fn labels_become_codes() {
        for (cell, code) in [
            ("Azure UAE Central (AEC)", "AEC"),
            ("Azure UAE North (AEN)", "AEN"),
            ("UAE North", "AEN"),
            ("USGov", "US Gov"),
            ("US Gov", "US Gov"),
            ("GCC Mod", "GCC"),
            ("gcc-h", "GCC High"),
            ("eu", "EU"),
            ("Azure Brazil South (BRS)", "BRS"),
            ("Department of Defense (DoD)", "DoD"),
            ("Azure UAE Central (aec)", "AEC"),
            ("Somewhere New", "Somewhere New"),
        ] {
            assert_eq!(Geography::parse(cell).as_str(), code, "{cell}");
        }
    }

    #[test]
    fn groups_cover_their_members_only() {
        let uae = Geography::parse("UAE");
        assert!(uae.covers(&Geography::parse("AEC")));
        assert!(uae.covers(&Geography::parse("Azure UAE North (AEN)")));
        assert!(!uae.covers(&Geography::parse("AU")));
        assert!(!Geography::parse("AEC").covers(&uae));
        assert!(!Geography::parse("AU").covers(&Geography::parse("AEC")));
    }

    #[test]
    fn host_names_imply_regions() {
        let implied =
            |h: &str| Geography::implied_by(&parse_pattern(h).expect("valid")).map(|g| g.0);
        assert_eq!(
            implied("winatp-gw-aec0a.microsoft.com").as_deref(),
            Some("AEC")
        );
        assert_eq!(
            implied("automatedirstrprdaen0a.blob.core.windows.net").as_deref(),
            Some("AEN")
        );
        assert_eq!(
            implied("winatp-gw-neu3.microsoft.com").as_deref(),
            Some("EU")
        );
        assert_eq!(
            implied("automatedirstrprdaus.blob.core.windows.net").as_deref(),
            Some("AU")
        );
        assert_eq!(implied("winatp-gw-xyz.microsoft.com"), None);
        assert_eq!(implied("*.blob.core.windows.net"), None);
        assert_eq!(implied("ussus1eastprod.blob.core.windows.net"), None);
    }
}
