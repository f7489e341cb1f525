//! What every reader shares: a bounded, hashed source file and errors that say where.
//!
//! A source file read into memory (bounded, with its hash), what a reader
//! collects from it, and JSON parsing with errors that say where.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{
    Catalog, Endpoint, Inconsistency, Note, Rejected, SourceInfo, SourceKind, TagRef,
};

/// What reading rows produced.
#[derive(Debug, Default)]
pub struct Collected {
    pub endpoints: Vec<Endpoint>,
    pub rejected: Vec<Rejected>,
    pub tag_refs: Vec<TagRef>,
    pub notes: Vec<Note>,
    pub inconsistencies: Vec<Inconsistency>,
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
        inconsistencies: collected.inconsistencies,
        ..Catalog::default()
    }
}

/// Parses JSON into `T`, with errors that name the line and column, or the
/// JSON path of a value of the wrong type.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(src: &SourceFile) -> Result<T> {
    let bytes = src
        .bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&src.bytes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            Error::JsonShape {
                path: src.path.clone(),
                json_path: json_path(&path),
                detail: inner.to_string(),
            }
        } else {
            Error::Json {
                path: src.path.clone(),
                line: inner.line(),
                column: inner.column(),
                detail: inner.to_string(),
            }
        }
    })?;
    de.end().map_err(|e| Error::Json {
        path: src.path.clone(),
        line: e.line(),
        column: e.column(),
        detail: e.to_string(),
    })?;
    Ok(value)
}

/// `values[3].properties` -> `$.values[3].properties`.
fn json_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        "$".to_string()
    } else if path.starts_with('[') {
        format!("${path}")
    } else {
        format!("$.{path}")
    }
}
