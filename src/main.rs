use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = egressgen::cli::Cli::parse();
    match egressgen::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("egressgen: error: {err}");
            ExitCode::from(egressgen::cli::EXIT_ERROR)
        }
    }
}
