//! The one `--format` every command shares, each with its own subset.
//!
//! Each command accepts its own subset of [`Format`] (a catalog has no
//! JUnit form), checked by clap with the usual "possible values" error.
//! (`--resolve` is one value type too: [`crate::values::Resolve`].)

use std::ffi::OsStr;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

/// How a command prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text for a terminal.
    Text,
    /// Aligned columns (`catalog`).
    Table,
    /// One JSON document.
    Json,
    /// Comma-separated values.
    Csv,
    /// A Markdown document.
    Markdown,
    /// One self-contained HTML file.
    Html,
    /// JUnit XML for CI systems.
    Junit,
}

impl Format {
    const ALL: [Format; 7] = [
        Format::Text,
        Format::Table,
        Format::Json,
        Format::Csv,
        Format::Markdown,
        Format::Html,
        Format::Junit,
    ];

    /// Its value on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Junit => "junit",
        }
    }
}

/// The `--format` parser of a command that prints in these formats.
#[derive(Clone)]
pub struct Formats(pub &'static [Format]);

impl TypedValueParser for Formats {
    type Value = Format;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Format, clap::Error> {
        let names = self.0.iter().map(|f| f.name());
        let text = PossibleValuesParser::new(names).parse_ref(cmd, arg, value)?;
        Format::ALL
            .into_iter()
            .find(|f| f.name() == text)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.0.iter().map(|f| PossibleValue::new(f.name())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_takes_only_its_formats() {
        let cmd = clap::Command::new("t").arg(
            clap::Arg::new("format")
                .long("format")
                .value_parser(Formats(&[Format::Text, Format::Json])),
        );
        let m = cmd
            .clone()
            .try_get_matches_from(["t", "--format", "json"])
            .unwrap();
        assert_eq!(m.get_one::<Format>("format"), Some(&Format::Json));
        let e = cmd
            .try_get_matches_from(["t", "--format", "junit"])
            .unwrap_err();
        assert!(e.to_string().contains("possible values: text, json"), "{e}");
    }
}

/// Where the last good copies of `live:` sources are: the cache `refresh`
/// fills. Every command that reads a ruleset reads its `live:` sources
/// from there, so one ruleset serves them all.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct CacheArg {
    /// The cache of last good sources that `refresh` keeps; `live:`
    /// sources are read from it. Default: $EGRESSGEN_CACHE, else
    /// $CACHE_DIRECTORY (systemd), else $XDG_CACHE_HOME/egressgen, else
    /// ~/.cache/egressgen
    #[arg(long, value_name = "DIR")]
    pub cache: Option<std::path::PathBuf>,
}

impl CacheArg {
    /// The directory given or the default one; `None` only when no
    /// default can be found (no HOME).
    pub fn dir(&self) -> Option<std::path::PathBuf> {
        self.cache.clone().or_else(crate::cache::default_dir)
    }

    /// The cache to read `live:` sources from.
    pub fn reader(&self) -> Option<crate::cache::Cache> {
        self.dir().map(|d| crate::cache::Cache::reading(&d))
    }

    /// Says on stderr which copy of each `live:` source was used (not with
    /// `--quiet`): a result made from a cache is only as new as the copy.
    pub fn say_used(
        &self,
        used: &[(crate::sources::live::Live, crate::cache::Copy)],
        v: super::Verbosity,
    ) {
        if v.quiet {
            return;
        }
        let dir = self.dir().unwrap_or_default();
        for (live, copy) in used {
            eprintln!("{}", used_line(live, copy, &dir));
        }
    }
}

/// `live:learn-standard-commercial: the last good copy in the cache
/// /var/cache/egressgen (version 2026-11-20, sha256 3f2a…, from URL)`.
pub fn used_line(
    live: &crate::sources::live::Live,
    copy: &crate::cache::Copy,
    cache: &std::path::Path,
) -> String {
    let version = copy
        .version
        .as_deref()
        .map(|v| format!("version {}, ", crate::model::text::display_escape(v)))
        .unwrap_or_default();
    format!(
        "{live}: the last good copy in the cache {} ({version}sha256 {}, fetched from {})",
        cache.display(),
        copy.sha256.get(..12).unwrap_or(&copy.sha256),
        crate::model::text::display_escape(&copy.url)
    )
}

/// What `generate` and `check` both take: the rulesets and how a run of
/// them goes. One definition, so `check` cannot drift from `generate`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Ruleset files (TOML), e.g. rulesets/commercial-eu.toml
    #[arg(required = true, value_name = "RULESET")]
    pub rulesets: Vec<std::path::PathBuf>,
    /// Output directory. With one ruleset the files go straight into DIR,
    /// with several into DIR/NAME, NAME being each ruleset's name.
    /// Default: the ruleset's outputs.dir, else out/NAME, both relative
    /// to the ruleset file.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Only these output formats (comma-separated), e.g. --only plain
    #[arg(long, value_delimiter = ',', value_name = "FORMAT")]
    pub only: Option<Vec<String>>,
    /// Replace an output directory egressgen did not write (its files are
    /// listed, then removed). Without it such a directory is refused.
    #[arg(long)]
    pub force: bool,
    /// Skip (with a catalog note) a source table whose header is not
    /// recognised but which holds host names, instead of failing
    #[arg(long)]
    pub skip_unknown_tables: bool,
    /// Refuse (exit 3, nothing published) a ruleset with warnings: a
    /// placeholder left open, an exclude that applies to nothing, IDs for a
    /// product not selected, no outputs, an exemption for a host nothing allows
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub cache: CacheArg,
}

impl RunArgs {
    /// Each ruleset file, loaded (a failure is kept for its turn).
    pub fn load(
        &self,
    ) -> Vec<(
        &std::path::Path,
        Result<crate::ruleset::Ruleset, crate::ruleset::RulesetError>,
    )> {
        self.rulesets
            .iter()
            .map(|p| (p.as_path(), crate::ruleset::Ruleset::load(p)))
            .collect()
    }

    /// The run's options, `cache` being [`CacheArg::dir`]'s answer.
    pub fn options<'a>(
        &'a self,
        cache: Option<&'a std::path::Path>,
        dry_run: bool,
    ) -> crate::generate::RunOptions<'a> {
        crate::generate::RunOptions {
            out: self.out.as_deref(),
            only: self.only.as_deref(),
            force: self.force,
            skip_unknown_tables: self.skip_unknown_tables,
            strict: self.strict,
            cache,
            dry_run,
        }
    }
}
