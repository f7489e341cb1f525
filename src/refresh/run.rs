//! One refresh: fetch, vet, regenerate, guard, and publish all rulesets or none.
//!
//! Fetch every live source the rulesets name, vet each body before it
//! replaces the last good copy, regenerate every ruleset from the good
//! copies, guard each policy against the one it would replace, and publish
//! all of them together or none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fetch::{FetchConfig, Fetched, Fetcher};
use super::guard::{self, Expect, Limits};
use super::live::{self, Bases, Known};
use crate::cache::{Cache, CacheError, Copy};
use crate::diff::{self, ChangeReport, Side};
use crate::generate::{self, GenerateError, SourceCache};
use crate::model::Catalog;
use crate::policy::Policy;
use crate::ruleset::Ruleset;
use crate::sources::live::Live;
use crate::sources::{ReadOptions, SourceSpec};

/// How a refresh runs.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cache_dir: PathBuf,
    pub bases: Bases,
    pub fetch: FetchConfig,
    /// Use the cache alone: no socket is opened.
    pub offline: bool,
    /// Publish even what a policy guard refuses.
    pub force: bool,
    pub source_limits: Limits,
    pub skip_unknown_tables: bool,
    /// The day the service-tag probe starts from.
    pub today: time::Date,
    /// How long to wait for another refresh holding the cache.
    pub lock_wait: Duration,
}

/// What became of one live source.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "why")]
pub enum SourceState {
    /// The server had nothing newer (or the same bytes).
    Unchanged,
    /// A new body passed the guards and is now the good copy.
    Updated,
    /// Fetching or vetting failed; the last good copy stands.
    KeptLastGood(String),
    /// Fetching or vetting failed and there is no good copy yet.
    Missing(String),
    /// `--offline`: the good copy, as it is.
    Offline,
}

#[derive(Debug, serde::Serialize)]
pub struct SourceReport {
    pub source: String,
    #[serde(flatten)]
    pub state: SourceState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeReport>,
}

/// What became of one ruleset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "why")]
pub enum RulesetState {
    /// The policy is the one already published.
    Unchanged,
    /// Published (or would have been, when another ruleset stopped the run).
    Changed,
    /// A guard refused the new policy.
    Refused(Vec<String>),
    /// Changed, but not published: another ruleset of the run was
    /// refused or failed, or the publish itself failed.
    Held(String),
    /// It could not be regenerated.
    Failed(String),
}

#[derive(Debug, serde::Serialize)]
pub struct RulesetReport {
    pub ruleset: String,
    pub out_dir: PathBuf,
    #[serde(flatten)]
    pub state: RulesetState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeReport>,
    /// Leftovers of killed runs removed beside its output directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleaned: Vec<PathBuf>,
}

/// The whole run, for the change report and the exit code.
#[derive(Debug, serde::Serialize)]
pub struct Run {
    pub format: &'static str,
    pub version: u32,
    pub sources: Vec<SourceReport>,
    pub rulesets: Vec<RulesetReport>,
    /// Whether new outputs went into place.
    pub published: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_error: Option<String>,
}

/// A refresh that could not start or finish at all.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Fetch(#[from] super::fetch::FetchError),
    #[error("{0}")]
    ClientId(String),
}

/// One ruleset, where its outputs go.
pub struct Target<'a> {
    pub ruleset: &'a Ruleset,
    pub out_dir: PathBuf,
}

/// Where a refresh is, for a progress display: `step` of `steps`.
pub struct Progress<'a> {
    pub step: usize,
    pub steps: usize,
    pub doing: &'a str,
}

/// Runs one refresh over `targets`.
pub fn run(targets: &[Target], settings: &Settings) -> Result<Run, RefreshError> {
    run_with(targets, settings, &|_| {})
}

/// [`run`], telling `progress` before each source and before publishing.
pub fn run_with(
    targets: &[Target],
    settings: &Settings,
    progress: &dyn Fn(Progress),
) -> Result<Run, RefreshError> {
    let cache = Cache::open(&settings.cache_dir)?;
    let _lock = cache.lock(settings.lock_wait)?;
    let lives = live_sources(targets);
    let opts = read_options(targets, settings);
    let mut current: BTreeMap<Live, Catalog> = BTreeMap::new();
    let mut sources = Vec::new();
    let fetcher = if settings.offline || lives.is_empty() {
        None
    } else {
        Some(Fetcher::new(fetch_config(settings))?)
    };
    let client_id = client_id(&lives, settings)?;
    let steps = lives.len() + 1;
    for (step, live) in lives.iter().enumerate() {
        progress(Progress {
            step,
            steps,
            doing: &live.to_string(),
        });
        let (report, catalog) = match &fetcher {
            Some(f) => refresh_source(*live, &cache, f, &opts, settings, &client_id),
            None => offline_source(*live, &cache, &opts),
        };
        sources.push(report);
        if let Some(c) = catalog {
            current.insert(*live, c);
        }
    }
    let mut catalogs = SourceCache::for_rulesets(targets.iter().map(|t| t.ruleset))
        .skip_unknown_tables(settings.skip_unknown_tables);
    for (live, catalog) in &current {
        catalogs.insert(SourceSpec::Live(*live), catalog.clone());
    }
    progress(Progress {
        step: steps - 1,
        steps,
        doing: "regenerating and publishing",
    });
    let have: BTreeSet<Live> = current.keys().copied().collect();
    let (rulesets, changed) = regenerate(targets, &mut catalogs, &have, settings);
    let mut run = Run {
        format: "egressgen-refresh-report",
        version: 1,
        sources,
        rulesets,
        published: false,
        publish_error: None,
    };
    publish(&mut run, changed, targets, &mut catalogs);
    Ok(run)
}

/// Every live source any ruleset names, once.
fn live_sources(targets: &[Target]) -> BTreeSet<Live> {
    targets
        .iter()
        .flat_map(|t| t.ruleset.source_specs())
        .filter_map(|s| match s {
            SourceSpec::Live(l) => Some(l),
            _ => None,
        })
        .collect()
}

/// The tags every ruleset selects, as `generate` reads them.
fn read_options(targets: &[Target], settings: &Settings) -> ReadOptions {
    let mut tags = BTreeSet::new();
    for t in targets {
        tags.extend(crate::policy::prefixes::selected_tags(&t.ruleset.site));
    }
    ReadOptions {
        extra_tags: tags.into_iter().collect(),
        skip_unknown_tables: settings.skip_unknown_tables,
        ..Default::default()
    }
}

/// The configured limits, with the hosts of the bases as the only ones
/// allowed unless the configuration named others.
fn fetch_config(settings: &Settings) -> FetchConfig {
    let mut config = settings.fetch.clone();
    if config.allowed_hosts.is_empty() {
        config.allowed_hosts = settings.bases.hosts();
    }
    // A host named as a redirect target is one the run may contact.
    let extra = config.redirect_hosts.clone();
    config.allowed_hosts.extend(extra);
    config
}

fn client_id(lives: &BTreeSet<Live>, settings: &Settings) -> Result<String, RefreshError> {
    if settings.offline || !lives.iter().any(|l| matches!(l, Live::M365(_))) {
        return Ok(String::new());
    }
    live::client_request_id(&settings.cache_dir).map_err(|e| {
        RefreshError::ClientId(format!(
            "{}: the Microsoft 365 client request id: {e}",
            settings.cache_dir.display()
        ))
    })
}

fn offline_source(
    live: Live,
    cache: &Cache,
    opts: &ReadOptions,
) -> (SourceReport, Option<Catalog>) {
    let report = |state, url| SourceReport {
        source: live.to_string(),
        state,
        url,
        changes: None,
    };
    match cache.good_copy(live, opts).map_err(|e| e.to_string()) {
        Ok(Some((copy, catalog))) => (report(SourceState::Offline, Some(copy.url)), Some(catalog)),
        Ok(None) => (
            report(
                SourceState::Missing("--offline, and no good copy in the cache yet".into()),
                None,
            ),
            None,
        ),
        Err(e) => (report(SourceState::Missing(e), None), None),
    }
}

/// Fetches one source and vets what came; the good copy (new or old) is
/// returned with what happened.
fn refresh_source(
    live: Live,
    cache: &Cache,
    fetcher: &Fetcher,
    opts: &ReadOptions,
    settings: &Settings,
    client_id: &str,
) -> (SourceReport, Option<Catalog>) {
    let held = match cache.good_copy(live, opts).map_err(|e| e.to_string()) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(source = %live, error = %e, "the cached copy is unusable");
            None
        }
    };
    let known = held
        .as_ref()
        .map(|(copy, _)| Known {
            url: Some(copy.url.clone()),
            validators: Some(copy.validators.clone()),
            version: copy.version.clone(),
        })
        .unwrap_or_default();
    let outcome = live::fetch(
        live,
        &settings.bases,
        fetcher,
        &known,
        settings.today,
        client_id,
    )
    .map_err(|e| e.to_string())
    .and_then(|got| accept(live, got, held.as_ref(), cache, opts, settings));
    let mut report = SourceReport {
        source: live.to_string(),
        state: SourceState::Unchanged,
        url: None,
        changes: None,
    };
    match (outcome, held) {
        (Ok((state, url, catalog)), held) => {
            report.changes = held
                .as_ref()
                .filter(|_| state == SourceState::Updated)
                .and_then(|(_, old)| catalog_changes(live, old, &catalog));
            report.state = state;
            report.url = Some(url);
            (report, Some(catalog))
        }
        (Err(why), Some((copy, catalog))) => {
            report.state = SourceState::KeptLastGood(why);
            report.url = Some(copy.url);
            (report, Some(catalog))
        }
        (Err(why), None) => {
            report.state = SourceState::Missing(why);
            (report, None)
        }
    }
}

/// A fetched answer: a 304 keeps the good copy; a body must pass the
/// guards to become it.
fn accept(
    live: Live,
    got: live::Got,
    held: Option<&(Copy, Catalog)>,
    cache: &Cache,
    opts: &ReadOptions,
    settings: &Settings,
) -> Result<(SourceState, String, Catalog), String> {
    let (bytes, validators) = match got.fetched {
        Fetched::NotModified => {
            let (copy, catalog) = held.ok_or("a 304 answer, but no copy is held")?;
            return Ok((SourceState::Unchanged, copy.url.clone(), catalog.clone()));
        }
        Fetched::Body { bytes, validators } => (bytes, validators),
    };
    let previous = held.map(|(_, c)| c);
    let catalog = guard::vet(
        &live.file_name(),
        bytes.clone(),
        opts,
        previous,
        settings.source_limits,
        &Expect::of(live),
    )
    .map_err(|refusal| format!("{}: {refusal}", got.url))?;
    let same = held.is_some_and(|(copy, _)| copy.sha256 == crate::publish::sha256_hex(&bytes));
    let copy = Copy {
        sha256: String::new(),
        url: got.url.clone(),
        validators,
        version: got
            .version
            .or_else(|| catalog.sources.first()?.version.clone()),
        change_number: catalog.sources.first().and_then(|s| s.change_number),
    };
    cache
        .accept(&live.name(), &bytes, copy)
        .map_err(|e| e.to_string())?;
    let state = if same {
        SourceState::Unchanged
    } else {
        SourceState::Updated
    };
    Ok((state, got.url, catalog))
}

fn catalog_changes(live: Live, old: &Catalog, new: &Catalog) -> Option<ChangeReport> {
    let name = live.to_string();
    diff::compare(
        &Side::Catalog(Box::new(old.clone())),
        &Side::Catalog(Box::new(new.clone())),
        (&format!("{name} (last good)"), &format!("{name} (new)")),
    )
    .ok()
}

/// Resolves every ruleset from the good copies and guards its policy
/// against the published one. Returns the reports and the indexes of the
/// rulesets whose outputs change.
fn regenerate(
    targets: &[Target],
    catalogs: &mut SourceCache,
    have: &BTreeSet<Live>,
    settings: &Settings,
) -> (Vec<RulesetReport>, Vec<usize>) {
    let mut reports = Vec::new();
    let mut changed = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let mut report = RulesetReport {
            ruleset: t.ruleset.site.name.to_string(),
            out_dir: t.out_dir.clone(),
            state: RulesetState::Unchanged,
            changes: None,
            cleaned: Vec::new(),
        };
        if let Some(missing) = live_sources(std::slice::from_ref(t))
            .into_iter()
            .find(|l| !have.contains(l))
        {
            report.state = RulesetState::Failed(format!(
                "{missing} has no good copy yet (its fetch failed; see above), so this ruleset cannot be regenerated"
            ));
            reports.push(report);
            continue;
        }
        match catalogs.policy(t.ruleset) {
            Err(e) => report.state = RulesetState::Failed(e.to_string()),
            Ok(new) => {
                // What is published, file by file (after putting back a
                // tree a killed run left aside): the same files mean
                // nothing to do, whatever changed upstream.
                let published = crate::publish::published_files(&t.out_dir);
                match generate::rendered_files(t.ruleset, &new) {
                    Err(e) => {
                        report.state = RulesetState::Failed(e.to_string());
                        reports.push(report);
                        continue;
                    }
                    Ok(files) if published.as_ref() == Some(&hashes(&files)) => {
                        // Nothing to publish, but a killed run's trees
                        // still go, as a publish would remove them.
                        report.cleaned = crate::publish::tidy(&t.out_dir);
                        reports.push(report);
                        continue;
                    }
                    Ok(_) => {}
                }
                let old = published.and_then(|_| published_policy(&t.out_dir));
                report.changes = old.as_ref().and_then(|o| policy_changes(o, &new));
                let refusals = guard::policy(old.as_ref(), &new, t.ruleset);
                report.state = if refusals.is_empty() || settings.force {
                    changed.push(i);
                    RulesetState::Changed
                } else {
                    RulesetState::Refused(refusals)
                };
            }
        }
        reports.push(report);
    }
    (reports, changed)
}

fn hashes(files: &[(String, Vec<u8>)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(name, bytes)| (name.clone(), crate::publish::sha256_hex(bytes)))
        .collect()
}

/// The policy published last time, if the directory has one we can read.
fn published_policy(out_dir: &Path) -> Option<Policy> {
    let bytes = std::fs::read(out_dir.join("policy.json")).ok()?;
    Policy::from_json(&bytes).ok()
}

fn policy_changes(old: &Policy, new: &Policy) -> Option<ChangeReport> {
    diff::compare(
        &Side::Policy(Box::new(old.clone())),
        &Side::Policy(Box::new(new.clone())),
        ("published", "refreshed"),
    )
    .ok()
}

/// Publishes the changed rulesets together, unless any ruleset was
/// refused or failed: then nothing moves.
fn publish(run: &mut Run, changed: Vec<usize>, targets: &[Target], catalogs: &mut SourceCache) {
    let blocked = run
        .rulesets
        .iter()
        .any(|r| matches!(r.state, RulesetState::Refused(_) | RulesetState::Failed(_)));
    if changed.is_empty() {
        return;
    }
    if blocked {
        hold(
            run,
            &changed,
            "another ruleset of this run was refused or failed",
        );
        return;
    }
    let mut batch = Vec::new();
    for &i in &changed {
        let t = &targets[i];
        let prepared = generate::select_backends(t.ruleset, None).and_then(|backends| {
            generate::prepare(catalogs, t.ruleset, &backends, &t.out_dir, false)
        });
        match prepared {
            Ok(p) => batch.push(p),
            Err(e) => {
                hold(run, &changed, "the publish failed");
                run.rulesets[i].state = RulesetState::Failed(e.to_string());
                run.publish_error = Some(e.to_string());
                return;
            }
        }
    }
    let failed = match generate::finish_all(batch) {
        Ok(done) => {
            for (&i, g) in changed.iter().zip(done) {
                run.rulesets[i].cleaned = g.published.cleaned;
            }
            run.published = true;
            return;
        }
        Err(GenerateError::Publish { source, .. }) => source.to_string(),
        Err(e) => e.to_string(),
    };
    hold(run, &changed, "the publish failed");
    run.publish_error = Some(failed);
}

fn hold(run: &mut Run, changed: &[usize], why: &str) {
    for &i in changed {
        if run.rulesets[i].state == RulesetState::Changed {
            run.rulesets[i].state = RulesetState::Held(why.to_string());
        }
    }
}

impl Run {
    /// Whether some source could not be refreshed (its last good copy, or
    /// nothing, was used).
    pub fn stale(&self) -> bool {
        self.sources.iter().any(|s| {
            matches!(
                s.state,
                SourceState::KeptLastGood(_) | SourceState::Missing(_)
            )
        })
    }

    pub fn refused(&self) -> bool {
        self.rulesets
            .iter()
            .any(|r| matches!(r.state, RulesetState::Refused(_)))
    }

    pub fn failed(&self) -> bool {
        self.publish_error.is_some()
            || self
                .rulesets
                .iter()
                .any(|r| matches!(r.state, RulesetState::Failed(_)))
    }

    /// The change report as Markdown, for a pull request or a ticket.
    pub fn to_markdown(&self) -> String {
        use crate::model::text::{md_code, md_text};
        let mut out = String::from("# egressgen refresh\n\n## Sources\n\n");
        out.push_str("| source | state | from |\n|---|---|---|\n");
        for s in &self.sources {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                md_code(&s.source),
                md_text(&source_state_text(&s.state)),
                s.url
                    .as_deref()
                    .map(|u| format!("`{}`", md_code(u)))
                    .unwrap_or_default()
            ));
        }
        out.push_str("\n## Rulesets\n\n| ruleset | state | output |\n|---|---|---|\n");
        for r in &self.rulesets {
            out.push_str(&format!(
                "| `{}` | {} | `{}` |\n",
                md_code(&r.ruleset),
                md_text(&ruleset_state_text(&r.state)),
                md_code(&r.out_dir.display().to_string())
            ));
        }
        out.push_str(&format!(
            "\n{}\n",
            match (&self.publish_error, self.published) {
                (Some(e), _) => format!("Nothing was published: {}", md_text(e)),
                (None, true) => "The changed rulesets were published together.".to_string(),
                (None, false) => "Nothing was published.".to_string(),
            }
        ));
        let details = self
            .sources
            .iter()
            .filter_map(|s| s.changes.as_ref())
            .chain(self.rulesets.iter().filter_map(|r| r.changes.as_ref()));
        for report in details {
            out.push('\n');
            for line in report.to_markdown().lines() {
                // One level down: the run's report holds these.
                if line.starts_with('#') {
                    out.push('#');
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

pub fn source_state_text(state: &SourceState) -> String {
    match state {
        SourceState::Unchanged => "unchanged".into(),
        SourceState::Updated => "updated".into(),
        SourceState::Offline => "offline: the good copy".into(),
        SourceState::KeptLastGood(why) => format!("failed, last good copy used: {why}"),
        SourceState::Missing(why) => format!("failed, and no good copy: {why}"),
    }
}

pub fn ruleset_state_text(state: &RulesetState) -> String {
    match state {
        RulesetState::Unchanged => "unchanged".into(),
        RulesetState::Changed => "changed".into(),
        RulesetState::Refused(why) => format!("refused: {}", why.join("; ")),
        RulesetState::Held(why) => format!("changed, not published: {why}"),
        RulesetState::Failed(why) => format!("failed: {why}"),
    }
}

/// Runs the post-change command (`--post-change`), once new outputs are
/// in place; its failure is an error of its own.
pub fn post_change(cmd: &str) -> Result<(), String> {
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .map_err(|e| format!("post-change command {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "post-change command {cmd:?} failed ({status}); the new outputs are in place"
        ))
    }
}
