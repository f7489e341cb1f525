//! `egressgen catalog`: the normalized catalog as a table, JSON or CSV.

use std::io::Write;

use super::args::{Format, Formats};
use crate::model::prefix::PrefixRules;
use crate::sources::ReadOptions;
use crate::sources::catalog_text::{to_csv, to_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A Microsoft file (.xlsx workbook, Learn-page .md table, service-tag
    /// or Microsoft 365 .json), `builtin:mma`, `builtin:mdi`, `builtin:tls-guidance`,
    /// `builtin:tag-hosts`, `builtin:fqdn-tags`, `baseline`, or a live
    /// source (`live:learn-standard-commercial`, ...: the last good copy
    /// `refresh` keeps in the cache). Repeatable. Without any, the
    /// built-in baseline is shown.
    #[arg(long = "source", value_name = "FILE")]
    pub sources: Vec<crate::sources::SourceSpec>,
    /// Output format
    #[arg(long, default_value = "table", value_parser = Formats(&[Format::Table, Format::Json, Format::Csv]))]
    pub format: Format,
    /// Also select this service tag (and its regional variants) from
    /// service-tag files. Repeatable.
    #[arg(long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// Shortest IPv4 prefix accepted
    #[arg(long, default_value_t = PrefixRules::default().min_v4, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub min_prefix_v4: u8,
    /// Shortest IPv6 prefix accepted
    #[arg(long, default_value_t = PrefixRules::default().min_v6, value_parser = clap::value_parser!(u8).range(1..=128))]
    pub min_prefix_v6: u8,
    /// Exit with status 3 when any cell was rejected
    #[arg(long)]
    pub strict: bool,
    /// Skip (with a catalog note) a source table whose header is not
    /// recognised but which holds host names, instead of failing
    #[arg(long)]
    pub skip_unknown_tables: bool,
    #[command(flatten)]
    pub cache: super::args::CacheArg,
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let opts = ReadOptions {
        extra_tags: args.tags.clone(),
        prefix_rules: PrefixRules {
            min_v4: args.min_prefix_v4,
            min_v6: args.min_prefix_v6,
        },
        skip_unknown_tables: args.skip_unknown_tables,
    };
    let mut sources = crate::generate::SourceCache::new(opts).live_from(args.cache.reader());
    let catalog = sources.catalog(&args.sources)?;
    args.cache.say_used(sources.used(), v);
    let text = match args.format {
        Format::Json => crate::sources::catalog_json::to_json(&catalog),
        Format::Csv => to_csv(&catalog),
        _ => to_table(&catalog),
    };
    // A closed pipe (`| head`) is not an error worth a message.
    if !v.quiet {
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
    if args.strict && !catalog.rejected.is_empty() {
        tracing::error!(
            rejected = catalog.rejected.len(),
            "--strict: cells were rejected"
        );
        return Ok(super::Exit::Rejected);
    }
    Ok(super::Exit::Success)
}
