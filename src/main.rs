//! The `egressgen` binary: parse the command line, run it, turn its `Exit` into the status.

use std::process::ExitCode;

use clap::Parser;
use egressgen::cli::Failure;

/// Every command ends in an `Exit`; its code is the exit status.
fn main() -> ExitCode {
    let cli = egressgen::cli::Cli::parse();
    cli.output.init_logging();
    let exit = match egressgen::cli::run(cli) {
        Ok(exit) => exit,
        Err(Failure { exit, message }) => {
            // File names in messages are the user's: escape what a
            // terminal would act on.
            let message = egressgen::model::text::terminal_safe(&message);
            eprintln!("egressgen: error: {message}");
            exit
        }
    };
    ExitCode::from(exit.code())
}
