//! `egressgen explain HOST [--ruleset R] [--port N]`.

use std::path::{Path, PathBuf};

use super::args::{Format, Formats};
use crate::error::Error;
use crate::explain::{Verdict, explain, to_text};
use crate::generate;
use crate::model::DnsName;
use crate::ruleset::Ruleset;

/// The ruleset `explain` uses without `--ruleset`: commercial cloud,
/// worldwide endpoints, every OS, Defender for Endpoint, Antivirus and
/// SmartScreen, on the built-in baseline.
pub const DEFAULT_RULESET: &str = r#"
name = "default"
description = "commercial cloud, worldwide endpoints, all operating systems, MDE + Defender Antivirus + SmartScreen"
[scope]
cloud = "commercial"
[outputs.plain]
"#;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Host name to explain (e.g. winatp-gw-cus.microsoft.com)
    pub host: String,
    /// Ruleset to explain against (default: a built-in commercial one)
    #[arg(long, value_name = "RULESET")]
    pub ruleset: Option<PathBuf>,
    /// TCP port of the connection
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    #[arg(long, default_value = "text", value_parser = Formats(&[Format::Text, Format::Json]))]
    pub format: Format,
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let host = DnsName::parse(args.host.trim()).map_err(|e| Error::BadHost {
        host: crate::model::text::display_escape(&args.host),
        detail: e.to_string(),
    })?;
    let ruleset = match &args.ruleset {
        Some(path) => Ruleset::load(path),
        None => Ruleset::parse(DEFAULT_RULESET, Path::new("default ruleset")),
    }?;
    let policy = generate::policy_for(&ruleset)?;
    let backends = generate::select_backends(&ruleset, None)?;
    let out = ruleset.default_out_dir();
    let rendered = generate::render_all(&policy, &ruleset, &backends, &out)?;
    let x = explain(&policy, &rendered, &host, args.port);
    match args.format {
        // `-q`: the exit status answers, as with `grep -q`.
        _ if v.quiet => {}
        Format::Json => super::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&x)
                .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
        )),
        _ => super::print(&to_text(&x)),
    }
    Ok(if x.verdict == Verdict::NotAllowed {
        super::Outcome::No
    } else {
        super::Outcome::Success
    })
}
