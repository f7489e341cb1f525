//! The pipeline, one home: sources read once, policy, render, batches, publish.
//!
//! Ruleset -> catalog -> policy -> backends -> one atomic output directory
//! with `policy.json` and the loss reports. Every command that needs a
//! catalog or a policy gets it here ([`SourceCache`]: `catalog`, `diff`,
//! `generate`, `refresh`, `audit`, `verify`, `explain`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::backends::{self, Backend, BackendError, Rendered, loss};
use crate::cache::{Cache, Copy};
use crate::error::Error;
use crate::model::Catalog;
use crate::policy::{self, Policy};
use crate::publish::{self, PublishError};
use crate::ruleset::warnings::Warning;
use crate::ruleset::{Ruleset, RulesetError};
use crate::sources::live::Live;
use crate::sources::{ReadOptions, SourceSpec, read_source, with_builtin_facts};

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
    /// Two rulesets of one run would write one directory.
    #[error(
        "ruleset {ruleset} ({}) would write to {}, which {} already wrote in this run; give it another name or outputs.dir",
        file.display(),
        out.display(),
        first.display()
    )]
    SameOutput {
        ruleset: String,
        file: PathBuf,
        out: PathBuf,
        first: PathBuf,
    },
    /// `publish::commit` answered fewer rulesets than it was given.
    #[error("a staged output was lost")]
    Lost,
    /// A ruleset of the run could not be loaded; the others still run.
    #[error(transparent)]
    Ruleset(#[from] RulesetError),
    /// `--strict`, and the ruleset has warnings: nothing is published.
    #[error("ruleset {ruleset}: --strict: {} warning(s), nothing published:\n{}", warnings.len(), warnings.iter().map(|w| format!("  {w}")).collect::<Vec<_>>().join("\n"))]
    Strict {
        ruleset: String,
        warnings: Vec<crate::ruleset::warnings::Warning>,
    },
}

/// What one `generate` wrote. `policy` is the policy itself, or what a
/// caller kept of it (see [`Prepared::map`]).
pub struct Generated<T = Policy> {
    pub out_dir: PathBuf,
    pub files: Vec<String>,
    pub policy: T,
    /// Ruleset choices that change what devices get (also in
    /// `loss-report.md`).
    pub warnings: Vec<Warning>,
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

/// Sources read once per run. Every distinct source is read a single time,
/// with every service tag any ruleset of the run selects; each ruleset's
/// policy then keeps only its own tags ([`policy::prefixes::wanted_tags`]),
/// so a ruleset's output is the same alone or in a fleet.
pub struct SourceCache {
    opts: ReadOptions,
    read: BTreeMap<SourceSpec, Catalog>,
    /// Where `live:` sources are read from: the last good copies that
    /// `refresh` keeps. Without it a `live:` source is refused.
    live: Option<Cache>,
    /// The copies of `live:` sources read, in the order they were.
    used: Vec<(Live, Copy)>,
}

impl SourceCache {
    /// A cache reading with these options (`catalog` and `diff`, which
    /// take their sources and tags from the command line).
    pub fn new(opts: ReadOptions) -> Self {
        SourceCache {
            opts,
            read: BTreeMap::new(),
            live: None,
            used: Vec::new(),
        }
    }

    /// A cache for these rulesets (the tags they select, together).
    pub fn for_rulesets<'a>(rulesets: impl IntoIterator<Item = &'a Ruleset>) -> Self {
        let mut tags: BTreeSet<String> = BTreeSet::new();
        for r in rulesets {
            tags.extend(policy::prefixes::selected_tags(&r.site));
        }
        SourceCache::new(ReadOptions {
            extra_tags: tags.into_iter().collect(),
            ..Default::default()
        })
    }

    /// Skip unrecognised tables that hold host names, with a note, instead
    /// of failing (`--skip-unknown-tables`).
    pub fn skip_unknown_tables(mut self, yes: bool) -> Self {
        self.opts.skip_unknown_tables = yes;
        self
    }

    /// Reads `live:` sources from the last good copies in `cache`.
    pub fn live_from(mut self, cache: Option<Cache>) -> Self {
        self.live = cache;
        self
    }

    /// The copies of `live:` sources read from the cache so far, so a
    /// command can say which version it used.
    pub fn used(&self) -> &[(Live, Copy)] {
        &self.used
    }

    /// Supplies the catalog of a source this cache cannot read itself: a
    /// live source's last good copy, read by `refresh`.
    pub fn insert(&mut self, spec: SourceSpec, catalog: Catalog) {
        self.read.insert(spec, catalog);
    }

    /// The catalog of `specs`, in order, with this binary's facts; each
    /// spec is read the first time it is asked for. No specs: the built-in
    /// baseline.
    pub fn catalog(&mut self, specs: &[SourceSpec]) -> Result<Catalog, Error> {
        self.opts.check()?;
        let baseline = [SourceSpec::Baseline];
        let specs = if specs.is_empty() { &baseline } else { specs };
        let mut catalog = Catalog::default();
        for spec in specs {
            if !self.read.contains_key(spec) {
                let start = std::time::Instant::now();
                let one = self.read_one(spec)?;
                tracing::info!(
                    source = %spec,
                    endpoints = one.endpoints.len(),
                    prefixes = one.prefixes.len(),
                    rejected = one.rejected.len(),
                    ms = start.elapsed().as_millis() as u64,
                    "source read"
                );
                self.read.insert(spec.clone(), one);
            }
            if let Some(one) = self.read.get(spec) {
                catalog.extend(one.clone());
            }
        }
        Ok(with_builtin_facts(catalog))
    }

    /// One source: a `live:` one from the refresh cache, any other as
    /// [`read_source`] reads it.
    fn read_one(&mut self, spec: &SourceSpec) -> Result<Catalog, Error> {
        let (SourceSpec::Live(live), Some(cache)) = (spec, &self.live) else {
            return read_source(spec, &self.opts);
        };
        match cache.good_copy(*live, &self.opts) {
            Ok(Some((copy, catalog))) => {
                self.used.push((*live, copy));
                Ok(catalog)
            }
            Ok(None) => Err(Error::NotCached {
                live: live.to_string(),
                cache: cache.dir().to_path_buf(),
            }),
            Err(e) => Err(Error::Cache(e.to_string())),
        }
    }

    /// Reads the ruleset's sources (or takes them from the cache) and
    /// resolves its policy.
    pub fn policy(&mut self, ruleset: &Ruleset) -> Result<Policy, GenerateError> {
        let catalog =
            self.catalog(&ruleset.source_specs())
                .map_err(|source| GenerateError::Source {
                    ruleset: ruleset.site.name.to_string(),
                    source,
                })?;
        Ok(policy::resolve(&catalog, &ruleset.site))
    }
}

/// Reads the ruleset's sources and resolves its policy.
pub fn policy_for(ruleset: &Ruleset) -> Result<Policy, GenerateError> {
    SourceCache::for_rulesets([ruleset]).policy(ruleset)
}

/// [`policy_for`], reading `live:` sources from the last good copies in
/// `live`; with the copies used.
pub fn policy_with(
    ruleset: &Ruleset,
    live: Option<Cache>,
) -> Result<(Policy, Vec<(Live, Copy)>), GenerateError> {
    let mut sources = SourceCache::for_rulesets([ruleset]).live_from(live);
    let policy = sources.policy(ruleset)?;
    Ok((policy, sources.used))
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

/// Renders every backend. No file depends on where it is written: what
/// names a path names the one it will have where it is installed.
pub fn render_all(
    policy: &Policy,
    ruleset: &Ruleset,
    backends: &[Box<dyn Backend>],
) -> Result<Vec<Rendered>, GenerateError> {
    backends
        .iter()
        .map(|b| {
            b.render(policy).map_err(|source| GenerateError::Backend {
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
    let mut sources = SourceCache::for_rulesets([ruleset]);
    let prepared = prepare(&mut sources, ruleset, backends, out, force)?;
    finish(vec![prepared]).pop().unwrap_or_else(|| {
        Err(GenerateError::Select {
            ruleset: ruleset.site.name.to_string(),
            message: "nothing was prepared".to_string(),
        })
    })
}

/// How many rulesets are staged before one flush publishes them together:
/// enough that the flush is shared, few enough that the open lock files
/// and policies held stay small.
const BATCH: usize = 64;

/// What a `generate` run is asked for besides its rulesets.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions<'a> {
    /// With one ruleset the output directory itself, with several the
    /// directory of one folder per ruleset name. Default: each ruleset's
    /// `outputs.dir`, else `out/<name>`.
    pub out: Option<&'a Path>,
    /// Only these outputs (backend names).
    pub only: Option<&'a [String]>,
    /// Take over an output directory egressgen did not write.
    pub force: bool,
    pub skip_unknown_tables: bool,
    /// Refuse to publish a ruleset with warnings ([`Warning`]).
    pub strict: bool,
    /// The refresh cache `live:` sources are read from.
    pub cache: Option<&'a Path>,
    /// Everything but writing (`check`): each ruleset is resolved and
    /// rendered in memory; nothing is staged or published, and no
    /// directory is created.
    pub dry_run: bool,
}

/// Generates every ruleset of a run, in order: each source is read once
/// for the whole run, and the rulesets are published in batches that
/// share one flush. A ruleset that failed to load, or fails later, is
/// reported in its place and the next one still runs. `keep` is what is
/// held of each policy while its batch waits; `each` receives the result
/// of ruleset `i` (of `rulesets`) as its batch completes. Returns the
/// copies of `live:` sources read from the cache.
pub fn run<T>(
    rulesets: &[(&Path, Result<Ruleset, RulesetError>)],
    opts: &RunOptions,
    keep: impl Fn(&Policy) -> T,
    mut each: impl FnMut(usize, Result<Generated<T>, GenerateError>),
) -> Vec<(Live, Copy)> {
    let mut sources =
        SourceCache::for_rulesets(rulesets.iter().filter_map(|(_, r)| r.as_ref().ok()))
            .skip_unknown_tables(opts.skip_unknown_tables)
            .live_from(opts.cache.map(Cache::reading));
    let mut targets = Targets::default();
    for (n, chunk) in rulesets.chunks(BATCH).enumerate() {
        let prepared: Vec<Result<Step<T>, GenerateError>> = chunk
            .iter()
            .map(|(path, r)| {
                let ruleset = r.as_ref().map_err(|e| GenerateError::Ruleset(e.clone()))?;
                let out = out_dir(opts.out, rulesets.len(), ruleset);
                targets.claim(&out, path, ruleset)?;
                let backends = select_backends(ruleset, opts.only)?;
                let step = if opts.dry_run {
                    let (policy, warnings, files) = render(&mut sources, ruleset, &backends)?;
                    preflight(ruleset, &out, opts.force)?;
                    Step::Checked(Generated {
                        out_dir: out,
                        files: files.into_iter().map(|(name, _)| name).collect(),
                        policy: keep(&policy),
                        warnings,
                        published: publish::Published::default(),
                    })
                } else {
                    let p = prepare(&mut sources, ruleset, &backends, &out, opts.force)?;
                    Step::Staged(p.map(|policy| keep(&policy)))
                };
                let warnings = match &step {
                    Step::Staged(p) => &p.warnings,
                    Step::Checked(g) => &g.warnings,
                };
                if opts.strict && !warnings.is_empty() {
                    return Err(GenerateError::Strict {
                        ruleset: ruleset.site.name.to_string(),
                        warnings: warnings.clone(),
                    });
                }
                Ok(step)
            })
            .collect();
        for (i, result) in publish_batch(prepared).into_iter().enumerate() {
            each(n * BATCH + i, result);
        }
    }
    sources.used
}

/// What publishing `ruleset` into `out` would refuse before it writes (a
/// directory that is not ours, or one holding the run's inputs), asked
/// without a lock or a write.
pub fn preflight(ruleset: &Ruleset, out: &Path, force: bool) -> Result<(), GenerateError> {
    publish::preflight(out, &publish_request(ruleset, force)).map_err(|source| {
        GenerateError::Publish {
            ruleset: ruleset.site.name.to_string(),
            source,
        }
    })
}

/// Everything `generate` does for one ruleset but write (a dry run of
/// [`run`]): what `init` checks a new ruleset with before writing it.
pub fn check<T>(
    ruleset: &Ruleset,
    opts: &RunOptions,
    keep: impl Fn(&Policy) -> T,
) -> Result<Generated<T>, GenerateError> {
    let file = ruleset.site.file.clone();
    let opts = RunOptions {
        dry_run: true,
        ..*opts
    };
    let mut result = Err(GenerateError::Lost);
    run(
        &[(file.as_path(), Ok(ruleset.clone()))],
        &opts,
        keep,
        |_, r| result = r,
    );
    result
}

/// Where a ruleset of a run of `count` writes: `--out` itself for one
/// ruleset, a folder per ruleset name in it for several, else the
/// ruleset's own default.
pub fn out_dir(out: Option<&Path>, count: usize, ruleset: &Ruleset) -> PathBuf {
    match out {
        Some(dir) if count == 1 => dir.to_path_buf(),
        Some(dir) => dir.join(ruleset.site.name.as_str()),
        None => ruleset.default_out_dir(),
    }
}

/// The output directories of one run, each claimed by one ruleset file:
/// two rulesets of a run must not overwrite each other's output.
#[derive(Debug, Default)]
pub struct Targets(BTreeMap<PathBuf, PathBuf>);

impl Targets {
    /// Claims `out` for the ruleset read from `file`. Resolved as
    /// publishing resolves it (`..`, symbolic links), so two spellings of
    /// one directory are one target.
    pub fn claim(
        &mut self,
        out: &Path,
        file: &Path,
        ruleset: &Ruleset,
    ) -> Result<(), GenerateError> {
        let key = publish::resolve(out)
            .or_else(|_| std::path::absolute(out))
            .unwrap_or_else(|_| out.to_path_buf());
        if let Some(first) = self.0.get(&key) {
            return Err(GenerateError::SameOutput {
                ruleset: ruleset.site.name.to_string(),
                file: file.to_path_buf(),
                out: out.to_path_buf(),
                first: first.clone(),
            });
        }
        self.0.insert(key, file.to_path_buf());
        Ok(())
    }
}

/// One ruleset of a run, ready: staged to be published, or (a dry run)
/// checked in memory and done.
enum Step<T> {
    Staged(Prepared<T>),
    Checked(Generated<T>),
}

/// Commits the staged rulesets of a batch together; failures and checked
/// rulesets keep their place, so results come out in ruleset order.
fn publish_batch<T>(
    prepared: Vec<Result<Step<T>, GenerateError>>,
) -> Vec<Result<Generated<T>, GenerateError>> {
    let mut ready = Vec::new();
    let mut slots = Vec::with_capacity(prepared.len());
    for p in prepared {
        match p {
            Ok(Step::Staged(p)) => {
                ready.push(p);
                slots.push(None);
            }
            Ok(Step::Checked(done)) => slots.push(Some(Ok(done))),
            Err(e) => slots.push(Some(Err(e))),
        }
    }
    let mut published = finish(ready).into_iter();
    slots
        .into_iter()
        .map(|slot| match slot {
            Some(done) => done,
            // `finish` gives one result per staged ruleset.
            None => published.next().unwrap_or(Err(GenerateError::Lost)),
        })
        .collect()
}

/// A ruleset rendered and staged beside its output directory, waiting
/// for [`finish`] to flush and swap it in with others of its batch.
pub struct Prepared<T = Policy> {
    ruleset: String,
    out_dir: PathBuf,
    files: Vec<String>,
    policy: T,
    /// The ruleset's warnings (see [`crate::ruleset::warnings`]).
    pub warnings: Vec<Warning>,
    staged: publish::Staged,
}

impl<T> Prepared<T> {
    /// Keeps only what `f` takes from the policy while the batch waits: a
    /// fleet holds a summary per ruleset, not every policy.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Prepared<U> {
        Prepared {
            ruleset: self.ruleset,
            out_dir: self.out_dir,
            files: self.files,
            policy: f(self.policy),
            warnings: self.warnings,
            staged: self.staged,
        }
    }
}

/// Resolves, renders and stages one ruleset; nothing at `out` changes yet.
pub fn prepare(
    sources: &mut SourceCache,
    ruleset: &Ruleset,
    backends: &[Box<dyn Backend>],
    out: &Path,
    force: bool,
) -> Result<Prepared, GenerateError> {
    let (policy, warnings, files) = render(sources, ruleset, backends)?;
    let staged =
        publish::stage(out, &files, &publish_request(ruleset, force)).map_err(|source| {
            GenerateError::Publish {
                ruleset: ruleset.site.name.to_string(),
                source,
            }
        })?;
    Ok(Prepared {
        ruleset: ruleset.site.name.to_string(),
        out_dir: out.to_path_buf(),
        files: files.into_iter().map(|(name, _)| name).collect(),
        policy,
        warnings,
        staged,
    })
}

/// A file of an output directory: its name and bytes.
type OutputFile = (String, Vec<u8>);

/// Resolves and renders one ruleset in memory: its policy, its warnings
/// and every file `generate` would publish (where a dry run stops).
fn render(
    sources: &mut SourceCache,
    ruleset: &Ruleset,
    backends: &[Box<dyn Backend>],
) -> Result<(Policy, Vec<Warning>, Vec<OutputFile>), GenerateError> {
    let policy = sources.policy(ruleset)?;
    tracing::info!(
        ruleset = %ruleset.site.name,
        entries = policy.entries.len(),
        tls_bypass = policy.tls.bypass.len(),
        "policy resolved"
    );
    let rendered = render_all(&policy, ruleset, backends)?;
    let warnings = crate::ruleset::warnings::of(ruleset, &policy);
    let files = output_files(&policy, &warnings, &rendered);
    Ok((policy, warnings, files))
}

/// Publishes a batch of staged rulesets with one flush per filesystem
/// (see [`publish::commit`]); one result per ruleset, in order.
pub fn finish<T>(batch: Vec<Prepared<T>>) -> Vec<Result<Generated<T>, GenerateError>> {
    let mut rest = Vec::with_capacity(batch.len());
    let mut staged = Vec::with_capacity(batch.len());
    for p in batch {
        staged.push(p.staged);
        rest.push((p.ruleset, p.out_dir, p.files, p.policy, p.warnings));
    }
    publish::commit(staged)
        .into_iter()
        .zip(rest)
        .map(
            |(published, (ruleset, out_dir, files, policy, warnings))| match published {
                Ok(published) => Ok(Generated {
                    out_dir,
                    files,
                    policy,
                    warnings,
                    published,
                }),
                Err(source) => Err(GenerateError::Publish { ruleset, source }),
            },
        )
        .collect()
}

/// Swaps every prepared ruleset in, or none ([`publish::commit_all`]):
/// for `refresh`, where a fleet must not end half old and half new because
/// one directory failed.
pub fn finish_all<T>(batch: Vec<Prepared<T>>) -> Result<Vec<Generated<T>>, GenerateError> {
    let mut rest = Vec::with_capacity(batch.len());
    let mut staged = Vec::with_capacity(batch.len());
    for p in batch {
        staged.push(p.staged);
        rest.push((p.ruleset, p.out_dir, p.files, p.policy, p.warnings));
    }
    let names: Vec<String> = rest.iter().map(|r| r.0.clone()).collect();
    let published = publish::commit_all(staged).map_err(|source| GenerateError::Publish {
        ruleset: names.join(", "),
        source,
    })?;
    Ok(published
        .into_iter()
        .zip(rest)
        .map(
            |(published, (_, out_dir, files, policy, warnings))| Generated {
                out_dir,
                files,
                policy,
                warnings,
                published,
            },
        )
        .collect())
}

/// Every file `generate` would publish for this policy, rendered in
/// memory (what `refresh` compares with the published manifest).
pub fn rendered_files(
    ruleset: &Ruleset,
    policy: &Policy,
) -> Result<Vec<(String, Vec<u8>)>, GenerateError> {
    let backends = select_backends(ruleset, None)?;
    let rendered = render_all(policy, ruleset, &backends)?;
    let warnings = crate::ruleset::warnings::of(ruleset, policy);
    Ok(output_files(policy, &warnings, &rendered))
}

/// `policy.json`, the loss reports, then each backend's files.
fn output_files(
    policy: &Policy,
    warnings: &[Warning],
    rendered: &[Rendered],
) -> Vec<(String, Vec<u8>)> {
    let reports: Vec<&loss::LossReport> = rendered.iter().map(|r| &r.loss).collect();
    let loss_json = loss::LossReports {
        format: "egressgen-loss-report",
        version: 1,
        ruleset: &policy.ruleset.name,
        tls: loss::TlsLosses::of(&policy.tls),
        inconsistencies: &policy.report.inconsistencies,
        backends: reports.clone(),
    };
    let mut files = vec![
        ("policy.json".to_string(), policy.to_json()),
        ("loss-report.json".to_string(), json_bytes(&loss_json)),
        (
            "loss-report.md".to_string(),
            loss::to_markdown(
                &policy.ruleset.name,
                &policy.tls,
                &policy.report.inconsistencies,
                &warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                &reports,
            )
            .into_bytes(),
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
