//! `egressgen check RULESET...`: everything `generate` does but write, with its exit codes.

use std::path::{Path, PathBuf};

use super::generate::Summary;
use super::{Exit, Failure};
use crate::generate;
use crate::ruleset::{Ruleset, RulesetError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ruleset files (TOML), e.g. rulesets/commercial-eu.toml
    #[arg(required = true, value_name = "RULESET")]
    pub rulesets: Vec<PathBuf>,
    /// The output directory `generate` would be given (two rulesets of a
    /// run may not share one); nothing is written or created
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only these output formats (comma-separated), e.g. --only plain
    #[arg(long, value_delimiter = ',', value_name = "FORMAT")]
    pub only: Option<Vec<String>>,
    /// Skip (with a catalog note) a source table whose header is not
    /// recognised but which holds host names, instead of failing
    #[arg(long)]
    pub skip_unknown_tables: bool,
    /// Fail (exit 3) on a ruleset with warnings, as `generate --strict`
    /// refuses to publish one
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub cache: super::args::CacheArg,
}

/// Each ruleset is read, resolved and rendered in memory as `generate`
/// does; a failure is reported and the next ruleset still runs; the exit
/// status is that of the first failure, as `generate`'s would be.
pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let loaded: Vec<(&Path, Result<Ruleset, RulesetError>)> = args
        .rulesets
        .iter()
        .map(|p| (p.as_path(), Ruleset::load(p)))
        .collect();
    let cache = args.cache.dir();
    let opts = generate::RunOptions {
        out: args.out.as_deref(),
        only: args.only.as_deref(),
        force: false,
        skip_unknown_tables: args.skip_unknown_tables,
        strict: args.strict,
        cache: cache.as_deref(),
        dry_run: true,
    };
    let mut first: Option<Exit> = None;
    let used = generate::run(&loaded, &opts, Summary::of, |_, result| {
        match result.map_err(Failure::from) {
            Err(f) => {
                f.print();
                first.get_or_insert(f.exit);
            }
            Ok(_) if v.quiet => {}
            Ok(done) => {
                let s = &done.policy;
                for w in &done.warnings {
                    let line = format!("egressgen: {}: warning: {w}", s.name());
                    eprintln!("{}", crate::model::text::terminal_safe(&line));
                }
                super::print(&format!(
                    "{}; generate would write {} files to {}\n",
                    s.counts(),
                    done.files.len(),
                    crate::model::text::terminal_safe(&done.out_dir.display().to_string())
                ));
                for n in s.notices() {
                    eprintln!("{n}");
                }
            }
        }
    });
    args.cache.say_used(&used, v);
    Ok(first.unwrap_or(Exit::Success))
}
