//! The pipeline of `generate`: ruleset -> catalog -> policy -> backends ->
//! one atomic output directory with `policy.json` and the loss reports.

use std::path::{Path, PathBuf};

use crate::backends::{self, Backend, BackendError, OutputOptions, Rendered, loss};
use crate::error::Error;
use crate::model::Catalog;
use crate::policy::{self, Policy};
use crate::publish::{self, PublishError};
use crate::ruleset::Ruleset;
use crate::sources::{ReadOptions, read_sources};

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("ruleset {ruleset}: {source}")]
    Source { ruleset: String, source: Error },
    #[error("ruleset {ruleset}: {source}")]
    Backend {
        ruleset: String,
        source: BackendError,
    },
    #[error("ruleset {ruleset}: {source}")]
    Publish {
        ruleset: String,
        source: PublishError,
    },
    #[error("ruleset {ruleset}: {message}")]
    Select { ruleset: String, message: String },
}

/// What one `generate` wrote.
pub struct Generated {
    pub out_dir: PathBuf,
    pub files: Vec<String>,
    pub policy: Policy,
    /// What publishing cleaned up or took over.
    pub published: publish::Published,
}

/// The publish request of a ruleset: its inputs are protected.
pub fn publish_request(ruleset: &Ruleset, force: bool) -> publish::Request {
    let mut inputs = vec![ruleset.site.file.clone()];
    inputs.extend(
        ruleset
            .source_specs()
            .iter()
            .filter_map(|s| s.path().map(PathBuf::from)),
    );
    publish::Request {
        ruleset: ruleset.site.name.to_string(),
        ruleset_file: ruleset.site.file.clone(),
        inputs,
        force,
    }
}

/// The catalog a ruleset names.
pub fn catalog_for(ruleset: &Ruleset) -> Result<Catalog, Error> {
    let opts = ReadOptions {
        extra_tags: policy::prefixes::selected_tags(&ruleset.site),
        ..Default::default()
    };
    read_sources(&ruleset.source_specs(), &opts)
}

/// Reads the ruleset's sources and resolves its policy.
pub fn policy_for(ruleset: &Ruleset) -> Result<Policy, GenerateError> {
    let catalog = catalog_for(ruleset).map_err(|source| GenerateError::Source {
        ruleset: ruleset.site.name.to_string(),
        source,
    })?;
    Ok(policy::resolve(&catalog, &ruleset.site))
}

/// The configured backends, narrowed to `only` when given.
pub fn select_backends(
    ruleset: &Ruleset,
    only: Option<&[String]>,
) -> Result<Vec<Box<dyn Backend>>, GenerateError> {
    let all = backends::registry::configured(&ruleset.outputs);
    let Some(only) = only else { return Ok(all) };
    for name in only {
        if !all.iter().any(|b| b.name() == name) {
            let known: Vec<&str> = all.iter().map(|b| b.name()).collect();
            return Err(GenerateError::Select {
                ruleset: ruleset.site.name.to_string(),
                message: format!(
                    "--only {name}: this ruleset configures {}",
                    if known.is_empty() {
                        "no outputs".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
    }
    Ok(all
        .into_iter()
        .filter(|b| only.iter().any(|n| n == b.name()))
        .collect())
}

/// Renders every backend; `out` is where the files will be published.
pub fn render_all(
    policy: &Policy,
    ruleset: &Ruleset,
    backends: &[Box<dyn Backend>],
    out: &Path,
) -> Result<Vec<Rendered>, GenerateError> {
    let out_dir = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let opts = OutputOptions { out_dir: &out_dir };
    backends
        .iter()
        .map(|b| {
            b.render(policy, &opts)
                .map_err(|source| GenerateError::Backend {
                    ruleset: ruleset.site.name.to_string(),
                    source,
                })
        })
        .collect()
}

/// Renders and publishes one ruleset's outputs into `out`; a directory
/// that is not ours is refused.
pub fn generate(
    ruleset: &Ruleset,
    backends: &[Box<dyn Backend>],
    out: &Path,
) -> Result<Generated, GenerateError> {
    generate_with(ruleset, backends, out, false)
}

/// [`generate`], with `force` to take over a directory that is not ours.
pub fn generate_with(
    ruleset: &Ruleset,
    backends: &[Box<dyn Backend>],
    out: &Path,
    force: bool,
) -> Result<Generated, GenerateError> {
    let policy = policy_for(ruleset)?;
    let rendered = render_all(&policy, ruleset, backends, out)?;
    let files = output_files(&policy, &rendered);
    let published =
        publish::publish(out, &files, &publish_request(ruleset, force)).map_err(|source| {
            GenerateError::Publish {
                ruleset: ruleset.site.name.to_string(),
                source,
            }
        })?;
    Ok(Generated {
        out_dir: out.to_path_buf(),
        files: files.into_iter().map(|(name, _)| name).collect(),
        policy,
        published,
    })
}

/// `policy.json`, the loss reports, then each backend's files.
fn output_files(policy: &Policy, rendered: &[Rendered]) -> Vec<(String, Vec<u8>)> {
    let reports: Vec<&loss::LossReport> = rendered.iter().map(|r| &r.loss).collect();
    let loss_json = loss::LossReports {
        format: "egressgen-loss-report",
        version: 1,
        ruleset: &policy.ruleset.name,
        tls: loss::TlsLosses::of(&policy.tls),
        backends: reports.clone(),
    };
    let mut files = vec![
        ("policy.json".to_string(), policy.to_json()),
        ("loss-report.json".to_string(), json_bytes(&loss_json)),
        (
            "loss-report.md".to_string(),
            loss::to_markdown(&policy.ruleset.name, &policy.tls, &reports).into_bytes(),
        ),
    ];
    for r in rendered {
        files.extend(r.files.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    files
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Plain data structures always serialize.
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
