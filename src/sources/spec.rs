//! What a `--source` argument or a ruleset's source entry names, parsed once.
//!
//! What a `--source` argument or a ruleset's `sources.files` entry names,
//! parsed once: the built-in baseline, one of our built-in tables, a file,
//! a live source (`live:NAME`, which only `refresh` fetches), or a URL
//! (refused, with a pointer to the live names).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Our own tables, compiled into the binary with their provenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Builtin {
    /// The Monitoring Agent's wildcard table, with workspace placeholders.
    Mma,
    /// Defender for Identity's instance URLs.
    Mdi,
    /// Microsoft's TLS-inspection guidance (joins every catalog).
    TlsGuidance,
    /// Which service tag stands for which host pattern (joins every
    /// catalog).
    TagHosts,
    /// Which hosts each Azure Firewall FQDN tag is documented to hold
    /// (read by the Azure Firewall reader, shown by `catalog`).
    FqdnTags,
}

impl Builtin {
    pub const ALL: [Builtin; 5] = [
        Builtin::Mma,
        Builtin::Mdi,
        Builtin::TlsGuidance,
        Builtin::TagHosts,
        Builtin::FqdnTags,
    ];

    /// The spec and the `file` its provenance shows: `builtin:mma`.
    pub const fn spec(self) -> &'static str {
        match self {
            Builtin::Mma => "builtin:mma",
            Builtin::Mdi => "builtin:mdi",
            Builtin::TlsGuidance => "builtin:tls-guidance",
            Builtin::TagHosts => "builtin:tag-hosts",
            Builtin::FqdnTags => "builtin:fqdn-tags",
        }
    }
}

/// One source, as named by a user.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceSpec {
    /// The catalog embedded in the binary (`baseline`).
    Baseline,
    Builtin(Builtin),
    /// A file: workbook, Markdown table, service-tag or Microsoft 365 JSON.
    Path(PathBuf),
    /// `https://…` or `http://…`: refused with a pointer to `live:`.
    Url(String),
    /// `live:NAME`: one of Microsoft's live sources, fetched by `refresh`.
    Live(super::live::Live),
}

impl SourceSpec {
    /// Parses a spec; an unknown `builtin:` name is an error that lists
    /// the known ones.
    pub fn parse(text: &str) -> Result<SourceSpec> {
        if text == "baseline" {
            return Ok(SourceSpec::Baseline);
        }
        if text.starts_with("builtin:") {
            return Builtin::ALL
                .into_iter()
                .find(|b| b.spec() == text)
                .map(SourceSpec::Builtin)
                .ok_or_else(|| Error::UnknownBuiltin {
                    spec: crate::model::text::display_escape(text),
                    known: known(),
                });
        }
        if let Some(name) = text.strip_prefix("live:") {
            return super::live::Live::parse(name)
                .map(SourceSpec::Live)
                .map_err(Error::UnknownLive);
        }
        let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return Ok(SourceSpec::Url(text.to_string()));
        }
        Ok(SourceSpec::Path(PathBuf::from(text)))
    }

    /// The file a user named, if this spec is one: what `generate` must
    /// never overwrite.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SourceSpec::Path(p) => Some(p),
            _ => None,
        }
    }

    /// A relative path taken against `base` (a ruleset's directory); other
    /// specs unchanged.
    pub fn relative_to(&self, base: &Path) -> SourceSpec {
        match self {
            SourceSpec::Path(p) if p.is_relative() => SourceSpec::Path(base.join(p)),
            other => other.clone(),
        }
    }
}

fn known() -> String {
    let mut names = vec!["baseline"];
    names.extend(Builtin::ALL.iter().map(|b| b.spec()));
    names.join(", ")
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Baseline => f.write_str("baseline"),
            SourceSpec::Builtin(b) => f.write_str(b.spec()),
            SourceSpec::Path(p) => write!(f, "{}", p.display()),
            SourceSpec::Url(u) => f.write_str(u),
            SourceSpec::Live(l) => write!(f, "{l}"),
        }
    }
}

impl std::str::FromStr for SourceSpec {
    type Err = Error;
    fn from_str(text: &str) -> Result<SourceSpec> {
        SourceSpec::parse(text)
    }
}

impl<'de> serde::Deserialize<'de> for SourceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SourceSpec::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_once() {
        assert_eq!(SourceSpec::parse("baseline").unwrap(), SourceSpec::Baseline);
        for b in Builtin::ALL {
            assert_eq!(SourceSpec::parse(b.spec()).unwrap(), SourceSpec::Builtin(b));
            assert_eq!(SourceSpec::Builtin(b).to_string(), b.spec());
        }
        assert_eq!(
            SourceSpec::parse("HTTPS://example.com/x.json").unwrap(),
            SourceSpec::Url("HTTPS://example.com/x.json".into())
        );
        assert_eq!(
            SourceSpec::parse("data/x.xlsx")
                .unwrap()
                .relative_to(Path::new("/r")),
            SourceSpec::Path("/r/data/x.xlsx".into())
        );
        assert_eq!(
            SourceSpec::parse("/abs/x.md")
                .unwrap()
                .relative_to(Path::new("/r")),
            SourceSpec::Path("/abs/x.md".into())
        );
        // A file named like a built-in word is still a file.
        assert_eq!(
            SourceSpec::parse("baseline.json").unwrap(),
            SourceSpec::Path("baseline.json".into())
        );
    }

    #[test]
    fn an_unknown_builtin_lists_the_known_ones() {
        let err = SourceSpec::parse("builtin:mme").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown built-in source \"builtin:mme\" (known: baseline, builtin:mma, builtin:mdi, builtin:tls-guidance, builtin:tag-hosts, builtin:fqdn-tags)"
        );
    }
}
