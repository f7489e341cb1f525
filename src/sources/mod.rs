//! Readers, one per kind of input. Each returns a [`Catalog`] of its own
//! file; [`read_sources`] concatenates them.

pub mod builtin;
pub mod learn_table;
pub mod m365;
pub mod mde_workbook;
pub mod service_tags;
pub mod table;
pub mod tls_guidance;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{Catalog, SourceInfo, SourceKind};
use crate::normalize::prefix::PrefixRules;
use table::Collected;

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
}

impl ReadOptions {
    /// Refuses tag names that are not identifiers before anything is read.
    pub fn check(&self) -> Result<()> {
        match self
            .extra_tags
            .iter()
            .find(|t| !service_tags::valid_tag_name(t))
        {
            Some(bad) => Err(Error::BadTagName(bad.clone())),
            None => Ok(()),
        }
    }
}

/// A file read into memory, with its identity.
pub struct SourceFile {
    pub path: PathBuf,
    /// File name without directories: what provenance shows.
    pub name: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl SourceFile {
    pub fn load(path: &Path, limit: u64, kind: &'static str) -> Result<Self> {
        use crate::input::{ReadError, read_limited};
        let bytes = read_limited(path, limit).map_err(|e| match e {
            ReadError::Io(source) => Error::Io {
                path: path.to_path_buf(),
                source,
            },
            ReadError::NotRegular(what) => Error::NotRegular {
                path: path.to_path_buf(),
                what,
            },
            ReadError::TooLarge { size, limit } => Error::TooLarge {
                path: path.to_path_buf(),
                size,
                limit,
                kind,
            },
        })?;
        Ok(Self::from_bytes(path, bytes))
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Self {
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        SourceFile {
            path: path.to_path_buf(),
            name,
            bytes,
            sha256,
        }
    }

    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.bytes).map_err(|e| Error::NotText {
            path: self.path.clone(),
            detail: e.to_string(),
        })
    }
}

/// Builds a one-source catalog from what a reader collected.
pub(crate) fn finish_source(src: &SourceFile, kind: SourceKind, collected: Collected) -> Catalog {
    Catalog {
        sources: vec![SourceInfo {
            file: src.name.clone(),
            kind,
            sha256: Some(src.sha256.clone()),
            version: None,
            layout: None,
            cloud: None,
            change_number: None,
            tags: Vec::new(),
            reference: None,
        }],
        endpoints: collected.endpoints,
        tag_refs: collected.tag_refs,
        rejected: collected.rejected,
        notes: collected.notes,
        ..Catalog::default()
    }
}

/// Reads one `--source` argument: a file path, `builtin:mma`,
/// `builtin:mdi`, `builtin:tls-guidance`, or `baseline`. A URL is refused: the network is only
/// for `refresh`.
pub fn read_source(spec: &str, opts: &ReadOptions) -> Result<Catalog> {
    match spec {
        "baseline" => crate::baseline::load(),
        "builtin:mma" => Ok(builtin::mma()),
        "builtin:mdi" => Ok(builtin::mdi()),
        tls_guidance::FILE => Ok(tls_guidance::catalog()),
        s if s.starts_with("builtin:") => Err(Error::UnknownBuiltin(s.to_string())),
        s if is_url(s) => Err(Error::UrlSource(crate::normalize::text::display_escape(s))),
        path => read_file(Path::new(path), opts),
    }
}

/// `https://...` or `http://...`: fetched by `refresh`, never read here.
pub fn is_url(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Reads the given sources, in order, into one catalog, which always
/// carries this binary's TLS guidance.
pub fn read_sources<S: AsRef<str>>(specs: &[S], opts: &ReadOptions) -> Result<Catalog> {
    opts.check()?;
    let mut catalog = Catalog::default();
    for spec in specs {
        catalog.extend(read_source(spec.as_ref(), opts)?);
    }
    Ok(tls_guidance::with_current(catalog))
}

/// Reads a file. The extension says what the file claims to be; the
/// content must then be that, or the error says so. Files without a known
/// extension are recognized by content.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<Catalog> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" | "xlsm" => mde_workbook::read(&SourceFile::load(path, MAX_XLSX, "a workbook")?),
        "md" | "markdown" => learn_table::read(&SourceFile::load(path, MAX_MARKDOWN, "Markdown")?),
        "json" => read_json(&SourceFile::load(path, MAX_JSON, "JSON")?, opts),
        _ => {
            let src = SourceFile::load(path, MAX_JSON, "a source file")?;
            if src.bytes.starts_with(b"PK") {
                mde_workbook::read(&src)
            } else if src
                .bytes
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| matches!(b, b'{' | b'['))
            {
                read_json(&src, opts)
            } else if src
                .text()
                .is_ok_and(|t| t.contains("|-") || t.contains("| -"))
            {
                learn_table::read(&src)
            } else {
                Err(Error::UnknownSource {
                    path: path.to_path_buf(),
                    detail: "expected an .xlsx workbook, a Markdown table, or service-tag / Microsoft 365 JSON".to_string(),
                })
            }
        }
    }
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
