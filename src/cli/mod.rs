//! Command-line interface: clap definitions and one file per subcommand.

pub mod args;
pub mod audit;
pub mod baseline;
pub mod catalog;
pub mod check;
pub mod completions;
pub mod diff;
pub mod explain;
pub mod generate;
pub mod init;
pub mod man;
pub mod refresh;
pub mod verify;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::generate::GenerateError;
use crate::ruleset::RulesetError;

/// How a command ended. `main` turns it into the exit status; this is the
/// one table of exit codes (the book's, docs/exit-codes.md, is generated from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A negative answer: `explain` found the host not allowed.
    No,
    Usage,
    Rejected,
    Input,
    Output,
    Limit,
    /// `refresh`: new outputs were published.
    Changed,
    /// `refresh`: a source failed and its last good copy was used.
    Stale,
    /// `refresh`: a guard refused a policy; nothing was published.
    Refused,
    /// `refresh`: published, but the post-change command failed.
    PostChange,
    /// `audit`: an entry is missing or partly covered.
    AuditGaps,
    /// `audit`: a TLS violation.
    AuditTls,
    /// `audit --fail-on broad`: an over-broad line.
    AuditBroad,
    /// `audit --fail-on undecidable`: something could not be evaluated.
    AuditUndecidable,
    /// `audit`: a security finding (an allow-all line, an open proxy, tunnels to any port).
    AuditSecurity,
    /// `verify`: a required endpoint is reachable on no route (with
    /// `--admission-only`: admitted by no proxy), or routed wrong.
    VerifyUnreachable,
    /// `verify`: a must-not-inspect endpoint was shown a private chain.
    VerifyInspected,
    /// `verify`: the deadline passed before every probe ran.
    VerifyIncomplete,
}

impl Exit {
    pub const ALL: [Exit; 19] = [
        Exit::Success,
        Exit::No,
        Exit::Usage,
        Exit::Rejected,
        Exit::Input,
        Exit::Output,
        Exit::Limit,
        Exit::Changed,
        Exit::Stale,
        Exit::Refused,
        Exit::PostChange,
        Exit::AuditGaps,
        Exit::AuditTls,
        Exit::AuditBroad,
        Exit::AuditUndecidable,
        Exit::AuditSecurity,
        Exit::VerifyUnreachable,
        Exit::VerifyInspected,
        Exit::VerifyIncomplete,
    ];

    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::No => 1,
            Exit::Usage => 2,
            Exit::Rejected => 3,
            Exit::Input => 4,
            Exit::Output => 5,
            Exit::Limit => 6,
            Exit::Changed => 10,
            Exit::Stale => 11,
            Exit::Refused => 12,
            Exit::PostChange => 13,
            Exit::AuditGaps => 20,
            Exit::AuditTls => 21,
            Exit::AuditBroad => 22,
            Exit::AuditUndecidable => 23,
            Exit::AuditSecurity => 24,
            Exit::VerifyUnreachable => 30,
            Exit::VerifyInspected => 31,
            Exit::VerifyIncomplete => 32,
        }
    }

    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success (`explain`: the host is allowed; `refresh`: nothing changed)",
            Exit::No => {
                "a negative answer: `explain` says the host is not allowed; `diff` found differences"
            }
            Exit::Usage => {
                "usage: a bad argument (clap), `--only` naming an output the ruleset does not configure, two rulesets of one run writing one directory"
            }
            Exit::Rejected => {
                "`--strict`: cells were rejected (`catalog`), or the ruleset has warnings (`generate`: nothing is published)"
            }
            Exit::Input => {
                "an input is unreadable or invalid: a ruleset, a source file, the baseline, a host name to explain"
            }
            Exit::Output => {
                "an output cannot be written: a directory egressgen does not own, a lock held too long, an I/O error (the previous output is kept)"
            }
            Exit::Limit => {
                "a format cannot express the policy: a platform limit (Azure Firewall group size, group count, network rule combinations) or a setting the format needs (a PAC file without a proxy)"
            }
            Exit::Changed => "`refresh`: something changed and the new outputs were published",
            Exit::Stale => {
                "`refresh`: a source could not be fetched or failed its checks; its last good copy was used (the rest may have been published)"
            }
            Exit::Refused => {
                "`refresh`: a guard refused a ruleset's new policy (too much lost, an essential host gone); nothing was published (`--force` overrides)"
            }
            Exit::PostChange => {
                "`refresh`: new outputs were published, but the `--post-change` command failed"
            }
            Exit::AuditGaps => {
                "`audit`: a policy entry is missing from a configuration or only partly covered"
            }
            Exit::AuditTls => {
                "`audit`: a TLS violation: a host Microsoft says must not be inspected is decrypted, or a storage wildcard is exempt from inspection (takes precedence over 20)"
            }
            Exit::AuditBroad => {
                "`audit --fail-on broad`: a line admits far more than the policy needs"
            }
            Exit::AuditUndecidable => {
                "`audit --fail-on undecidable`: an entry or line depends on something the reader cannot evaluate"
            }
            Exit::AuditSecurity => {
                "`audit`: a security finding: a line admits every destination for more than the proxy host, a client from outside the site's networks is let through (open proxy), or a tunnel to a port other than 443 is (takes precedence over 20)"
            }
            Exit::VerifyUnreachable => {
                "`verify`: an endpoint Microsoft does not mark optional is reachable on no route probed (with `--admission-only`: admitted by no proxy, refused or unanswered), or is sent to a proxy though it must go direct (an optional one is reported, not failed on)"
            }
            Exit::VerifyInspected => {
                "`verify`: an endpoint Microsoft says must not be inspected was shown a certificate from a private CA (a TLS-inspecting proxy) on some route (takes precedence over 30)"
            }
            Exit::VerifyIncomplete => {
                "`verify`: the deadline passed before every required endpoint was probed"
            }
        }
    }

    /// The book's table (docs/exit-codes.md).
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | meaning |\n|---|---|\n");
        for o in Exit::ALL {
            out.push_str(&format!("| {} | {} |\n", o.code(), o.meaning()));
        }
        out
    }
}

/// A failed command: what to print and how to exit.
#[derive(Clone, Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl ToString) -> Self {
        Failure {
            exit,
            message: message.to_string(),
        }
    }
}

impl Failure {
    /// `egressgen: error: MESSAGE` on stderr. File names in messages are
    /// the user's: what a terminal would act on is escaped, line by line
    /// (a ruleset error quotes its line under the message, as cargo does).
    pub fn print(&self) {
        let lines: Vec<String> = self
            .message
            .split('\n')
            .map(crate::model::text::terminal_safe)
            .collect();
        eprintln!("egressgen: error: {}", lines.join("\n"));
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let exit = match e {
            Error::Publish(_) => Exit::Output,
            _ => Exit::Input,
        };
        Failure::new(exit, e)
    }
}

impl From<RulesetError> for Failure {
    fn from(e: RulesetError) -> Self {
        Failure::new(Exit::Input, e)
    }
}

impl From<GenerateError> for Failure {
    fn from(e: GenerateError) -> Self {
        let exit = match e {
            GenerateError::Source { .. } => Exit::Input,
            GenerateError::Backend { .. } => Exit::Limit,
            GenerateError::Publish { .. } => Exit::Output,
            GenerateError::Select { .. } | GenerateError::SameOutput { .. } => Exit::Usage,
            GenerateError::Lost => Exit::Output,
            GenerateError::Ruleset(_) => Exit::Input,
            GenerateError::Strict { .. } => Exit::Rejected,
        };
        Failure::new(exit, e)
    }
}

/// A command's result.
pub type Result<T = Exit> = std::result::Result<T, Failure>;

#[derive(Debug, Parser)]
#[command(
    name = "egressgen",
    version,
    about = "Microsoft Defender connectivity requirements in, proxy and firewall configuration out"
)]
pub struct Cli {
    #[command(flatten)]
    pub output: Verbosity,
    #[command(subcommand)]
    pub command: Command,
}

/// Writes a result to stdout. A closed pipe (`| head`) ends the output
/// quietly instead of a panic; the command's exit status stays its own.
pub fn print(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// How much a command says besides its result. Every command takes these.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct Verbosity {
    /// Print nothing but errors (and a result asked for on stdout; for
    /// `explain`, the exit status alone answers)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log what is read, decided and written on stderr (-v); -vv for debug
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
}

impl Verbosity {
    /// Sends `tracing` events to stderr at the level the flags ask for:
    /// errors only with `--quiet`, warnings by default, more with `-v`.
    pub fn init_logging(self) {
        use tracing::level_filters::LevelFilter;
        let level = match (self.quiet, self.verbose) {
            (true, _) => LevelFilter::ERROR,
            (false, 0) => LevelFilter::WARN,
            (false, 1) => LevelFilter::INFO,
            (false, _) => LevelFilter::DEBUG,
        };
        // A second initialisation (tests running commands in-process)
        // keeps the first subscriber.
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .with_target(false)
            .without_time()
            .try_init();
    }
}

/// A bar on stderr when it is a terminal (indicatif draws nothing
/// otherwise, so logs and timers see none); none at all with `--quiet` or
/// `-v`, whose log lines it would garble.
fn progress_bar(v: Verbosity) -> indicatif::ProgressBar {
    if v.quiet || v.verbose > 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented ruleset from flags, or from a short prompt on a terminal
    Init(init::Args),
    /// Do everything generate does but write: sources, policy, checks, warnings, losses
    Check(check::Args),
    /// Print the normalized catalog of endpoints and prefixes, and what was rejected
    Catalog(catalog::Args),
    /// Resolve rulesets into policies and write every configured output
    Generate(generate::Args),
    /// Say whether a host is allowed, by what, and how each output expresses it
    Explain(explain::Args),
    /// Show what changed between two source files, catalogs, policies or output directories
    Diff(diff::Args),
    /// Fetch the live sources, keep the last good copies, regenerate, guard and publish
    Refresh(Box<refresh::Args>),
    /// Check existing proxy or firewall configurations against a ruleset's policy
    Audit(audit::Args),
    /// Probe every endpoint of a ruleset's policy on each route a device may take
    Verify(verify::Args),
    /// Rebuild the built-in baseline catalog from Microsoft's files
    Baseline(baseline::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::Args),
    /// Print the manual page (roff), e.g. egressgen man > egressgen.1
    Man,
}

pub fn run(cli: Cli) -> Result {
    let v = cli.output;
    match cli.command {
        Command::Init(args) => init::run(&args, v),
        Command::Check(args) => check::run(&args, v),
        Command::Catalog(args) => catalog::run(&args, v),
        Command::Generate(args) => generate::run(&args, v),
        Command::Explain(args) => explain::run(&args, v),
        Command::Diff(args) => diff::run(&args, v),
        Command::Refresh(args) => refresh::run(&args, v),
        Command::Audit(args) => audit::run(&args, v),
        Command::Verify(args) => verify::run(&args, v),
        Command::Baseline(args) => baseline::run(&args, v),
        Command::Completions(args) => completions::run(&args),
        Command::Man => man::run(),
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_are_distinct() {
        let codes: std::collections::BTreeSet<u8> = Exit::ALL.iter().map(|o| o.code()).collect();
        assert_eq!(codes.len(), Exit::ALL.len());
    }

    #[test]
    fn the_book_exit_code_table_is_this_one() {
        crate::generated_docs::assert_block(
            "exit-codes.md",
            "<!-- exit codes: generated from cli::Exit -->",
            "<!-- exit codes: end -->",
            &Exit::markdown_table(),
        );
    }
}
