//! `egressgen generate RULESET... [--out DIR] [--only FORMAT,...]`.

use std::path::Path;

use super::args::{Format, Formats};
use super::{Exit, Failure};
use crate::generate;
use crate::model::Via;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub run: super::args::RunArgs,
    /// How the result is printed: a summary per ruleset, or one JSON
    /// document (each ruleset's directory, files, counts, notices, error)
    #[arg(long, default_value = "text", value_parser = Formats(&[Format::Text, Format::Json]))]
    pub format: Format,
}

/// One ruleset's line of `--format json`.
#[derive(Debug, serde::Serialize)]
struct JsonResult {
    ruleset_file: String,
    #[serde(flatten)]
    summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out_dir: Option<String>,
    files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<JsonError>,
}

#[derive(Debug, serde::Serialize)]
struct JsonError {
    exit_code: u8,
    message: String,
}

/// Failures in `generate` are reported and the next ruleset still runs;
/// the exit status is that of the first failure.
pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let loaded = args.run.load();
    let cache = args.run.cache.dir();
    let opts = args.run.options(cache.as_deref(), false);
    let mut first: Option<Exit> = None;
    let mut json = Vec::new();
    let used = generate::run(&loaded, &opts, Summary::of, |i, result| {
        let result = result.map_err(Failure::from);
        if let (Ok(done), false) = (&result, v.quiet) {
            for w in &done.warnings {
                let line = format!("egressgen: {}: warning: {w}", done.policy.ruleset);
                eprintln!("{}", crate::model::text::terminal_safe(&line));
            }
        }
        if let Err(f) = &result {
            f.print();
            first.get_or_insert(f.exit);
        }
        match args.format {
            Format::Json => json.push(json_result(&args.run.rulesets[i], result)),
            _ => {
                if let Ok(done) = &result {
                    report(done, v);
                }
            }
        }
    });
    args.run.cache.say_used(&used, v);
    if args.format == Format::Json {
        let doc =
            serde_json::json!({"format": "egressgen-generate", "version": 1, "rulesets": json});
        super::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
    }
    Ok(first.unwrap_or(Exit::Success))
}

fn json_result(path: &Path, result: Result<generate::Generated<Summary>, Failure>) -> JsonResult {
    let ruleset_file = path.display().to_string();
    match result {
        Ok(done) => {
            report_publish(&done.policy.ruleset, &done.published);
            for n in &done.policy.notices {
                eprintln!("{n}");
            }
            JsonResult {
                ruleset_file,
                out_dir: Some(done.out_dir.display().to_string()),
                files: done.files,
                summary: Some(done.policy),
                error: None,
            }
        }
        Err(f) => JsonResult {
            ruleset_file,
            summary: None,
            out_dir: None,
            files: Vec::new(),
            error: Some(JsonError {
                exit_code: f.exit.code(),
                message: crate::model::text::terminal_safe(&f.message),
            }),
        },
    }
}

/// What is printed about a ruleset once it is published, taken from its
/// policy when it is staged.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    ruleset: String,
    entries: usize,
    direct: usize,
    tls_bypass: usize,
    tls_conflicts: usize,
    prefixes: usize,
    unresolved_placeholders: usize,
    /// TLS conflicts and choices against Microsoft's guidance.
    notices: Vec<String>,
}

impl Summary {
    /// What `generate` and `check` say of a policy.
    pub(super) fn of(p: &crate::policy::Policy) -> Summary {
        Summary {
            ruleset: p.ruleset.name.clone(),
            entries: p.entries.len(),
            direct: p.entries.iter().filter(|e| e.route == Via::Direct).count(),
            tls_bypass: p.tls.bypass.len(),
            tls_conflicts: p.tls.conflicts.len(),
            prefixes: p.prefixes.total_ipv4.len() + p.prefixes.total_ipv6.len(),
            unresolved_placeholders: p.report.unresolved.len(),
            notices: notices(p),
        }
    }

    /// The ruleset's name.
    pub(super) fn name(&self) -> &str {
        &self.ruleset
    }

    /// `NAME: N entries (D direct), ...`: the counts of the summary line.
    pub(super) fn counts(&self) -> String {
        format!(
            "{}: {} entries ({} direct), {} TLS bypass, {} TLS conflicts, {} prefixes, {} unresolved placeholders",
            self.ruleset,
            self.entries,
            self.direct,
            self.tls_bypass,
            self.tls_conflicts,
            self.prefixes,
            self.unresolved_placeholders,
        )
    }

    /// TLS conflicts, choices against Microsoft's guidance, contradictory
    /// rows: printed on stderr on every run.
    pub(super) fn notices(&self) -> &[String] {
        &self.notices
    }
}

/// The summary of one published ruleset, on stdout; notices on stderr.
/// With `--quiet`, nothing.
fn report(done: &generate::Generated<Summary>, v: super::Verbosity) {
    let s = &done.policy;
    if v.quiet {
        return;
    }
    report_publish(&s.ruleset, &done.published);
    let mut text = format!("{} -> {}\n", s.counts(), done.out_dir.display());
    for f in &done.files {
        text.push_str(&format!("  {f}\n"));
    }
    super::print(&text);
    for n in &s.notices {
        eprintln!("{n}");
    }
}

/// What publishing removed or left behind, on stderr.
fn report_publish(name: &str, p: &crate::publish::Published) {
    if !p.removed.is_empty() {
        eprintln!(
            "egressgen: {name}: --force: removed files egressgen did not write: {}",
            p.removed
                .iter()
                .map(|f| crate::model::text::display_escape(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(old) = &p.restored {
        eprintln!(
            "egressgen: {name}: warning: the output directory was missing and {} (left aside by a run that was killed) was put back first",
            old.display()
        );
    }
    for c in &p.cleaned {
        eprintln!(
            "egressgen: {name}: removed {}, left by an earlier run that did not finish",
            c.display()
        );
    }
    if let Some(old) = &p.leftover {
        eprintln!(
            "egressgen: {name}: warning: the new output is in place, but the previous one could not be removed: {} (the next run retries)",
            old.display()
        );
    }
}

/// TLS conflicts, choices against Microsoft's guidance and source rows
/// that contradict themselves go to stderr on every run, so a timer's log
/// shows them.
fn notices(p: &crate::policy::Policy) -> Vec<String> {
    let name = &p.ruleset.name;
    let mut out: Vec<String> = p
        .tls
        .conflicts
        .iter()
        .map(|c| {
            format!(
                "egressgen: {name}: TLS conflict: {} is to be exempt ({}) but {} must never be ({}): {}",
                c.bypass,
                c.bypass_reasons.join("; "),
                c.never_bypass,
                c.never_bypass_reasons.join("; "),
                c.why
            )
        })
        .collect();
    out.extend(
        p.tls
            .warnings
            .iter()
            .map(|w| format!("egressgen: {name}: warning: {w}")),
    );
    out.extend(p.report.inconsistencies.iter().map(|i| {
        let at = &i.provenance;
        let line = at.line.map(|l| format!(", line {l}")).unwrap_or_default();
        crate::model::text::terminal_safe(&format!(
            "egressgen: {name}: warning: {} ({}{line})",
            i.message, at.file
        ))
    }));
    out
}
