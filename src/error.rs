//! Errors that stop a source file from being read at all.
//!
//! Errors that stop a file from being read at all. Problems with single
//! cells are not errors: they become [`crate::model::Rejected`] entries and
//! the rest of the file is still read.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: {what}, not a regular file: only files are read", path.display())]
    NotRegular { path: PathBuf, what: &'static str },

    #[error("{}: file is {size} bytes or more, above the limit of {limit} bytes for {kind}", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
        kind: &'static str,
    },

    #[error("{}: not an xlsx workbook: {detail}", path.display())]
    NotXlsx { path: PathBuf, detail: String },

    #[error("{}: sheet {sheet:?}: {detail}", path.display())]
    Sheet {
        path: PathBuf,
        sheet: String,
        detail: String,
    },

    #[error("{}: invalid JSON at line {line}, column {column}: {detail}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        detail: String,
    },

    #[error("{}: at {json_path}: {detail}", path.display())]
    JsonShape {
        path: PathBuf,
        json_path: String,
        detail: String,
    },

    #[error("{}: no table with an Endpoint/URL column was found ({detail})", path.display())]
    NoTable { path: PathBuf, detail: String },

    #[error(
        "{}: {place}: a table whose header ({header}) egressgen does not recognise holds host names (first: {example}); its rows would be lost. Report the new header, or pass --skip-unknown-tables to skip such tables with a note",
        path.display()
    )]
    UnknownTable {
        path: PathBuf,
        /// `line 12` or `sheet X, row 5`.
        place: String,
        header: String,
        example: String,
    },

    #[error("{}: not a source egressgen knows: {detail}", path.display())]
    UnknownSource { path: PathBuf, detail: String },

    #[error("{}: not UTF-8 text: {detail}", path.display())]
    NotText { path: PathBuf, detail: String },

    #[error("unknown built-in source \"{spec}\" (known: {known})")]
    UnknownBuiltin { spec: String, known: String },

    #[error("invalid service tag name {0:?}: letters, digits and dots only")]
    BadTagName(String),

    #[error(
        "source {0}: a URL is not a source; name the live source instead (`live:learn-standard-commercial`, `live:service-tags-public`, ...: see `egressgen refresh --help`), which `egressgen refresh` fetches from Microsoft or a configured mirror"
    )]
    UrlSource(String),

    #[error(
        "source {0}: a live source is fetched by `egressgen refresh`, which regenerates this ruleset from it (`refresh --offline` uses the last good copies alone)"
    )]
    LiveSource(String),

    #[error(
        "source {live}: the cache {} holds no copy of it yet: run `egressgen refresh` on this ruleset once (it fetches the live sources), or give the cache refresh fills with --cache DIR or EGRESSGEN_CACHE", cache.display()
    )]
    NotCached { live: String, cache: PathBuf },

    #[error("{0}")]
    Cache(String),

    #[error("{0}")]
    UnknownLive(String),

    #[error("{host:?} is not a host name: {detail}")]
    BadHost { host: String, detail: String },

    #[error("the built-in baseline catalog is damaged: {0}")]
    Baseline(String),
    #[error("{0}")]
    Publish(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
