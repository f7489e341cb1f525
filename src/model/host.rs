//! Host names and wildcard patterns: the types, and the rules every name passes.
//!
//! The types, and the rules every name passes before one exists (a
//! [`DnsName`] cannot be built unchecked, also when a catalog or policy is
//! read back from JSON).
//!
//! Rules, in the order they are checked:
//! - only letters, digits, hyphens and dots, or non-ASCII letters that IDNA
//!   (UTS #46, STD3 rules) turns into punycode; no control or invisible
//!   characters;
//! - a label may not mix scripts (Latin with Cyrillic, say): that is how
//!   look-alike names are built. The usual CJK mixes are allowed;
//! - labels of 1 to 63 characters, not starting or ending with a hyphen, a
//!   name of at most 253 characters, at least two labels, a top-level label
//!   that is not numeric (so no IP literals);
//! - a wildcard only as a leading `*.` (subdomains) or a leading `*`
//!   (suffix glob), never inside a name, never alone, never at or above a
//!   public suffix of the ICANN section of the Public Suffix List (`*.com`,
//!   `*.co.uk`). Private-section suffixes such as `blob.core.windows.net`
//!   are where Microsoft's own wildcards live, so they are allowed.

use unicode_script::{Script, UnicodeScript};

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::text::is_invisible;

/// A validated DNS name: lower-case ASCII (IDNA/punycode), no trailing dot,
/// at least two labels, labels of at most 63 and a name of at most 253
/// characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DnsName(String);

impl DnsName {
    /// Validates `text` as a host name (IDNA applied).
    pub fn parse(text: &str) -> Result<Self, HostError> {
        parse_dns_name(text)
    }

    /// Wraps a name that [`parse_dns_name`] has already checked.
    pub(crate) fn from_checked(name: String) -> Self {
        DnsName(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` equals this name or lies below it.
    pub fn covers(&self, other: &DnsName) -> bool {
        other.0 == self.0 || other.is_below(self)
    }

    /// Whether this name lies strictly below `parent`.
    pub fn is_below(&self, parent: &DnsName) -> bool {
        self.0.len() > parent.0.len()
            && self.0.ends_with(parent.0.as_str())
            && self.0.as_bytes()[self.0.len() - parent.0.len() - 1] == b'.'
    }
}

impl TryFrom<String> for DnsName {
    type Error = HostError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let name = DnsName::parse(&value)?;
        // A stored catalog must already be in canonical form; anything
        // else means it was edited by hand or produced by another tool.
        if name.0 != value {
            return Err(HostError::NotCanonical(value));
        }
        Ok(name)
    }
}

impl From<DnsName> for String {
    fn from(value: DnsName) -> Self {
        value.0
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a site fills in for a placeholder in a template host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placeholder {
    /// A Log Analytics workspace ID (a GUID), for the MMA endpoints.
    WorkspaceId,
    /// A Defender for Identity instance (workspace) name.
    Instance,
}

impl Placeholder {
    pub fn token(self) -> &'static str {
        match self {
            Placeholder::WorkspaceId => "<workspace-id>",
            Placeholder::Instance => "<instance>",
        }
    }
}

/// A host with a placeholder: `<placeholder><label_suffix>.<domain>`, for
/// example `<workspace-id>.ods.opinsights.azure.com` or
/// `<instance>sensorapi.atp.azure.com`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Template {
    pub placeholder: Placeholder,
    /// Text glued to the placeholder inside the same label (`sensorapi`).
    pub label_suffix: String,
    pub domain: DnsName,
    /// The wildcard Microsoft publishes for sites that do not fill the
    /// placeholder in: `*.<fallback>`.
    pub fallback: DnsName,
}

/// The host part of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// That host only.
    Exact(DnsName),
    /// `*.name` as Microsoft writes it: any host below `name`, not `name`.
    Subdomains(DnsName),
    /// `name` and every host below it.
    Domain(DnsName),
    /// `*name` without a dot after the star: any host whose name ends with
    /// the text `name` (`*smartscreen.microsoft.com` also matches
    /// `foosmartscreen.microsoft.com`). Kept as written, never widened.
    SuffixGlob(DnsName),
    /// A host with a placeholder the site must fill in.
    Template(Template),
}

impl HostPattern {
    /// A short stable name of the kind, as used in JSON and CSV.
    pub fn kind(&self) -> &'static str {
        match self {
            HostPattern::Exact(_) => "exact",
            HostPattern::Subdomains(_) => "subdomains",
            HostPattern::Domain(_) => "domain",
            HostPattern::SuffixGlob(_) => "suffix-glob",
            HostPattern::Template(_) => "template",
        }
    }

    /// The DNS name the pattern is anchored on.
    pub fn name(&self) -> &DnsName {
        match self {
            HostPattern::Exact(n)
            | HostPattern::Subdomains(n)
            | HostPattern::Domain(n)
            | HostPattern::SuffixGlob(n) => n,
            HostPattern::Template(t) => &t.domain,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(n) => write!(f, "{n}"),
            HostPattern::Subdomains(n) => write!(f, "*.{n}"),
            HostPattern::Domain(n) => write!(f, ".{n}"),
            HostPattern::SuffixGlob(n) => write!(f, "*{n}"),
            HostPattern::Template(t) => write!(
                f,
                "{}{}.{}",
                t.placeholder.token(),
                t.label_suffix,
                t.domain
            ),
        }
    }
}

/// JSON form of a [`HostPattern`]: the pattern as text plus its parts, so a
/// reader never has to parse the text.
#[derive(Serialize, Deserialize)]
struct HostRepr {
    pattern: String,
    kind: String,
    name: DnsName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    placeholder: Option<Placeholder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fallback: Option<DnsName>,
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (placeholder, label_suffix, fallback) = match self {
            HostPattern::Template(t) => (
                Some(t.placeholder),
                Some(t.label_suffix.clone()),
                Some(t.fallback.clone()),
            ),
            _ => (None, None, None),
        };
        HostRepr {
            pattern: self.to_string(),
            kind: self.kind().to_string(),
            name: self.name().clone(),
            placeholder,
            label_suffix,
            fallback,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let repr = HostRepr::deserialize(d)?;
        let pattern = match repr.kind.as_str() {
            "exact" => HostPattern::Exact(repr.name),
            "subdomains" => HostPattern::Subdomains(repr.name),
            "domain" => HostPattern::Domain(repr.name),
            "suffix-glob" => HostPattern::SuffixGlob(repr.name),
            "template" => {
                let label_suffix = repr.label_suffix.unwrap_or_default();
                if !label_suffix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return Err(D::Error::custom("template label_suffix is not LDH"));
                }
                HostPattern::Template(Template {
                    placeholder: repr
                        .placeholder
                        .ok_or_else(|| D::Error::custom("template without placeholder"))?,
                    label_suffix,
                    domain: repr.name,
                    fallback: repr
                        .fallback
                        .ok_or_else(|| D::Error::custom("template without fallback"))?,
                })
            }
            other => return Err(D::Error::custom(format!("unknown host kind {other:?}"))),
        };
        check_pattern(&pattern).map_err(D::Error::custom)?;
        if pattern.to_string() != repr.pattern {
            return Err(D::Error::custom(format!(
                "pattern {:?} does not match its parts ({pattern})",
                repr.pattern
            )));
        }
        Ok(pattern)
    }
}

const MAX_LABEL: usize = 63;
const MAX_NAME: usize = 253;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("empty host name")]
    Empty,
    #[error("a lone `*` would match every host")]
    BareWildcard,
    #[error("wildcard inside a name: only a leading `*.` or `*` is supported")]
    InnerWildcard,
    #[error("character {0:?} is not allowed in a host name")]
    BadChar(char),
    #[error("not a valid internationalized host name ({0})")]
    Idna(String),
    #[error("label {label:?} mixes scripts ({scripts}): a look-alike name")]
    MixedScript { label: String, scripts: String },
    #[error("a label is longer than 63 characters")]
    LabelTooLong,
    #[error("name is longer than 253 characters")]
    NameTooLong,
    #[error("empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("a label starts or ends with a hyphen")]
    Hyphen,
    #[error("single-label name: a public host needs a domain")]
    SingleLabel,
    #[error("an IP address literal, not a host name")]
    IpLiteral,
    #[error("wildcard at or above the public suffix {0:?}")]
    WildcardAtPublicSuffix(String),
    #[error("suffix glob crosses into other domains ({0:?} is a public suffix)")]
    GlobAcrossSuffix(String),
    #[error("{0:?} is a public suffix, not a host")]
    PublicSuffix(String),
    #[error("template fallback *.{fallback} does not cover {domain}")]
    TemplateFallback { domain: String, fallback: String },
    #[error("{0:?} is not in canonical form (lower-case punycode)")]
    NotCanonical(String),
}

impl HostError {
    /// Stable code for reports.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::Empty => "empty",
            HostError::BareWildcard => "bare-wildcard",
            HostError::InnerWildcard => "inner-wildcard",
            HostError::BadChar(_) => "bad-character",
            HostError::Idna(_) => "idna",
            HostError::MixedScript { .. } => "mixed-script",
            HostError::LabelTooLong => "label-too-long",
            HostError::NameTooLong => "name-too-long",
            HostError::EmptyLabel => "empty-label",
            HostError::Hyphen => "hyphen",
            HostError::SingleLabel => "single-label",
            HostError::IpLiteral => "ip-literal",
            HostError::WildcardAtPublicSuffix(_) => "wildcard-at-public-suffix",
            HostError::GlobAcrossSuffix(_) => "glob-across-suffix",
            HostError::PublicSuffix(_) => "public-suffix",
            HostError::TemplateFallback { .. } => "template-fallback",
            HostError::NotCanonical(_) => "not-canonical",
        }
    }
}

/// Parses one host as written in a source (`*.x`, `*x`, `.x`, `x`).
pub fn parse_pattern(text: &str) -> Result<HostPattern, HostError> {
    if text == "*" || text == "*." {
        return Err(HostError::BareWildcard);
    }
    let pattern = if let Some(rest) = text.strip_prefix("*.") {
        HostPattern::Subdomains(wildcard_base(rest)?)
    } else if let Some(rest) = text.strip_prefix('*') {
        HostPattern::SuffixGlob(glob_base(rest)?)
    } else if let Some(rest) = text.strip_prefix('.') {
        HostPattern::Domain(wildcard_base(rest)?)
    } else {
        let name = parse_dns_name(text)?;
        if is_public_suffix(name.as_str()) {
            return Err(HostError::PublicSuffix(name.to_string()));
        }
        HostPattern::Exact(name)
    };
    Ok(pattern)
}

/// Re-checks a pattern built from parts (a catalog read back from JSON).
pub fn check_pattern(pattern: &HostPattern) -> Result<(), HostError> {
    match pattern {
        HostPattern::Exact(n) if is_public_suffix(n.as_str()) => {
            Err(HostError::PublicSuffix(n.to_string()))
        }
        HostPattern::Subdomains(n) | HostPattern::Domain(n) if is_public_suffix(n.as_str()) => {
            Err(HostError::WildcardAtPublicSuffix(n.to_string()))
        }
        HostPattern::SuffixGlob(n) => glob_base(n.as_str()).map(|_| ()),
        HostPattern::Template(t) => {
            if is_public_suffix(t.fallback.as_str()) {
                return Err(HostError::WildcardAtPublicSuffix(t.fallback.to_string()));
            }
            if !t.domain.is_below(&t.fallback) && t.domain != t.fallback {
                return Err(HostError::TemplateFallback {
                    domain: t.domain.to_string(),
                    fallback: t.fallback.to_string(),
                });
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The name under a `*.` or `.`: it must be below a public suffix.
fn wildcard_base(rest: &str) -> Result<DnsName, HostError> {
    let ascii = to_ascii_checked(rest)?;
    if is_public_suffix(&ascii) {
        return Err(HostError::WildcardAtPublicSuffix(ascii));
    }
    finish(ascii)
}

/// The text after a bare `*`: the part after its first label must itself
/// be below a public suffix, or `*microsoft.com` would admit
/// `evilmicrosoft.com`.
fn glob_base(rest: &str) -> Result<DnsName, HostError> {
    let ascii = to_ascii_checked(rest)?;
    let parent = ascii.split_once('.').map(|(_, p)| p).unwrap_or("");
    if parent.is_empty() || is_public_suffix(parent) {
        return Err(HostError::GlobAcrossSuffix(if parent.is_empty() {
            ascii
        } else {
            parent.to_string()
        }));
    }
    finish(ascii)
}

/// Validates a plain host name (no wildcard) and returns it in canonical
/// form. Does not look at the public-suffix list.
pub fn parse_dns_name(text: &str) -> Result<DnsName, HostError> {
    finish(to_ascii_checked(text)?)
}

fn finish(ascii: String) -> Result<DnsName, HostError> {
    if !ascii.contains('.') {
        return Err(HostError::SingleLabel);
    }
    Ok(DnsName::from_checked(ascii))
}

/// Everything but the label-count and public-suffix rules.
fn to_ascii_checked(text: &str) -> Result<String, HostError> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Err(HostError::Empty);
    }
    if text.contains('*') {
        return Err(HostError::InnerWildcard);
    }
    if let Some(bad) = text.chars().find(|&c| !allowed_input_char(c)) {
        return Err(HostError::BadChar(bad));
    }
    let ascii = if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(text).map_err(|e| HostError::Idna(e.to_string()))?
    };
    check_structure(&ascii)?;
    check_scripts(&ascii)?;
    Ok(ascii)
}

fn allowed_input_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '-' || c == '.'
    } else {
        !(c.is_control() || c.is_whitespace() || is_invisible(c))
    }
}

fn check_structure(ascii: &str) -> Result<(), HostError> {
    if ascii.len() > MAX_NAME {
        return Err(HostError::NameTooLong);
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(HostError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(HostError::LabelTooLong);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostError::Hyphen);
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(HostError::BadChar(bad));
        }
    }
    // A numeric (or hex) last label makes the name an IPv4 literal for URL
    // parsers (`127.1`, `0x7f.1`), never a DNS host.
    let tld = ascii.rsplit('.').next().unwrap_or("");
    let hex = tld
        .strip_prefix("0x")
        .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    if tld.chars().all(|c| c.is_ascii_digit()) || hex {
        return Err(HostError::IpLiteral);
    }
    Ok(())
}

/// Rejects labels that mix scripts, after decoding punycode.
fn check_scripts(ascii: &str) -> Result<(), HostError> {
    if !ascii.contains("xn--") {
        return Ok(());
    }
    let (unicode, result) = idna::domain_to_unicode(ascii);
    result.map_err(|e| HostError::Idna(e.to_string()))?;
    for label in unicode.split('.') {
        let mut scripts: Vec<Script> = Vec::new();
        for script in label.chars().map(|c| c.script()) {
            let neutral = matches!(script, Script::Common | Script::Inherited | Script::Unknown);
            if !neutral && !scripts.contains(&script) {
                scripts.push(script);
            }
        }
        if !allowed_script_mix(&scripts) {
            return Err(HostError::MixedScript {
                label: label.to_string(),
                scripts: scripts
                    .iter()
                    .map(|s| s.full_name())
                    .collect::<Vec<_>>()
                    .join("+"),
            });
        }
    }
    Ok(())
}

/// One script per label, or one of the mixes that CJK writing needs
/// (the "highly restrictive" profile of Unicode TR #39).
fn allowed_script_mix(scripts: &[Script]) -> bool {
    if scripts.len() <= 1 {
        return true;
    }
    let allowed: [&[Script]; 3] = [
        &[
            Script::Latin,
            Script::Han,
            Script::Hiragana,
            Script::Katakana,
        ],
        &[Script::Latin, Script::Han, Script::Bopomofo],
        &[Script::Latin, Script::Han, Script::Hangul],
    ];
    allowed
        .iter()
        .any(|set| scripts.iter().all(|s| set.contains(s)))
}

/// Whether `name` is a public suffix of the ICANN section (or an unknown
/// top-level name, which the list's default rule treats as one).
pub fn is_public_suffix(name: &str) -> bool {
    if !name.contains('.') {
        return true;
    }
    match psl::suffix(name.as_bytes()) {
        None => true,
        Some(suffix) if suffix.as_bytes() == name.as_bytes() => {
            suffix.typ() != Some(psl::Type::Private)
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        let p = parse_pattern(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        format!("{}:{p}", p.kind())
    }

    fn err(text: &str) -> &'static str {
        parse_pattern(text)
            .map(|p| panic!("{text} accepted as {p}"))
            .unwrap_err()
            .code()
    }

    #[test]
    fn accepts_microsoft_forms() {
        assert_eq!(
            ok("winatp-gw-cus.microsoft.com"),
            "exact:winatp-gw-cus.microsoft.com"
        );
        assert_eq!(ok("*.wns.windows.com"), "subdomains:*.wns.windows.com");
        assert_eq!(
            ok("*smartscreen.microsoft.com"),
            "suffix-glob:*smartscreen.microsoft.com"
        );
        assert_eq!(
            ok("*.blob.core.windows.net"),
            "subdomains:*.blob.core.windows.net"
        );
        assert_eq!(
            ok("Events.Data.Microsoft.COM."),
            "exact:events.data.microsoft.com"
        );
        assert_eq!(ok(".microsoft.com"), "domain:.microsoft.com");
        assert_eq!(
            ok("*.usgovcloud.microsoft"),
            "subdomains:*.usgovcloud.microsoft"
        );
    }

    #[test]
    fn idn_becomes_punycode() {
        assert_eq!(ok("bücher.example"), "exact:xn--bcher-kva.example");
        assert_eq!(ok("xn--bcher-kva.example"), "exact:xn--bcher-kva.example");
    }

    #[test]
    fn rejects_look_alikes_and_bad_syntax() {
        // Cyrillic "о" in a Latin label.
        assert_eq!(err("micr\u{043e}soft.com"), "mixed-script");
        let puny = idna::domain_to_ascii("micr\u{043e}soft.com").unwrap();
        assert!(puny.starts_with("xn--"));
        assert_eq!(err(&puny), "mixed-script");
        assert_eq!(err("a..b.com"), "empty-label");
        assert_eq!(err("-a.com"), "hyphen");
        assert_eq!(err("a_b.com"), "bad-character");
        assert_eq!(err("x.com\""), "bad-character");
        assert_eq!(err("<"), "bad-character");
        assert_eq!(err("a&b.com"), "bad-character");
        assert_eq!(err("a\u{0}b.com"), "bad-character");
        assert_eq!(err("a\u{200b}b.com"), "bad-character");
        assert_eq!(err("allow"), "single-label");
        assert_eq!(err("localhost"), "single-label");
        assert_eq!(err("127.0.0.1"), "ip-literal");
        assert_eq!(err("0x7f.1"), "ip-literal");
        assert_eq!(err(&format!("{}.com", "a".repeat(64))), "label-too-long");
        let long = ["abcdefghij"; 28].join(".");
        assert_eq!(err(&long), "name-too-long");
    }

    #[test]
    fn rejects_dangerous_wildcards() {
        assert_eq!(err("*"), "bare-wildcard");
        assert_eq!(err("*.com"), "wildcard-at-public-suffix");
        assert_eq!(err("*.co.uk"), "wildcard-at-public-suffix");
        assert_eq!(err(".com"), "wildcard-at-public-suffix");
        assert_eq!(err("autodiscover.*.onmicrosoft.com"), "inner-wildcard");
        assert_eq!(err("*.*.microsoft.com"), "inner-wildcard");
        assert_eq!(err("*microsoft.com"), "glob-across-suffix");
        assert_eq!(err("co.uk"), "public-suffix");
    }

    #[test]
    fn public_suffix_uses_icann_section_only() {
        assert!(is_public_suffix("co.uk"));
        assert!(is_public_suffix("com"));
        assert!(!is_public_suffix("blob.core.windows.net"));
        assert!(!is_public_suffix("microsoft.com"));
    }
}
