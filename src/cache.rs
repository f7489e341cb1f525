//! The cache of last-known-good sources: records naming bodies stored by their hash.
//!
//! The cache of last-known-good sources. Each source has a record
//! (`records/NAME.json`) naming its current and previous good bodies,
//! which are stored by their SHA-256 under `bodies/`. A body is written
//! first; the record is then replaced atomically, so a kill at any point
//! leaves the old record, whose bodies are still there. Nothing becomes
//! current unless the guards of `refresh` accepted it.
//!
//! The records are the cache's manifest: a body is removed only when a
//! record named it and an update displaced it, no record names it any
//! more, and it is still the regular file of that content. Nothing the
//! cache was never told about is touched (a temporary file of a write in
//! progress, a file someone put there, even one named like a body).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Catalog;
use crate::publish::{sha256_hex, write_file_atomically};
use crate::sources::live::Live;
use crate::sources::{ReadOptions, SourceFile, read_body};

/// What a server said about the version of a body, for the next request.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// One good copy of a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    pub sha256: String,
    /// Where it was fetched from.
    pub url: String,
    #[serde(default)]
    pub validators: Validators,
    /// The source's own version (`changeNumber 373`, a page's date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The service-tag file's top-level changeNumber, which may never go
    /// backwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_number: Option<u64>,
}

/// What the cache holds for one source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Copy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Copy>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache {}: {detail}", path.display())]
    Io { path: PathBuf, detail: String },
    #[error("cache {}: the record names body {sha256}, which is missing or altered", path.display())]
    Body { path: PathBuf, sha256: String },
    #[error("cache {}: the last good copy of {live} no longer reads: {detail}", path.display())]
    Unreadable {
        path: PathBuf,
        live: String,
        detail: String,
    },
    #[error("cache {}: another refresh has held the lock for {wait:?}; try again later", path.display())]
    Locked {
        path: PathBuf,
        wait: std::time::Duration,
    },
}

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens (and creates) a cache directory.
    pub fn open(dir: &Path) -> Result<Cache, CacheError> {
        for sub in ["bodies", "records"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| io(dir, e))?;
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// A cache to read from: nothing is created, and a directory that
    /// does not exist is a cache with no copies.
    pub fn reading(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    /// Where the cache is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last good copy of a live source and its catalog, read by the
    /// same reader that vetted it; `None` when it was never fetched. A
    /// refresh may replace the copy while it is read: the record is then
    /// read again, once.
    pub fn good_copy(
        &self,
        live: Live,
        opts: &ReadOptions,
    ) -> Result<Option<(Copy, Catalog)>, CacheError> {
        let name = live.name();
        let mut tries = 0;
        let (copy, bytes) = loop {
            let Some(copy) = self.record(&name)?.current else {
                return Ok(None);
            };
            match self.body(&copy) {
                Ok(bytes) => break (copy, bytes),
                Err(_) if tries == 0 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let src = SourceFile::from_bytes(Path::new(&live.file_name()), bytes);
        let catalog = read_body(src, opts).map_err(|e| CacheError::Unreadable {
            path: self.body_path(&copy.sha256),
            live: live.to_string(),
            detail: e.to_string(),
        })?;
        Ok(Some((copy, catalog)))
    }

    /// Holds the cache's lock (`lock` in the cache directory) until the
    /// returned file is dropped: two refreshes never interleave their
    /// reads and writes of one cache. Waits up to `wait` for another run.
    pub fn lock(&self, wait: std::time::Duration) -> Result<std::fs::File, CacheError> {
        let path = self.dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(CacheError::Locked { path, wait });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(&path, e)),
            }
        }
    }

    /// The record of `name` (empty when the source was never fetched).
    pub fn record(&self, name: &str) -> Result<Record, CacheError> {
        let path = self.record_path(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// The bytes of a copy, checked against its hash.
    pub fn body(&self, copy: &Copy) -> Result<Vec<u8>, CacheError> {
        let path = self.body_path(&copy.sha256);
        let bytes = crate::input::read_limited(&path, MAX_BODY).map_err(|_| CacheError::Body {
            path: path.clone(),
            sha256: copy.sha256.clone(),
        })?;
        if sha256_hex(&bytes) != copy.sha256 {
            return Err(CacheError::Body {
                path,
                sha256: copy.sha256.clone(),
            });
        }
        Ok(bytes)
    }

    /// Makes `bytes` the current copy of `name`; the current one becomes
    /// the previous. Only for a body the guards accepted.
    pub fn accept(&self, name: &str, bytes: &[u8], mut copy: Copy) -> Result<Record, CacheError> {
        copy.sha256 = sha256_hex(bytes);
        let body = self.body_path(&copy.sha256);
        // An existing file of that name is reused only if it is intact.
        if self.body(&copy).is_err() {
            write_file_atomically(&body, bytes).map_err(|e| io(&body, e))?;
        }
        let old = self.record(name)?;
        let record = Record {
            previous: match old.current.clone() {
                Some(c) if c.sha256 != copy.sha256 => Some(c),
                _ => old.previous.clone(),
            },
            current: Some(copy),
        };
        self.write_record(name, &record)?;
        // The record is written: the body is current. Cleaning up is
        // housekeeping, and its failure must not make it look otherwise.
        let kept: Vec<&String> = record
            .current
            .iter()
            .chain(&record.previous)
            .map(|c| &c.sha256)
            .collect();
        let displaced: Vec<String> = old
            .current
            .into_iter()
            .chain(old.previous)
            .map(|c| c.sha256)
            .filter(|s| !kept.contains(&s))
            .collect();
        if let Err(e) = self.drop_displaced(&displaced) {
            tracing::warn!(error = %e, "cache clean-up skipped");
        }
        Ok(record)
    }

    /// Keeps the current body but records new validators (a 304).
    pub fn touch(&self, name: &str, validators: Validators) -> Result<(), CacheError> {
        let mut record = self.record(name)?;
        if let Some(c) = record.current.as_mut() {
            c.validators = validators;
            self.write_record(name, &record)?;
        }
        Ok(())
    }

    fn write_record(&self, name: &str, record: &Record) -> Result<(), CacheError> {
        let path = self.record_path(name);
        let mut bytes = serde_json::to_vec_pretty(record).map_err(|e| io(&path, e))?;
        bytes.push(b'\n');
        write_file_atomically(&path, &bytes).map_err(|e| io(&path, e))
    }

    /// Removes the bodies an update took out of a record, unless another
    /// record still names one, and only while each is the regular file
    /// of its content (a link or an altered file is not ours to remove).
    fn drop_displaced(&self, displaced: &[String]) -> Result<(), CacheError> {
        if displaced.is_empty() {
            return Ok(());
        }
        let records = self.dir.join("records");
        let mut named = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&records)
            .map_err(|e| io(&records, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(source) = name
                .strip_suffix(".json")
                .filter(|_| !name.starts_with('.'))
            {
                let r = self.record(source)?;
                named.extend(r.current.into_iter().chain(r.previous).map(|c| c.sha256));
            }
        }
        for sha256 in displaced
            .iter()
            .filter(|s| is_sha256(s) && !named.contains(*s))
        {
            let path = self.body_path(sha256);
            let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
            let intact = regular
                && crate::input::read_limited(&path, MAX_BODY)
                    .is_ok_and(|b| sha256_hex(&b) == *sha256);
            if intact {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    /// Source names are ours (`service-tags-public`), never a path.
    fn record_path(&self, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join("records").join(format!("{safe}.json"))
    }

    fn body_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("bodies").join(sha256)
    }
}

/// The largest body read back from the cache: above the fetcher's default
/// limit (256 MiB), and a bound on what a planted file can cost.
const MAX_BODY: u64 = 1 << 30;

/// 64 lower-case hex digits: the name of a body.
fn is_sha256(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn io(path: &Path, e: impl ToString) -> CacheError {
    CacheError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Where the cache lives when no `--cache` is given: `EGRESSGEN_CACHE`,
/// systemd's `CACHE_DIRECTORY` (its first entry), `XDG_CACHE_HOME/egressgen`,
/// else `~/.cache/egressgen`.
pub fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("EGRESSGEN_CACHE")
        // systemd's CacheDirectory= may list several: the first is ours.
        .or_else(|| {
            env("CACHE_DIRECTORY").map(|p| {
                let s = p.to_string_lossy().into_owned();
                PathBuf::from(s.split(':').next().unwrap_or("").to_string())
            })
        })
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("egressgen")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/egressgen")))
}
