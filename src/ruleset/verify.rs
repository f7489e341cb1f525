//! The `[verify]` table: probe URLs a site adds to the built-in ones.
//!
//! Probe URLs the site adds to the built-in ones (for a wildcard Microsoft
//! names no host under, or a host whose root answers something else), read
//! by `egressgen verify`.

use serde::Deserialize;

use crate::values::HostText;
use crate::values::ProbeUrl;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySettings {
    #[serde(default)]
    pub probes: Vec<ProbeSetting>,
}

/// `[[verify.probes]]`: the URL to probe for one policy entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSetting {
    /// The entry's pattern as the policy writes it (`*.x.com`, `x.com`).
    pub host: HostText,
    /// A URL on a host the pattern admits.
    pub url: ProbeUrl,
    /// Statuses that mean the origin answered as it should; default
    /// 200, 400 and 404, as Microsoft's client analyzer counts them.
    #[serde(default)]
    pub expect: Vec<HttpStatus>,
}

/// An HTTP status code, 100-599.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct HttpStatus(pub u16);

impl TryFrom<i64> for HttpStatus {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        u16::try_from(v)
            .ok()
            .filter(|s| (100..600).contains(s))
            .map(HttpStatus)
            .ok_or_else(|| format!("status {v} is not 100-599"))
    }
}
