//! The `egressgen` binary: parse the command line, run it, turn its `Exit` into the status.

use std::process::ExitCode;

use clap::Parser;

/// Every command ends in an `Exit`; its code is the exit status.
fn main() -> ExitCode {
    let cli = egressgen::cli::Cli::parse();
    cli.output.init_logging();
    let exit = match egressgen::cli::run(cli) {
        Ok(exit) => exit,
        Err(failure) => {
            failure.print();
            failure.exit
        }
    };
    ExitCode::from(exit.code())
}
