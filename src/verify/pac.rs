//! The PAC script of the PAC route: a file, a URL, or the ruleset's own output.
//!
//! A file, a URL (fetched here, through reqwest like every download, so
//! that only `refresh` and `verify` open sockets), or the ruleset's own PAC
//! output rendered in memory.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crate::backends::pac::read::{MAX_PAC_BYTES, PacConfig};
use crate::generate::{self, GenerateError};
use crate::policy::Policy;
use crate::ruleset::Ruleset;

/// Why no PAC script could be had.
#[derive(Debug, thiserror::Error)]
pub enum PacError {
    /// The file, the URL or the script itself.
    #[error("{0}")]
    Input(String),
    /// Rendering the ruleset's own PAC output.
    #[error(transparent)]
    Render(#[from] GenerateError),
}

/// The script `given` names (a path or an http(s) URL), else the
/// ruleset's own PAC output; `None` when there is neither. Its name
/// lookups are answered from `resolve`.
pub fn load(
    given: Option<&str>,
    ruleset: &Ruleset,
    policy: &Policy,
    resolve: BTreeMap<String, IpAddr>,
    limits: &super::Limits,
) -> Result<Option<PacConfig>, PacError> {
    let input = PacError::Input;
    let (name, source) = match given {
        Some(at) if at.starts_with("http://") || at.starts_with("https://") => {
            (at.to_string(), fetch(at, limits).map_err(input)?)
        }
        Some(path) => {
            let path = Path::new(path);
            let bytes = crate::input::read_limited(path, MAX_PAC_BYTES)
                .map_err(|e| input(format!("--pac {}: {e}", path.display())))?;
            (path.display().to_string(), bytes)
        }
        None => match rendered(ruleset, policy)? {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let text = String::from_utf8(source)
        .map_err(|_| input(format!("{name}: the PAC file is not UTF-8 text")))?;
    PacConfig::from_source(&name, text, resolve)
        .map(Some)
        .map_err(|e| input(format!("{name}: {e}")))
}

/// The ruleset's PAC output, rendered as `generate` would write it.
fn rendered(
    ruleset: &Ruleset,
    policy: &Policy,
) -> Result<Option<(String, Vec<u8>)>, GenerateError> {
    let backends = generate::select_backends(ruleset, None)?;
    let Some(pac) = backends.into_iter().find(|b| b.name() == "pac") else {
        return Ok(None);
    };
    let rendered = generate::render_all(policy, ruleset, &[pac])?;
    Ok(rendered
        .into_iter()
        .flat_map(|r| r.files)
        .find(|(name, _)| name.ends_with(".pac"))
        .map(|(name, bytes)| {
            (
                format!("{name} (rendered from {})", ruleset.site.file.display()),
                bytes,
            )
        }))
}

/// A PAC file from a URL: the environment's proxy settings apply, the
/// URL's host only, at most 1 MiB, within the run's `--timeout` per
/// attempt and its `--deadline` in all.
fn fetch(url: &str, limits: &super::Limits) -> Result<Vec<u8>, String> {
    use crate::refresh::fetch::{FetchConfig, Fetched, Fetcher};
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', ':']).next())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fetcher = Fetcher::new(FetchConfig {
        allowed_hosts: vec![host],
        retries: 1,
        timeout: limits.timeout,
        connect_timeout: limits.timeout.min(Duration::from_secs(15)),
        deadline: limits.deadline,
        max_body: MAX_PAC_BYTES,
        ..FetchConfig::default()
    })
    .map_err(|e| format!("--pac {url}: {e}"))?;
    match fetcher.get(url, None).map_err(|e| format!("--pac: {e}"))? {
        Fetched::Body { bytes, .. } => Ok(bytes),
        Fetched::NotModified => Err(format!(
            "--pac {url}: answered 304 to an unconditional request"
        )),
    }
}
