//! What a fetched body must pass before it may replace the last good copy
//! of its source: it reads as the source it claims to be (by the same
//! readers as a file), it is not empty, its service-tag `changeNumber`
//! does not go backwards, and it has not lost more than a set share of
//! its rows or of any service tag's prefixes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::Catalog;
use crate::sources::{ReadOptions, SourceFile, read_body};

/// The limits; `max_loss` is a share (0.10 = 10 %).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_loss: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_loss: 0.10 }
    }
}

/// Why a body was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("does not read as {file}: {detail}")]
    Invalid { file: String, detail: String },
    #[error("holds no endpoint and no prefix")]
    Empty,
    #[error("changeNumber {new} is lower than the {old} already held")]
    Older { old: u64, new: u64 },
    #[error("{what} fell from {old} to {new}, more than the {share:.0} % a refresh may lose")]
    Shrunk {
        what: String,
        old: usize,
        new: usize,
        share: f64,
    },
}

/// Reads `bytes` as the file `file_name` (its extension says the kind)
/// and checks it against the catalog of the copy it would replace.
pub fn vet(
    file_name: &str,
    bytes: Vec<u8>,
    opts: &ReadOptions,
    previous: Option<&Catalog>,
    limits: Limits,
) -> Result<Catalog, Refusal> {
    let src = SourceFile::from_bytes(Path::new(file_name), bytes);
    let catalog = read_body(src, opts).map_err(|e| Refusal::Invalid {
        file: file_name.to_string(),
        detail: e.to_string(),
    })?;
    if catalog.endpoints.is_empty() && catalog.prefixes.is_empty() {
        return Err(Refusal::Empty);
    }
    if let Some(old) = previous {
        if let (Some(o), Some(n)) = (change_number(old), change_number(&catalog))
            && n < o
        {
            return Err(Refusal::Older { old: o, new: n });
        }
        for (what, o, n) in counts(old, &catalog) {
            if (n as f64) < (o as f64) * (1.0 - limits.max_loss) {
                return Err(Refusal::Shrunk {
                    what,
                    old: o,
                    new: n,
                    share: limits.max_loss * 100.0,
                });
            }
        }
    }
    Ok(catalog)
}

fn change_number(c: &Catalog) -> Option<u64> {
    c.sources.iter().filter_map(|s| s.change_number).max()
}

/// `(what, old, new)` for the rows and for each service tag the old copy
/// had.
fn counts(old: &Catalog, new: &Catalog) -> Vec<(String, usize, usize)> {
    let per_tag = |c: &Catalog| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for p in &c.prefixes {
            *m.entry(p.tag.clone()).or_default() += 1;
        }
        m
    };
    let (a, b) = (per_tag(old), per_tag(new));
    let mut out = vec![(
        "the number of rows".to_string(),
        old.endpoints.len(),
        new.endpoints.len(),
    )];
    out.extend(a.iter().map(|(tag, n)| {
        (
            format!("service tag {tag}'s prefixes"),
            *n,
            b.get(tag).copied().unwrap_or(0),
        )
    }));
    out
}
