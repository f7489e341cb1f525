//! `egressgen diff A B`: what changed between two sources, catalogs, policies, outputs.
//!
//! What changed between two source files, catalogs, `policy.json` files or
//! output directories. Exit 0 when they are the same, 1 when they differ,
//! like diff(1).

use super::args::{Format, Formats};
use crate::diff;
use crate::model::prefix::PrefixRules;
use crate::sources::{ReadOptions, SourceSpec};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The old side: a source file, catalog JSON, `baseline`, a live
    /// source (its last good copy in the cache), a policy.json, or an
    /// output directory
    #[arg(value_name = "A")]
    pub a: SourceSpec,
    /// The new side, of the same kind as A
    #[arg(value_name = "B")]
    pub b: SourceSpec,
    #[arg(long, default_value = "text", value_parser = Formats(&[Format::Text, Format::Markdown, Format::Json]))]
    pub format: Format,
    /// Also compare this service tag (and its regional variants) of
    /// service-tag files. Repeatable.
    #[arg(long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
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
        prefix_rules: PrefixRules::default(),
        skip_unknown_tables: args.skip_unknown_tables,
    };
    let input = |e: diff::DiffError| super::Failure::new(super::Exit::Input, e);
    let mut sources = crate::generate::SourceCache::new(opts).live_from(args.cache.reader());
    let a = diff::read_side(&args.a, &mut sources).map_err(input)?;
    let b = diff::read_side(&args.b, &mut sources).map_err(input)?;
    args.cache.say_used(sources.used(), v);
    let report = diff::compare(&a, &b, (&args.a.to_string(), &args.b.to_string()))
        .map_err(|e| super::Failure::new(super::Exit::Usage, e))?;
    if !v.quiet {
        let text = match args.format {
            Format::Markdown => report.to_markdown(),
            Format::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            ),
            _ => report
                .to_text()
                .lines()
                .map(|l| crate::model::text::terminal_safe(l) + "\n")
                .collect(),
        };
        super::print(&text);
    }
    Ok(if report.is_empty() {
        super::Exit::Success
    } else {
        super::Exit::No
    })
}
