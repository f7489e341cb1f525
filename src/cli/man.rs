//! `egressgen man`: the manual page generated from the clap definitions.
//!
//! The manual page generated from the clap definitions, with one section
//! per subcommand and the exit-code table.

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::roff::{Roff, bold, roman};

/// When this page last changed in substance (new commands or options):
/// man(1) shows it in the footer; a build date would make the page differ
/// on every build.
const MANUAL_DATE: &str = "2026-11-23";

pub fn run() -> super::Result {
    let _ = std::io::stdout().write_all(&page());
    Ok(super::Exit::Success)
}

/// The page: name, synopsis, description and options of `egressgen`, each
/// subcommand's own options, then EXIT STATUS from [`super::Exit`].
pub fn page() -> Vec<u8> {
    let cmd = super::Cli::command();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("EGRESSGEN")
        .date(MANUAL_DATE);
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let _ = man.render_subcommands_section(&mut out);
    for sub in cmd.get_subcommands() {
        let mut roff = Roff::new();
        roff.control(
            "SH",
            [format!("EGRESSGEN {}", sub.get_name().to_uppercase()).as_str()],
        );
        if let Some(about) = sub.get_about() {
            roff.text([roman(about.to_string())]);
        }
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set())
        {
            roff.control("TP", []);
            roff.text([bold(flag(arg))]);
            if let Some(help) = arg.get_help() {
                roff.text([roman(help.to_string())]);
            }
        }
        let _ = roff.to_writer(&mut out);
    }
    let mut status = Roff::new();
    status.control("SH", ["EXIT STATUS"]);
    for o in super::Exit::ALL {
        status.control("TP", []);
        status.text([bold(o.code().to_string())]);
        status.text([roman(o.meaning().replace('`', ""))]);
    }
    let _ = status.to_writer(&mut out);
    let _ = man.render_version_section(&mut out);
    out
}

/// `--out DIR`, `-q, --quiet`, or `RULESET` for a positional.
fn flag(arg: &clap::Arg) -> String {
    let value = arg.get_value_names().map(|v| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let takes = arg.get_action().takes_values();
    match (arg.get_short(), arg.get_long()) {
        (None, None) => value.unwrap_or_else(|| arg.get_id().to_string().to_uppercase()),
        (short, long) => {
            let mut names = Vec::new();
            if let Some(s) = short {
                names.push(format!("-{s}"));
            }
            if let Some(l) = long {
                names.push(format!("--{l}"));
            }
            let mut text = names.join(", ");
            if takes {
                let v = value.unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                text.push(' ');
                text.push_str(&v);
            }
            text
        }
    }
}
