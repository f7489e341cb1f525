//! Rulesets: a file holding one site and the outputs it wants, read from TOML.
//!
//! A file holding one site ([`crate::site`]) and the outputs it wants (the
//! `[outputs.*]` tables, typed from the backend registry), with the checks
//! that need both. Read from TOML; an unknown key or an invalid value is an
//! error naming the file, line and column.

pub mod devices;
pub mod init;
pub mod verify;
pub mod warnings;
pub mod words;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backends::registry::Outputs;
use crate::site::{AllowEntry, Proxy, RefreshGuards, Scope, Site, SiteValues, Sources, Tls};
use crate::values::{HostText, RulesetName};

/// A ruleset that failed to load.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RulesetError {
    #[error("{}: cannot read: {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
    /// `quote` is the line itself under the message, with a caret.
    #[error("{}:{line}:{column}: {message}{quote}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        quote: String,
    },
}

impl RulesetError {
    /// An error at `line`:`column` of `text`, in plain words, the line
    /// quoted.
    fn at(path: &Path, text: &str, (line, column): (usize, usize), message: &str) -> Self {
        let shown = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        RulesetError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message: words::plain(message, shown),
            quote: words::quote(text, line, column),
        }
    }
}

/// Where a setting is written: the first line that starts with it (past
/// indentation), never a comment that mentions it.
fn setting_line(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let rest = line.trim_start().strip_prefix(key)?;
        let next = rest.trim_start().chars().next();
        (key.starts_with('[') || next == Some('='))
            .then(|| (i + 1, line.len() - line.trim_start().len() + 1))
    })
}

/// Far above a real ruleset (45,000 `[[allow]]` entries are about 2 MB),
/// low enough that no input can exhaust memory.
const MAX_RULESET: u64 = 16 * 1024 * 1024;

/// A ruleset file: the site and its outputs.
#[derive(Clone, Debug)]
pub struct Ruleset {
    pub site: Site,
    pub outputs: Outputs,
    /// The `[verify]` table.
    pub verify: verify::VerifySettings,
    /// The file as written, to point warnings at their line.
    pub text: String,
}

/// The file as written: one flat table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: RulesetName,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    sources: Sources,
    scope: Scope,
    #[serde(default)]
    site: SiteValues,
    #[serde(default)]
    proxy: Proxy,
    #[serde(default)]
    tls: Tls,
    #[serde(default)]
    allow: Vec<AllowEntry>,
    #[serde(default)]
    exclude: Vec<HostText>,
    #[serde(default)]
    refresh: RefreshGuards,
    #[serde(default)]
    devices: crate::site::devices::Devices,
    #[serde(default)]
    outputs: Outputs,
    #[serde(default)]
    verify: verify::VerifySettings,
}

impl Ruleset {
    /// Reads and validates a ruleset file.
    pub fn load(path: &Path) -> Result<Ruleset, RulesetError> {
        let unreadable = |detail: String| RulesetError::Unreadable {
            path: path.to_path_buf(),
            detail,
        };
        let bytes =
            crate::input::read_limited(path, MAX_RULESET).map_err(|e| unreadable(e.to_string()))?;
        let text =
            String::from_utf8(bytes).map_err(|e| unreadable(format!("not UTF-8 text: {e}")))?;
        Ruleset::parse(&text, path)
    }

    /// Parses ruleset text; `path` is used in errors and to resolve
    /// relative source paths.
    pub fn parse(text: &str, path: &Path) -> Result<Ruleset, RulesetError> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| line_col(text, span.start))
                .unwrap_or((1, 1));
            RulesetError::at(path, text, at, e.message())
        })?;
        let ruleset = Ruleset {
            site: Site {
                name: raw.name,
                description: raw.description,
                sources: raw.sources,
                scope: raw.scope,
                values: raw.site,
                proxy: raw.proxy,
                tls: raw.tls,
                allow: raw.allow,
                exclude: raw.exclude,
                refresh: raw.refresh,
                devices: raw.devices,
                file: path.to_path_buf(),
            },
            outputs: raw.outputs,
            verify: raw.verify,
            text: text.to_string(),
        };
        // What devices are told must agree with what the proxy serves.
        let mismatches = devices::mismatches(&ruleset.site, &ruleset.outputs);
        if let Some((key, message)) = mismatches.into_iter().next() {
            let at = setting_line(text, key)
                .or_else(|| setting_line(text, "[devices]"))
                .unwrap_or((1, 1));
            return Err(RulesetError::at(path, text, at, &message));
        }
        Ok(ruleset)
    }

    /// Source specifications with file paths resolved against the
    /// ruleset's directory.
    pub fn source_specs(&self) -> Vec<crate::sources::SourceSpec> {
        self.site.source_specs()
    }

    /// The output directory when `generate` gets no `--out`: `[outputs]
    /// dir`, else `out/<name>`, relative to the ruleset's own file like
    /// every path written in it (the same wherever the command runs).
    pub fn default_out_dir(&self) -> PathBuf {
        let dir = match &self.outputs.dir {
            Some(dir) => dir.clone(),
            None => PathBuf::from("out").join(self.site.name.as_str()),
        };
        if dir.is_absolute() {
            return dir;
        }
        match self.site.file.parent() {
            Some(base) if !base.as_os_str().is_empty() => base.join(dir),
            _ => dir,
        }
    }
}

/// One-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Ruleset, String> {
        Ruleset::parse(text, Path::new("r.toml")).map_err(|e| e.to_string())
    }

    const MIN: &str = "name = \"site\"\n[scope]\ncloud = \"commercial\"\n";

    #[test]
    fn minimal_ruleset_takes_defaults() {
        let r = parse(MIN).unwrap();
        assert_eq!(r.site.sources.files, [crate::sources::SourceSpec::Baseline]);
        assert_eq!(r.site.scope.products.len(), 3);
        assert_eq!(r.site.scope.os.len(), 5);
        assert!(r.site.scope.include_optional);
        // `parse` reads "r.toml" in the working directory.
        assert_eq!(r.default_out_dir(), PathBuf::from("out/site"));
        let elsewhere = Ruleset::parse(MIN, Path::new("/etc/egressgen/r.toml")).unwrap();
        assert_eq!(
            elsewhere.default_out_dir(),
            PathBuf::from("/etc/egressgen/out/site")
        );
        let dir = Ruleset::parse(
            &format!("{MIN}[outputs]\ndir = \"x\"\n"),
            Path::new("sites/r.toml"),
        )
        .unwrap();
        assert_eq!(dir.default_out_dir(), PathBuf::from("sites/x"));
    }

    #[test]
    fn sources_are_parsed_with_the_ruleset() {
        let e = parse(&format!(
            "{MIN}[sources]\nfiles = [\"x.md\", \"builtin:nope\"]\n"
        ))
        .unwrap_err();
        assert!(
            e.starts_with("r.toml:5:9: unknown built-in source \"builtin:nope\" (known: baseline,"),
            "{e}"
        );
        let r = parse(&format!(
            "{MIN}[sources]\nfiles = [\"d/x.md\", \"builtin:mma\"]\n"
        ))
        .unwrap();
        assert_eq!(
            r.source_specs(),
            [
                crate::sources::SourceSpec::Path(PathBuf::from("d/x.md")),
                crate::sources::SourceSpec::Builtin(crate::sources::Builtin::Mma)
            ]
        );
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = parse(&format!("{MIN}colour = \"blue\"\n")).unwrap_err();
        assert!(
            e.starts_with("r.toml:4:1: unknown key \"colour\"; accepted: "),
            "{e}"
        );
        assert!(e.ends_with("\n  |\n4 | colour = \"blue\"\n  | ^"), "{e}");
        let e = parse(&format!("{MIN}[site]\nworkspace_ids = [\"not-a-guid\"]\n")).unwrap_err();
        assert!(e.starts_with("r.toml:5:"), "{e}");
        assert!(e.contains("not a GUID"), "{e}");
        let e = parse(&format!(
            "{MIN}[site]\nmdi_instances = [\"contoso.corp\"]\n"
        ))
        .unwrap_err();
        assert!(e.contains("no dot or space"), "{e}");
        let e = parse(&format!(
            "{MIN}[site]\nmdi_instances = [\"contoso corp\"]\n"
        ))
        .unwrap_err();
        assert!(e.contains("no dot or space"), "{e}");
        let e = parse("name = \"x\"\n[scope]\ncloud = \"mars\"\n").unwrap_err();
        assert!(e.starts_with("r.toml:3:9:"), "{e}");
        let e = parse(&format!("exclude = [\"*.com\"]\n{MIN}")).unwrap_err();
        assert!(e.contains("public suffix"), "{e}");
        let e = parse(&format!("{MIN}[outputs.plain]\nfile = \"../x\"\n")).unwrap_err();
        assert!(e.contains("no directories"), "{e}");
    }

    #[test]
    fn values_are_normalized() {
        let r = parse(&format!(
            "{MIN}[site]\nworkspace_ids = [\"0E2B1D6C-1111-2222-3333-444455556666\"]\nmdi_instances = [\"Contoso-Corp\"]\n"
        ))
        .unwrap();
        assert_eq!(
            r.site.values.workspace_ids[0].as_str(),
            "0e2b1d6c-1111-2222-3333-444455556666"
        );
        assert_eq!(r.site.values.mdi_instances[0].as_str(), "contoso-corp");
    }
}
