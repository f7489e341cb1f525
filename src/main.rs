use std::process::ExitCode;

use clap::Parser;
use egressgen::cli::Failure;

/// Every command ends in an `Outcome`; its code is the exit status.
fn main() -> ExitCode {
    let cli = egressgen::cli::Cli::parse();
    cli.output.init_logging();
    let outcome = match egressgen::cli::run(cli) {
        Ok(outcome) => outcome,
        Err(Failure { outcome, message }) => {
            // File names in messages are the user's: escape what a
            // terminal would act on.
            let message = egressgen::model::text::terminal_safe(&message);
            eprintln!("egressgen: error: {message}");
            outcome
        }
    };
    ExitCode::from(outcome.code())
}
