//! `egressgen generate RULESET... [--out DIR] [--only FORMAT,...]`.

use super::{Failure, Outcome};
use crate::generate;
use crate::model::Route;
use crate::ruleset::Ruleset;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ruleset files (TOML), e.g. rulesets/commercial-eu.toml
    #[arg(required = true, value_name = "RULESET")]
    pub rulesets: Vec<PathBuf>,
    /// Output directory. With one ruleset the files go straight into DIR,
    /// with several into DIR/<ruleset name>. Default: the ruleset's
    /// outputs.dir, else out/<ruleset name>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only these output formats (comma-separated), e.g. --only plain
    #[arg(long, value_delimiter = ',', value_name = "FORMAT")]
    pub only: Option<Vec<String>>,
    /// Replace an output directory egressgen did not write (its files are
    /// listed, then removed). Without it such a directory is refused.
    #[arg(long)]
    pub force: bool,
}

/// Failures in `generate` are reported and the next ruleset still runs;
/// the exit status is that of the first failure.
pub fn run(args: &Args) -> super::Result {
    let mut first: Option<Outcome> = None;
    // Output directory -> the ruleset that wrote it in this run.
    let mut targets: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for path in &args.rulesets {
        if let Err(f) = one(args, path, &mut targets) {
            let message = crate::normalize::text::terminal_safe(&f.message);
            eprintln!("egressgen: error: {message}");
            first.get_or_insert(f.outcome);
        }
    }
    Ok(first.unwrap_or(Outcome::Success))
}

fn one(
    args: &Args,
    path: &std::path::Path,
    targets: &mut BTreeMap<PathBuf, PathBuf>,
) -> Result<(), Failure> {
    let ruleset = Ruleset::load(path)?;
    let out = match &args.out {
        Some(dir) if args.rulesets.len() == 1 => dir.clone(),
        Some(dir) => dir.join(ruleset.site.name.as_str()),
        None => ruleset.default_out_dir(),
    };
    // Two rulesets of one run must not overwrite each other's output.
    let key = std::path::absolute(&out).unwrap_or_else(|_| out.clone());
    if let Some(first) = targets.get(&key) {
        return Err(Failure::new(
            Outcome::Usage,
            format!(
                "ruleset {} ({}) would write to {}, which {} already wrote in this run; give it another name or outputs.dir",
                ruleset.site.name,
                path.display(),
                out.display(),
                first.display()
            ),
        ));
    }
    targets.insert(key, path.to_path_buf());
    let backends = generate::select_backends(&ruleset, args.only.as_deref())?;
    let done = generate::generate_with(&ruleset, &backends, &out, args.force)?;
    report_publish(&ruleset.site.name.to_string(), &done.published);
    let p = &done.policy;
    let direct = p
        .entries
        .iter()
        .filter(|e| e.route == Route::Direct)
        .count();
    println!(
        "{}: {} entries ({} direct), {} TLS bypass, {} TLS conflicts, {} prefixes, {} unresolved placeholders -> {}",
        p.ruleset.name,
        p.entries.len(),
        direct,
        p.tls.bypass.len(),
        p.tls.conflicts.len(),
        p.prefixes.total_ipv4.len() + p.prefixes.total_ipv6.len(),
        p.report.unresolved.len(),
        done.out_dir.display()
    );
    for f in &done.files {
        println!("  {f}");
    }
    print_tls_notices(p);
    Ok(())
}

/// What publishing removed or left behind, on stderr.
fn report_publish(name: &str, p: &crate::publish::Published) {
    if !p.removed.is_empty() {
        eprintln!(
            "egressgen: {name}: --force: removed files egressgen did not write: {}",
            p.removed
                .iter()
                .map(|f| crate::normalize::text::display_escape(f))
                .collect::<Vec<_>>()
                .join(", ")
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

/// TLS conflicts and choices against Microsoft's guidance go to stderr on
/// every run, so a timer's log shows them.
fn print_tls_notices(p: &crate::policy::Policy) {
    let name = &p.ruleset.name;
    for c in &p.tls.conflicts {
        eprintln!(
            "egressgen: {name}: TLS conflict: {} is to be exempt ({}) but {} must never be ({}): {}",
            c.bypass,
            c.bypass_reasons.join("; "),
            c.never_bypass,
            c.never_bypass_reasons.join("; "),
            c.why
        );
    }
    for w in &p.tls.warnings {
        eprintln!("egressgen: {name}: warning: {w}");
    }
}
