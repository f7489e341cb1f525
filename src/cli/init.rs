//! `egressgen init FILE`: a commented ruleset from flags, or from a short prompt on a terminal.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use super::{Exit, Failure};
use crate::generate::{self, GenerateError};
use crate::ruleset::init::{self, Draft, InitError, Key};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ruleset file to write (TOML); never overwritten
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The site's name (lower-case letters, digits, '-', '_'): it names
    /// the output directory
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The Microsoft cloud: commercial, gcc, gcc-high or dod
    #[arg(long, value_name = "CLOUD")]
    pub cloud: Option<String>,
    /// Where the site's Defender data lives, beyond WW (repeatable), e.g.
    /// EU. Default: WW only
    #[arg(long = "geography", value_name = "G")]
    pub geographies: Vec<String>,
    /// A product (repeatable): mde, mdav, smart-screen, mma, mdi, portal,
    /// m365. Default: mde, mdav, smart-screen
    #[arg(long = "product", value_name = "P")]
    pub products: Vec<String>,
    /// The proxy devices are sent to; needed by the pac, windows, mdatp
    /// and mdi_sensor outputs
    #[arg(long, value_name = "HOST:PORT")]
    pub proxy: Option<String>,
    /// An output to configure (repeatable), as its [outputs.KIND] table
    /// names it, e.g. squid, pac, tls_bypass (the default three), plain,
    /// nftables, pfsense, azure_firewall, windows, mdatp, mdi_sensor
    #[arg(long = "output", value_name = "KIND")]
    pub outputs: Vec<String>,
    /// A Log Analytics workspace ID of the MMA agent (repeatable); only
    /// with --product mma, which needs one
    #[arg(long = "workspace-id", value_name = "GUID")]
    pub workspace_ids: Vec<String>,
    /// A Defender for Identity instance name (repeatable); only with
    /// --product mdi, which needs one
    #[arg(long = "mdi-instance", value_name = "NAME")]
    pub mdi_instances: Vec<String>,
}

/// Fills a draft from the flags, asks on a terminal for what is missing,
/// then writes the file once `generate`'s own checks (strict: no warning)
/// accept it.
pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    init::refuse_existing::<GenerateError>(&args.file).map_err(failure)?;
    let mut draft = Draft::default();
    let flags = [
        (Key::Name, args.name.iter().cloned().collect::<Vec<_>>()),
        (Key::Cloud, args.cloud.iter().cloned().collect()),
        (Key::Geographies, args.geographies.clone()),
        (Key::Products, args.products.clone()),
        (Key::WorkspaceIds, args.workspace_ids.clone()),
        (Key::MdiInstances, args.mdi_instances.clone()),
        (Key::Outputs, args.outputs.clone()),
        (Key::Proxy, args.proxy.iter().cloned().collect()),
    ];
    for (key, values) in flags {
        if !values.is_empty() {
            draft
                .set(key, &values)
                .map_err(|e| Failure::new(Exit::Usage, e))?;
        }
    }
    if std::io::stdin().is_terminal() {
        ask(&mut draft)?;
    }
    let answers = draft.finish().map_err(|e| {
        let e = if e.starts_with("missing ") {
            format!("{e} (no terminal to ask on: give them as flags)")
        } else {
            e
        };
        Failure::new(Exit::Usage, e)
    })?;
    // The output directory is no fault of the ruleset: checked apart, and
    // said after the ruleset is written.
    let opts = generate::RunOptions {
        strict: true,
        force: true,
        ..Default::default()
    };
    let mut summary = None;
    let mut refused = None;
    init::create(&args.file, &answers, |r| {
        generate::check(r, &opts, super::generate::Summary::of).map(|done| {
            refused = generate::preflight(r, &done.out_dir, false).err();
            summary = Some(done.policy)
        })
    })
    .map_err(failure)?;
    if let Some(e) = refused {
        let line = format!("egressgen: warning: {e}: `egressgen generate` refuses it as it is");
        eprintln!("{}", crate::model::text::terminal_safe(&line));
    }
    if !v.quiet {
        let counts = summary.map(|s| s.counts()).unwrap_or_default();
        super::print(&format!(
            "wrote {} ({counts})\n",
            crate::model::text::terminal_safe(&args.file.display().to_string())
        ));
    }
    Ok(Exit::Success)
}

/// One question per missing value, on stderr; an invalid answer is said
/// and asked again; the end of input aborts.
fn ask(draft: &mut Draft) -> super::Result<()> {
    let mut input = std::io::stdin().lock();
    while let Some(q) = draft.next_question() {
        loop {
            eprint!("{}", q.prompt());
            let mut line = String::new();
            let read = input
                .read_line(&mut line)
                .map_err(|e| Failure::new(Exit::Input, format!("reading an answer: {e}")))?;
            if read == 0 {
                eprintln!();
                return Err(Failure::new(
                    Exit::Usage,
                    "no answer (end of input): nothing written",
                ));
            }
            let answer = match (line.trim(), &q.default) {
                ("", Some(d)) => d.clone(),
                ("", None) => {
                    eprintln!("  an answer is needed");
                    continue;
                }
                (a, _) => a.to_string(),
            };
            match draft.set(q.key, &[answer]) {
                Ok(()) => break,
                Err(e) => eprintln!("  {e}"),
            }
        }
    }
    Ok(())
}

fn failure(e: InitError<GenerateError>) -> Failure {
    match e {
        InitError::Check(e) => Failure::from(e),
        InitError::Exists(_) | InitError::Write { .. } => Failure::new(Exit::Output, e),
        InitError::Invalid(_) => Failure::new(Exit::Input, e),
    }
}
