//! `egressgen check RULESET...`: everything `generate` does but write, with its exit codes.

use super::generate::Summary;
use super::{Exit, Failure};
use crate::generate;

/// `generate`'s own arguments but `--format`: checked as `generate` with
/// them would run, nothing written or created.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub run: super::args::RunArgs,
}

/// Each ruleset is read, resolved and rendered in memory as `generate`
/// does; a failure is reported and the next ruleset still runs; the exit
/// status is that of the first failure, as `generate`'s would be.
pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let loaded = args.run.load();
    let cache = args.run.cache.dir();
    let opts = args.run.options(cache.as_deref(), true);
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
    args.run.cache.say_used(&used, v);
    Ok(first.unwrap_or(Exit::Success))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `check` takes what `generate` takes, `--format` aside: a ruleset
    /// pipeline can run one with the other's arguments.
    #[test]
    fn check_takes_every_argument_of_generate_but_format() {
        let cli = super::super::Cli::command();
        let ids = |name: &str| -> std::collections::BTreeSet<String> {
            cli.find_subcommand(name)
                .expect(name)
                .get_arguments()
                .map(|a| a.get_id().to_string())
                .collect()
        };
        let mut generate = ids("generate");
        assert!(generate.remove("format"));
        assert!(generate.contains("force") && generate.contains("cache"));
        assert_eq!(ids("check"), generate);
    }
}
