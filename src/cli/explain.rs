//! `egressgen explain HOST [--ruleset R] [--port N]`.

use std::path::PathBuf;

use super::args::{Format, Formats};
use crate::error::Error;
use crate::explain::{Answer, default_ruleset, explain_ruleset, to_text};
use crate::model::DnsName;
use crate::ruleset::Ruleset;

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
    #[command(flatten)]
    pub cache: super::args::CacheArg,
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let host = DnsName::parse(args.host.trim()).map_err(|e| Error::BadHost {
        host: crate::model::text::display_escape(&args.host),
        detail: e.to_string(),
    })?;
    let ruleset = match &args.ruleset {
        Some(path) => Ruleset::load(path),
        None => default_ruleset(),
    }?;
    let (policy, used) = crate::generate::policy_with(&ruleset, args.cache.reader())?;
    args.cache.say_used(&used, v);
    let x = explain_ruleset(&ruleset, &policy, &host, args.port)?;
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
    Ok(if x.verdict == Answer::NotAllowed {
        super::Exit::No
    } else {
        super::Exit::Success
    })
}
