use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = egressgen::cli::Cli::parse();
    match egressgen::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // File names in messages are the user's: escape what a terminal
            // would act on.
            let message = egressgen::normalize::text::terminal_safe(&err.to_string());
            eprintln!("egressgen: error: {message}");
            ExitCode::from(egressgen::cli::EXIT_ERROR)
        }
    }
}
