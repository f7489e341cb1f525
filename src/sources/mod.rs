//! Readers, one per kind of input, each into a catalog of its own file.
//!
//! [`read_source`] reads one [`SourceSpec`] into a [`Catalog`];
//! [`with_builtin_facts`] adds this binary's own facts. Commands load
//! catalogs through `crate::generate::SourceCache`, which reads each
//! source once per run.

pub mod baseline;
pub mod builtin;
pub mod catalog_json;
pub mod catalog_text;
pub mod file;
pub mod fqdn_tags;
pub mod learn_table;
pub mod live;
pub mod m365;
pub mod mde_workbook;
pub mod service_tags;
pub mod spec;
pub mod table;
pub mod tag_hosts;
pub mod tls_guidance;

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::Catalog;
use crate::model::prefix::PrefixRules;
pub use file::SourceFile;
pub use spec::{Builtin, SourceSpec};

/// Per-kind size limits: far above any real file, low enough that a
/// hostile one cannot exhaust memory.
const MAX_XLSX: u64 = 64 * 1024 * 1024;
const MAX_JSON: u64 = 256 * 1024 * 1024;
const MAX_MARKDOWN: u64 = 16 * 1024 * 1024;

/// Choices that apply while reading.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Service tags to select beyond the default Defender ones.
    pub extra_tags: Vec<String>,
    pub prefix_rules: PrefixRules,
    /// A table whose header is not recognised but which holds host names
    /// is skipped with a catalog note instead of failing the read.
    pub skip_unknown_tables: bool,
}

impl ReadOptions {
    /// Refuses tag names that are not identifiers before anything is read.
    pub fn check(&self) -> Result<()> {
        match self
            .extra_tags
            .iter()
            .find(|t| !crate::model::valid_tag_name(t))
        {
            Some(bad) => Err(Error::BadTagName(bad.clone())),
            None => Ok(()),
        }
    }
}

/// Reads one source. A URL is refused: only `refresh` fetches, and it
/// hands the body to [`read_body`].
pub fn read_source(spec: &SourceSpec, opts: &ReadOptions) -> Result<Catalog> {
    match spec {
        SourceSpec::Baseline => baseline::load(),
        SourceSpec::Builtin(Builtin::Mma) => Ok(builtin::mma()),
        SourceSpec::Builtin(Builtin::Mdi) => Ok(builtin::mdi()),
        SourceSpec::Builtin(Builtin::TlsGuidance) => Ok(tls_guidance::catalog()),
        SourceSpec::Builtin(Builtin::TagHosts) => Ok(tag_hosts::catalog()),
        SourceSpec::Builtin(Builtin::FqdnTags) => Ok(fqdn_tags::catalog()),
        SourceSpec::Url(url) => Err(Error::UrlSource(crate::model::text::display_escape(url))),
        SourceSpec::Live(live) => Err(Error::LiveSource(live.to_string())),
        SourceSpec::Path(path) => read_file(path, opts),
    }
}

/// Reads the given sources, in order, into one catalog, which always
/// carries this binary's TLS guidance.
fn read_sources(specs: &[SourceSpec], opts: &ReadOptions) -> Result<Catalog> {
    opts.check()?;
    let mut catalog = Catalog::default();
    for spec in specs {
        catalog.extend(read_source(spec, opts)?);
    }
    Ok(with_builtin_facts(catalog))
}

/// Joins this binary's own facts to a catalog: the TLS guidance and the
/// service-tag hosts, each once, with its provenance.
pub fn with_builtin_facts(catalog: Catalog) -> Catalog {
    tag_hosts::with_current(tls_guidance::with_current(catalog))
}

/// Reads a file. The extension says what the file claims to be; the
/// content must then be that, or the error says so. Files without a known
/// extension are recognized by content.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<Catalog> {
    let (limit, what) = size_limit(path);
    read_body(SourceFile::load(path, limit, what)?, opts)
}

/// The largest file of the kind `path` names that is read, and the kind
/// in words.
fn size_limit(path: &Path) -> (u64, &'static str) {
    match extension(path).as_str() {
        "xlsx" | "xlsm" => (MAX_XLSX, "a workbook"),
        "md" | "markdown" => (MAX_MARKDOWN, "Markdown"),
        "json" => (MAX_JSON, "JSON"),
        _ => (MAX_JSON, "a source file"),
    }
}

/// Reads bytes already in memory (a downloaded body, say) as the file its
/// path names, with the same checks as [`read_file`]; nothing is written
/// anywhere, so a body can be vetted before it is published.
pub fn read_body(src: SourceFile, opts: &ReadOptions) -> Result<Catalog> {
    // A body fetched by `refresh` meets the limit a file of its kind
    // meets in `generate`: what refresh publishes, generate can read.
    let (limit, kind) = size_limit(&src.path);
    let size = src.bytes.len() as u64;
    if size > limit {
        return Err(Error::TooLarge {
            path: src.path.clone(),
            size,
            limit,
            kind,
        });
    }
    match extension(&src.path).as_str() {
        "xlsx" | "xlsm" => mde_workbook::read(&src, opts),
        "md" | "markdown" => learn_table::read(&src, opts),
        "json" => read_json(&src, opts),
        _ if src.bytes.starts_with(b"PK") => mde_workbook::read(&src, opts),
        _ if src
            .bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'{' | b'[')) =>
        {
            read_json(&src, opts)
        }
        _ if src
            .text()
            .is_ok_and(|t| t.contains("|-") || t.contains("| -")) =>
        {
            learn_table::read(&src, opts)
        }
        _ => Err(Error::UnknownSource {
            path: src.path.clone(),
            detail:
                "expected an .xlsx workbook, a Markdown table, or service-tag / Microsoft 365 JSON"
                    .to_string(),
        }),
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Service-tag JSON is an object with `values`; the M365 web service
/// answers with an array of endpoint sets.
fn read_json(src: &SourceFile, opts: &ReadOptions) -> Result<Catalog> {
    let first = src.bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'[') => m365::read(src, opts),
        _ => service_tags::read(src, opts),
    }
}
