//! `egressgen refresh`: fetch, keep the last good copies, regenerate, guard, publish.
//!
//! `egressgen refresh RULESET...`: fetch the live sources the rulesets
//! name, keep the last good copy of each, regenerate, guard and publish
//! all rulesets together; report what changed; exit with a code a timer
//! can act on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::{Format, Formats};
use super::{Exit, Failure};
use crate::generate;
use crate::refresh::fetch::{FetchConfig, ProxyChoice};
use crate::refresh::live::Bases;
use crate::refresh::run::{self, Run, Settings, Target};
use crate::ruleset::Ruleset;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ruleset files (TOML) whose `sources.files` name live sources
    /// (`live:learn-standard-commercial`, `live:service-tags-public`,
    /// `live:m365-worldwide`, ...)
    #[arg(required = true, value_name = "RULESET")]
    pub rulesets: Vec<PathBuf>,
    /// Output directory, as for `generate`
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub cache: super::args::CacheArg,
    /// Regenerate from the cache alone; open no socket
    #[arg(long)]
    pub offline: bool,
    /// Publish what a policy guard (lost entries or prefixes, an essential
    /// host) refuses
    #[arg(long)]
    pub force: bool,
    /// Proxy for every request (NO_PROXY still applies). Default:
    /// HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY from the
    /// environment
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Connect directly, whatever the environment says
    #[arg(long)]
    pub no_proxy: bool,
    /// Also trust the CA certificates in this PEM file (a mirror's private
    /// CA, or the CA of a TLS-inspecting proxy in the way)
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Base URL of the Learn pages' Markdown (a mirror, or a test server)
    #[arg(long, value_name = "URL")]
    pub docs_base: Option<String>,
    /// Base URL of the service-tag downloads
    #[arg(long, value_name = "URL")]
    pub download_base: Option<String>,
    /// Base URL of the download pages that link the service-tag files
    #[arg(long, value_name = "URL")]
    pub download_pages_base: Option<String>,
    /// Base URL of the Microsoft 365 endpoints web service
    #[arg(long, value_name = "URL")]
    pub m365_base: Option<String>,
    /// A host a redirect may lead to besides the one asked for (each
    /// source's redirects stay on its own host otherwise). Repeatable
    #[arg(long = "allow-redirect-to", value_name = "HOST")]
    pub redirect_hosts: Vec<String>,
    /// The largest share of a source's rows, or of a service tag's
    /// prefixes, a new copy may lose before it is refused (0.10 = 10 %)
    #[arg(long, value_name = "SHARE", default_value_t = 0.10, value_parser = share)]
    pub max_source_loss: f64,
    /// Seconds one request may take, connection to last byte
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// Attempts after the first for a failing request (5xx, 429, resets)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// Write the change report as Markdown to FILE
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the change report as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Run this command (with /bin/sh -c) after new outputs are published,
    /// e.g. "squid -k reconfigure"; its failure is reported (exit 13)
    #[arg(long, value_name = "COMMAND")]
    pub post_change: Option<String>,
    /// Skip (with a note) a source table whose header is not recognised
    #[arg(long)]
    pub skip_unknown_tables: bool,
    /// What is printed on stdout: a summary, or the JSON change report
    #[arg(long, default_value = "text", value_parser = Formats(&[Format::Text, Format::Json]))]
    pub format: Format,
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let rulesets: Vec<Ruleset> = args
        .rulesets
        .iter()
        .map(|p| Ruleset::load(p).map_err(Failure::from))
        .collect::<Result<_, _>>()?;
    if !v.quiet {
        for (r, path) in rulesets.iter().zip(&args.rulesets) {
            if let Some(w) = without_live(r, path) {
                eprintln!("{}", crate::model::text::terminal_safe(&w));
            }
        }
    }
    let targets = targets(args, &rulesets)?;
    let settings = settings(args)?;
    let bar = super::progress_bar(v);
    let done = run::run_with(&targets, &settings, &|p| {
        bar.set_length(p.steps as u64);
        bar.set_position(p.step as u64);
        bar.set_message(p.doing.to_string());
    });
    bar.finish_and_clear();
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            // The last report must not go on saying what an earlier run did.
            let failed = format!(
                "# egressgen refresh\n\nThe refresh failed: {}\n",
                crate::model::text::md_text(&e.to_string())
            );
            let _ = write_reports(args, failed.into_bytes(), json_error(&e.to_string()));
            return Err(Failure::new(Exit::Input, e));
        }
    };
    print(args, &done, v);
    let mut exit = exit_of(&done);
    // The outputs are in place: the proxy hears of them before anything
    // else can fail.
    if done.published
        && let Some(cmd) = &args.post_change
        && let Err(why) = run::post_change(cmd)
    {
        eprintln!(
            "egressgen: error: {}",
            crate::model::text::terminal_safe(&why)
        );
        exit = Exit::PostChange;
    }
    if let Err(f) = write_reports(args, done.to_markdown().into_bytes(), json(&done)) {
        f.print();
        if exit == Exit::Success || exit == Exit::Changed {
            exit = Exit::Output;
        }
    }
    Ok(exit)
}

/// The warning for a ruleset that names no `live:` source: a scheduled
/// refresh of it fetches nothing and reports "unchanged" for ever.
fn without_live(r: &Ruleset, path: &std::path::Path) -> Option<String> {
    let live = r
        .source_specs()
        .iter()
        .any(|s| matches!(s, crate::sources::SourceSpec::Live(_)));
    (!live).then(|| {
        format!(
            "egressgen: {}: warning: no `live:` source: refresh fetches nothing for it and can only re-render the baseline built into egressgen {}; name live sources in [sources] files (`live:learn-standard-commercial`, `live:service-tags-public`, ...) to follow Microsoft's lists",
            path.display(),
            env!("CARGO_PKG_VERSION")
        )
    })
}

/// The rulesets and their output directories, as `generate` places them.
fn targets<'a>(args: &Args, rulesets: &'a [Ruleset]) -> Result<Vec<Target<'a>>, Failure> {
    let mut claimed = generate::Targets::default();
    let mut out = Vec::new();
    for (r, path) in rulesets.iter().zip(&args.rulesets) {
        let dir = generate::out_dir(args.out.as_deref(), rulesets.len(), r);
        claimed.claim(&dir, path, r)?;
        out.push(Target {
            ruleset: r,
            out_dir: dir,
        });
    }
    Ok(out)
}

fn settings(args: &Args) -> Result<Settings, Failure> {
    let mut bases = Bases::default();
    let pick = |given: &Option<String>, default: &mut String| {
        if let Some(b) = given {
            *default = b.trim_end_matches('/').to_string();
        }
    };
    pick(&args.docs_base, &mut bases.docs);
    pick(&args.download_base, &mut bases.download);
    pick(&args.download_pages_base, &mut bases.download_pages);
    pick(&args.m365_base, &mut bases.m365);
    let proxy = match (&args.proxy, args.no_proxy) {
        (Some(url), _) => ProxyChoice::Url(url.clone()),
        (None, true) => ProxyChoice::Direct,
        (None, false) => ProxyChoice::Environment,
    };
    let today = time::OffsetDateTime::now_utc().date();
    Ok(Settings {
        cache_dir: cache_dir(args)?,
        bases,
        fetch: FetchConfig {
            proxy,
            timeout: Duration::from_secs(args.timeout.max(1)),
            retries: args.retries,
            extra_roots: args.ca_file.clone(),
            redirect_hosts: args
                .redirect_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            ..Default::default()
        },
        offline: args.offline,
        force: args.force,
        source_limits: crate::refresh::guard::Limits {
            max_loss: args.max_source_loss,
        },
        skip_unknown_tables: args.skip_unknown_tables,
        today,
        lock_wait: Duration::from_secs(60),
    })
}

/// A share between 0 and 1.
fn share(text: &str) -> Result<f64, String> {
    let v: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a share between 0 and 1"))
    }
}

fn cache_dir(args: &Args) -> Result<PathBuf, Failure> {
    args.cache.dir().ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            "no cache directory: give --cache DIR (or set EGRESSGEN_CACHE or HOME)",
        )
    })
}

/// Errors first, then a refusal by a guard, then a stale source (11 even
/// when other rulesets were published: the report says which), then a
/// change.
fn exit_of(done: &Run) -> Exit {
    if done.failed() {
        if done.publish_error.is_some() {
            Exit::Output
        } else {
            Exit::Input
        }
    } else if done.refused() {
        Exit::Refused
    } else if done.stale() {
        Exit::Stale
    } else if done.published {
        Exit::Changed
    } else {
        Exit::Success
    }
}

fn write_reports(args: &Args, markdown: Vec<u8>, json: String) -> Result<(), Failure> {
    let write = |path: &Path, bytes: &[u8]| {
        crate::publish::write_file_atomically(path, bytes)
            .map_err(|e| Failure::new(Exit::Output, e))
    };
    if let Some(p) = &args.report {
        write(p, &markdown)?;
    }
    if let Some(p) = &args.report_json {
        write(p, json.as_bytes())?;
    }
    Ok(())
}

fn json_error(message: &str) -> String {
    let doc =
        serde_json::json!({"format": "egressgen-refresh-report", "version": 1, "error": message});
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn json(done: &Run) -> String {
    // Plain data: serializing cannot fail.
    serde_json::to_string_pretty(done).unwrap_or_default() + "\n"
}

fn print(args: &Args, done: &Run, v: super::Verbosity) {
    use crate::model::text::terminal_safe;
    if args.format == Format::Json {
        super::print(&json(done));
        return;
    }
    for s in &done.sources {
        let line = format!("{}: {}", s.source, run::source_state_text(&s.state));
        match s.state {
            run::SourceState::KeptLastGood(_) | run::SourceState::Missing(_) => {
                eprintln!("egressgen: warning: {}", terminal_safe(&line))
            }
            _ if !v.quiet => super::print(&format!("{}\n", terminal_safe(&line))),
            _ => {}
        }
    }
    for r in &done.rulesets {
        for c in &r.cleaned {
            eprintln!(
                "egressgen: {}: removed {}, left by an earlier run that did not finish",
                r.ruleset,
                terminal_safe(&c.display().to_string())
            );
        }
        let line = format!(
            "{} ({}): {}",
            r.ruleset,
            r.out_dir.display(),
            run::ruleset_state_text(&r.state)
        );
        match r.state {
            run::RulesetState::Refused(_) | run::RulesetState::Failed(_) => {
                eprintln!("egressgen: error: {}", terminal_safe(&line))
            }
            _ if !v.quiet => super::print(&format!("{}\n", terminal_safe(&line))),
            _ => {}
        }
    }
    if let Some(e) = &done.publish_error {
        eprintln!(
            "egressgen: error: nothing was published: {}",
            terminal_safe(e)
        );
    } else if done.published && !v.quiet {
        super::print("published\n");
    }
}
