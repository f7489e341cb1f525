//! Command-line interface: clap definitions and one file per subcommand.

pub mod baseline;
pub mod catalog;
pub mod explain;
pub mod generate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Result;

/// Input could not be read.
pub const EXIT_ERROR: u8 = 1;
/// `--strict` and some cells were rejected.
pub const EXIT_REJECTED: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "egressgen",
    version,
    about = "Microsoft Defender connectivity requirements in, proxy and firewall configuration out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the normalized catalog of endpoints and prefixes, and what was rejected
    Catalog(catalog::Args),
    /// Resolve rulesets into policies and write every configured output
    Generate(generate::Args),
    /// Say whether a host is allowed, by what, and how each output expresses it
    Explain(explain::Args),
    /// Rebuild the built-in baseline catalog from Microsoft's files
    Baseline(baseline::Args),
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Catalog(args) => catalog::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Baseline(args) => baseline::run(&args),
    }
}
