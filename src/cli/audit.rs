//! `egressgen audit`: checks configurations against the policy of a ruleset.
//!
//! `egressgen audit --ruleset R CONFIG...`: checks existing proxy and
//! firewall configurations against the policy `generate` would build from
//! the same ruleset.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;

use super::args::{Format, Formats};
use crate::audit::report::{Gate, Style, to_json, to_markdown, to_text};
use crate::audit::setup::{self, Request};
use crate::generate;
use crate::ruleset::Ruleset;
use crate::values::Resolve;

use super::{Exit, Failure};

/// What makes `audit` exit non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum FailOn {
    /// An entry partly covered or missing
    Gaps,
    /// A must-not-inspect host inspected, or a storage wildcard exempted
    Tls,
    /// A line admitting far more than the policy needs
    Broad,
    /// An entry or line the reader cannot evaluate
    Undecidable,
    /// An allow-all line, an open proxy, or tunnels to any port
    Security,
}

impl FailOn {
    fn gate(self) -> Gate {
        match self {
            FailOn::Gaps => Gate::Gaps,
            FailOn::Tls => Gate::Tls,
            FailOn::Broad => Gate::Broad,
            FailOn::Undecidable => Gate::Undecidable,
            FailOn::Security => Gate::Security,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ruleset whose policy the configurations must carry
    #[arg(long, value_name = "RULESET")]
    pub ruleset: PathBuf,
    /// Configurations to audit (a squid.conf with its includes, …)
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// The kind of every CONFIG, instead of recognising it by name and content
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// The device address source-address tests (Squid `src`) are judged for;
    /// default the first address of the ruleset's Squid `clients`
    #[arg(long, value_name = "IP")]
    pub client: Option<IpAddr>,
    /// Answer a name lookup of a PAC file (`dnsResolve`, `isInNet`): HOST:IP,
    /// repeatable; a lookup with no answer here makes the request undecidable
    #[arg(long, value_name = "HOST:IP", value_parser = Resolve::parse_lookup)]
    pub resolve: Vec<Resolve>,
    /// More lookup answers from a file in hosts(5) form (`IP NAME...`);
    /// --resolve wins over it
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Where the proxy's `/` is when auditing a copy of its files taken off
    /// the box: absolute paths in the configuration (`include
    /// /etc/squid/conf.d/*.conf`, ACL files) are read below DIR
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The proxy port devices send to: TLS inspection is judged by the
    /// Squid `http_port` listening there (default: the ports of the
    /// ruleset's `[proxy]` addresses)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Service-tag JSON whose prefixes answer for tags a firewall rule
    /// names that the ruleset's sources do not hold
    #[arg(long, value_name = "FILE")]
    pub service_tags: Option<PathBuf>,
    /// How the report is printed: text, JSON (docs/audit-json.md), Markdown, or
    /// one self-contained HTML file (a chart per product, a sortable table)
    #[arg(long, default_value = "text", value_parser = Formats(&[Format::Text, Format::Json, Format::Markdown, Format::Html]))]
    pub format: Format,
    /// What fails the run (repeat or comma-separate)
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [FailOn::Gaps, FailOn::Tls, FailOn::Security])]
    pub fail_on: Vec<FailOn>,
    /// List every entry covered more broadly (a wider line admits it)
    /// instead of counting them; `-v` does too
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub cache: super::args::CacheArg,
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let ruleset = Ruleset::load(&args.ruleset)?;
    let (policy, used) = generate::policy_with(&ruleset, args.cache.reader())?;
    args.cache.say_used(&used, v);
    let request = Request {
        configs: &args.configs,
        kind: args.kind.as_deref(),
        client: args.client,
        resolve: &args.resolve,
        hosts: args.hosts.as_deref(),
        service_tags: args.service_tags.as_deref(),
        root: args.root.as_deref(),
        port: args.port,
    };
    let mut report = setup::run(&request, &ruleset, &policy)
        .map_err(|e| {
            let e = e.to_string();
            let hint = if e.contains("Unable to find") || e.contains("Can not open") {
                not_installed(&args.configs)
            } else {
                String::new()
            };
            Failure::new(Exit::Input, format!("{e}{hint}"))
        })?
        .with_sources(&policy.sources)
        .with_run_at(now_utc());
    let gates: Vec<Gate> = args.fail_on.iter().map(|f| f.gate()).collect();
    // One decision for the exit status and the verdict the report opens with.
    let tripped = report.judge(&gates, |t| exit_of(t).code());
    if !v.quiet || args.format != Format::Text {
        let style = Style {
            colour: std::io::stdout().is_terminal(),
            all: args.all || v.verbose > 0,
        };
        let text = match args.format {
            Format::Json => to_json(&report),
            Format::Markdown => to_markdown(&report, style),
            Format::Html => crate::audit::html::to_html(&report),
            _ => to_text(&report, style),
        };
        super::print(&text);
    }
    Ok(exit_of(tripped))
}

/// A hint when a configuration is a generated one read where it was
/// generated: its paths name the proxy's install directory, not this one.
fn not_installed(configs: &[std::path::PathBuf]) -> String {
    let generated = configs.iter().any(|c| {
        c.parent()
            .is_some_and(|d| d.join(crate::backends::squid::INSTALL_SCRIPT).is_file())
    });
    if generated {
        format!(
            "\n(a generated Squid configuration names its files where they are installed on the proxy, `[outputs.squid] install_dir`: audit the installed copy, run {} first, or map a copy with --root DIR)",
            crate::backends::squid::INSTALL_SCRIPT
        )
    } else {
        String::new()
    }
}

/// The exit status of what failed the run (the most severe gate).
fn exit_of(tripped: Option<Gate>) -> Exit {
    match tripped {
        None => Exit::Success,
        Some(Gate::Tls) => Exit::AuditTls,
        Some(Gate::Security) => Exit::AuditSecurity,
        Some(Gate::Gaps) => Exit::AuditGaps,
        Some(Gate::Broad) => Exit::AuditBroad,
        Some(Gate::Undecidable) => Exit::AuditUndecidable,
    }
}

/// The time of the run for the HTML page, to the minute, in UTC.
fn now_utc() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}
