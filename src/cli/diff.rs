//! `egressgen diff A B`: what changed between two source files, catalogs,
//! `policy.json` files or output directories. Exit 0 when they are the
//! same, 1 when they differ, like diff(1).

use super::args::{Format, Formats};
use std::path::Path;

use crate::diff::{self, Side};
use crate::model::prefix::PrefixRules;
use crate::sources::{ReadOptions, SourceSpec};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The old side: a source file, catalog JSON, `baseline`, a
    /// policy.json, or an output directory
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
}

pub fn run(args: &Args, v: super::Verbosity) -> super::Result {
    let opts = ReadOptions {
        extra_tags: args.tags.clone(),
        prefix_rules: PrefixRules::default(),
        skip_unknown_tables: args.skip_unknown_tables,
    };
    let a = side(&args.a, &opts)?;
    let b = side(&args.b, &opts)?;
    let report = diff::compare(&a, &b, (&args.a.to_string(), &args.b.to_string()))
        .map_err(|e| super::Failure::new(super::Outcome::Usage, e))?;
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
        super::Outcome::Success
    } else {
        super::Outcome::No
    })
}

/// Reads one side: an output directory, a `policy.json`, catalog JSON (as
/// `catalog --format json` or `baseline` writes it), or anything a
/// `--source` takes.
fn side(spec: &SourceSpec, opts: &ReadOptions) -> super::Result<Side> {
    let input = |e: diff::DiffError| super::Failure::new(super::Outcome::Input, e);
    if let Some(path) = spec.path() {
        if path.is_dir() {
            return diff::read_dir(path).map_err(input);
        }
        if let Some(side) = own_json(path).map_err(input)? {
            return Ok(side);
        }
    }
    let catalog =
        crate::generate::SourceCache::new(opts.clone()).catalog(std::slice::from_ref(spec))?;
    Ok(Side::Catalog(Box::new(catalog)))
}

/// A JSON file egressgen wrote (policy or catalog), told by its `format`.
fn own_json(path: &Path) -> Result<Option<Side>, diff::DiffError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        return Ok(None);
    }
    let unreadable = |detail: String| diff::DiffError::Unreadable {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = crate::input::read_limited(path, 256 * 1024 * 1024)
        .map_err(|e| unreadable(e.to_string()))?;
    #[derive(serde::Deserialize)]
    struct Head {
        format: Option<String>,
    }
    let format = serde_json::from_slice::<Head>(&bytes)
        .ok()
        .and_then(|h| h.format);
    match format.as_deref() {
        Some("egressgen-policy") => crate::policy::Policy::from_json(&bytes)
            .map(|p| Some(Side::Policy(Box::new(p))))
            .map_err(|e| unreadable(e.to_string())),
        Some(crate::model::CATALOG_FORMAT) => {
            let text = String::from_utf8(bytes).map_err(|e| unreadable(e.to_string()))?;
            crate::sources::baseline::parse(&text)
                .map(|c| Some(Side::Catalog(Box::new(c))))
                .map_err(|e| unreadable(e.to_string()))
        }
        _ => Ok(None),
    }
}
