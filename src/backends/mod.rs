//! Backends: one policy rendered into one format's files, with a loss report.
//!
//! A backend renders one [`Policy`] into the files of one format, with a
//! loss report saying, for every policy entry, how the format expressed it.
//! A backend never reads a Microsoft file and never sees the catalog or the
//! ruleset: it gets the policy, its own settings and the output directory.
//!
//! Each backend is one file (or a folder, when a reader of its format sits
//! beside the renderer) owning its settings, its capabilities ([`caps`], as
//! data), its renderer and its reader, registered on one line of
//! [`registry`]. Host patterns are spelled through [`spelling`], both
//! ways; the loss report line of every entry comes from one classifier
//! ([`loss::plan`]); what a reader produces is the contract in [`reader`].

pub mod azure_firewall;
pub mod caps;
pub mod devices;
pub mod loss;
pub mod nftables;
pub mod pac;
pub mod pfsense;
pub mod plain;
pub mod reader;
pub mod registry;
pub mod spelling;
pub mod squid;
pub mod tls_bypass;

use std::collections::BTreeMap;

use crate::model::text::{display_escape, printable_ascii};
use crate::policy::Policy;
pub use caps::Caps;
pub use loss::{LossEntry, LossReport, Outcome};
pub use registry::{REGISTRY, Row};

/// Files (relative name -> bytes) plus the loss report.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub files: BTreeMap<String, Vec<u8>>,
    pub loss: LossReport,
}

#[derive(Debug, thiserror::Error)]
#[error("{backend}: {message}")]
pub struct BackendError {
    pub backend: &'static str,
    pub message: String,
}

/// A configured output format.
pub trait Backend {
    fn name(&self) -> &'static str;
    /// What the format can express, with these settings.
    fn caps(&self) -> Caps;
    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError>;
}

/// A backend as the registry builds it: from its settings table.
pub trait Registered: Backend + 'static {
    type Settings: serde::de::DeserializeOwned + Clone + std::fmt::Debug;
    const NAME: &'static str;
    /// One line for the README and `--help`.
    const SUMMARY: &'static str;
    /// How `audit` reads a configuration of this format, if it can.
    const READER: Option<reader::Reader> = None;
    fn new(settings: Self::Settings) -> Self;
}

/// An empty loss report of a backend.
pub fn loss_report(backend: &str) -> LossReport {
    LossReport {
        backend: backend.to_string(),
        entries: Vec::new(),
    }
}

/// The host name of a pattern, refused unless it is plain LDH text. The
/// policy only holds validated names; this is the backends' second line
/// of defence, for formats with no escaping (Squid ACL files, lists).
pub fn safe_name<'a>(
    backend: &'static str,
    host: &'a crate::model::HostPattern,
) -> Result<&'a str, BackendError> {
    let name = host.name().as_str();
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(name)
    } else {
        Err(BackendError {
            backend,
            message: format!(
                "refusing host {:?}: not a plain host name",
                display_escape(name)
            ),
        })
    }
}

/// A path prefix, refused unless it holds only the characters the catalog
/// admits.
pub fn safe_path<'a>(backend: &'static str, path: &'a str) -> Result<&'a str, BackendError> {
    // The same rules as a catalog cell: characters, dot segments, and
    // percent escapes that would decode into either.
    let ok = crate::normalize::url_cell::check_path_prefix(path).is_ok();
    if ok {
        Ok(path)
    } else {
        Err(BackendError {
            backend,
            message: format!("refusing path {:?}", display_escape(path)),
        })
    }
}

/// `# ` before each line; the text made printable ASCII.
pub fn comment_block(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("# {}\n", printable_ascii(l)))
        .collect()
}

/// Text for an XML comment: printable ASCII, no `--`, not ending in `-`.
pub fn xml_comment(text: &str) -> String {
    let mut out = printable_ascii(text);
    while out.contains("--") {
        out = out.replace("--", "- -");
    }
    if out.ends_with('-') {
        out.push(' ');
    }
    out
}

/// A one-line summary of where an entry came from, safe inside a comment
/// of any syntax: printable ASCII.
pub fn provenance_comment(provenance: &[crate::model::Provenance]) -> String {
    let first = provenance
        .first()
        .map(|p| printable_ascii(&p.to_string()))
        .unwrap_or_default();
    match provenance.len() {
        0 | 1 => first,
        n => format!("{first} (+{} more)", n - 1),
    }
}

/// Lines every generated file starts with: tool version, ruleset, and the
/// identity of every source. Printable ASCII only, whatever the file names
/// hold (a U+2028 in a name would end a JavaScript comment); each backend
/// adds its comment syntax.
pub fn header_lines(policy: &Policy, what: &str) -> Vec<String> {
    let mut lines = vec![
        format!(
            "{what}, generated by egressgen {}",
            env!("CARGO_PKG_VERSION")
        ),
        format!(
            "ruleset: {} ({})",
            policy.ruleset.name,
            printable_ascii(&policy.ruleset.file)
        ),
    ];
    for s in &policy.sources {
        let mut line = format!("source: {} ({})", printable_ascii(&s.file), s.kind.as_str());
        if let Some(v) = &s.version {
            line.push_str(&format!(" version {}", printable_ascii(v)));
        }
        if let Some(h) = &s.sha256 {
            line.push_str(&format!(" sha256 {h}"));
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod cross_tests;
#[cfg(test)]
mod injection_tests;
