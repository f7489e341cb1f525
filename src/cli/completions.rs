//! `egressgen completions SHELL`: a completion script from the clap definitions.
//!
//! A completion script generated from the clap definitions, so it never
//! lags behind the options.

use std::io::Write;

use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell, e.g. bash: egressgen completions bash > /etc/bash_completion.d/egressgen
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: &Args) -> super::Result {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut super::Cli::command(),
        "egressgen",
        &mut script,
    );
    // A closed pipe is not an error worth a message.
    let _ = std::io::stdout().write_all(&script);
    Ok(super::Exit::Success)
}
