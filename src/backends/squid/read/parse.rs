//! Reading squid.conf and what it includes, as Squid 5.7 reads them.
//!
//! Statement by statement, as `parseOneConfigFile` does.
//! What Squid refuses (a FATAL from `squid -k parse`) is an error naming
//! the line Squid names, or the line it stopped at when it names none;
//! what Squid reads past while saying it ignores it (an unknown or
//! obsolete directive, a malformed `http_access`, a domain already covered
//! by another in its ACL) is an [`IgnoredLine`]. Two deliberate
//! differences: an ACL file Squid cannot open and a regular expression it
//! cannot compile are errors here (Squid says ERROR and runs with the ACL
//! missing part of what is written; a verdict on that would be a guess).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::acl::{self, Overlap};
use super::lex::{self, Macros, Statement, Token};
use super::{Acl, Rule, SquidConfig, Test};
use crate::backends::reader::{IgnoredLine, Options, Origin, ReadError, Undecidable, shown};
use crate::backends::squid::directives;

/// Unknown directives that get a "did you mean": the rest are reported
/// without one.
const MAX_SUGGESTIONS: usize = 16;

/// The worker whose reading the audit takes. With Squid's default
/// `workers 1`, Squid (Debian's unit runs `squid --foreground`) forks one
/// worker, `squid-1`, which reads the configuration with
/// `${process_number}` 1 and serves every request; the master process,
/// and `squid -k parse`, read it with 0 (checked: a live Squid listened
/// on the port of the `if ${process_number} = 1` branch, and `squid
/// --kid squid-1 -k parse` reads that branch).
const WORKER: Macros = Macros { kid: 1 };
const MASTER: Macros = Macros { kid: 0 };

/// Reads a configuration as worker 1 does. A configuration that uses
/// `${process_number}` is read again as the master (and `squid -k parse`)
/// reads it: Squid starts only if both readings are accepted, and what
/// either ignores is reported.
pub(super) fn read(path: &Path, options: &Options) -> Result<SquidConfig, ReadError> {
    let mut worker = Parser::new(options, WORKER);
    worker.main(path)?;
    if worker.process_dependent {
        let mut master = Parser::new(options, MASTER);
        master.main(path).map_err(as_master)?;
        for line in master.conf.ignored {
            if !worker.conf.ignored.contains(&line) {
                worker.conf.ignored.push(line);
            }
        }
    }
    Ok(worker.finish())
}

/// An error only the master's reading (`${process_number}` 0) meets.
fn as_master(e: ReadError) -> ReadError {
    let note = " (as Squid's master process and squid -k parse read it, with ${process_number} 0)";
    match e {
        ReadError::Syntax { at, detail } => ReadError::Syntax {
            at,
            detail: detail + note,
        },
        ReadError::Limit { file, detail } => ReadError::Limit {
            file,
            detail: detail + note,
        },
        other => other,
    }
}

/// A file being read: where it is, how it is shown, and the include line
/// that opened it.
struct Open {
    key: PathBuf,
    name: String,
    from: Option<Origin>,
}

struct Parser<'o> {
    options: &'o Options,
    macros: Macros,
    conf: SquidConfig,
    stack: Vec<Open>,
    /// Bytes and files read so far (a file included twice counts twice).
    bytes: u64,
    reads: usize,
    /// Each file's text, read once however often it is included (a file
    /// included 2,000 times is opened once).
    texts: HashMap<PathBuf, Rc<str>>,
    listed: HashSet<String>,
    overlaps: HashMap<String, Overlap>,
    /// `configuration_includes_quoted_values on`.
    quoted_values: bool,
    workers: Option<String>,
    /// Whether a line (read or not) uses `${process_number}`; the `if`
    /// lines whose condition does.
    process_dependent: bool,
    process_ifs: Vec<Origin>,
    suggestions: usize,
    /// Directive lines and ACL values read so far.
    items: usize,
    /// Bytes the regular expressions read so far take compiled.
    regex_bytes: usize,
}

fn fatal(at: &Origin, words: impl std::fmt::Display) -> ReadError {
    ReadError::Syntax {
        at: at.clone(),
        detail: format!("Squid refuses the configuration here: {words}"),
    }
}

impl<'o> Parser<'o> {
    fn new(options: &'o Options, macros: Macros) -> Parser<'o> {
        Parser {
            options,
            macros,
            conf: SquidConfig::default(),
            stack: Vec::new(),
            bytes: 0,
            reads: 0,
            texts: HashMap::new(),
            listed: HashSet::new(),
            overlaps: HashMap::new(),
            quoted_values: false,
            workers: None,
            process_dependent: false,
            process_ifs: Vec::new(),
            suggestions: 0,
            items: 0,
            regex_bytes: 0,
        }
    }

    fn main(&mut self, path: &Path) -> Result<(), ReadError> {
        self.file(path, None)
    }

    /// With several workers, each reads its own branch of a condition on
    /// `${process_number}`: the audit read worker 1's, and says so.
    fn finish(mut self) -> SquidConfig {
        let workers = self.workers.take().unwrap_or_else(|| "1".to_string());
        if workers != "1" {
            for at in std::mem::take(&mut self.process_ifs) {
                self.conf.undecidable.push(Undecidable {
                    at,
                    why: format!(
                        "workers {workers}: each Squid process reads its own branch of this condition on ${{process_number}}; the audit read worker 1's"
                    ),
                });
            }
        }
        self.conf
    }

    /// `n` more items (directive lines, ACL values) against the limit.
    fn count(&mut self, at: &Origin, n: usize) -> Result<(), ReadError> {
        self.items = self.items.saturating_add(n);
        let limit = self.options.limits.items;
        if self.items > limit {
            return Err(ReadError::Limit {
                file: at.to_string(),
                detail: format!(
                    "more than {limit} directive lines and ACL values together (the audit holds each in memory)"
                ),
            });
        }
        Ok(())
    }

    /// A file's text, read once; every read counts against the limits.
    fn load(&mut self, path: &Path) -> Result<Rc<str>, ReadError> {
        let limits = self.options.limits;
        if self.reads >= limits.files {
            return Err(ReadError::Limit {
                file: shown(path),
                detail: format!("more than {} files", limits.files),
            });
        }
        let text = match self.texts.get(path) {
            Some(t) => t.clone(),
            None => {
                // fopen(3) opens a directory and fgets(3) reads nothing
                // from it: Squid reads a directory as an empty file.
                let t = match std::fs::metadata(path) {
                    Ok(m) if m.is_dir() => Rc::from(""),
                    _ => read_text(path, limits.file_bytes)?,
                };
                self.texts.insert(path.to_path_buf(), t.clone());
                t
            }
        };
        self.reads += 1;
        self.bytes += text.len() as u64;
        if self.bytes > limits.total_bytes {
            return Err(ReadError::Limit {
                file: shown(path),
                detail: format!(
                    "the configuration and its files exceed {} bytes together",
                    limits.total_bytes
                ),
            });
        }
        let name = shown(path);
        if self.listed.insert(name.clone()) {
            self.conf.files.push(name);
        }
        Ok(text)
    }

    fn file(&mut self, path: &Path, from: Option<&Origin>) -> Result<(), ReadError> {
        // A loop is found by the path as written: one through another
        // spelling (a symlink, `./`) ends at the depth limit, an error too.
        let key = path.to_path_buf();
        if let Some(first) = self.stack.iter().position(|o| o.key == key) {
            return Err(self.include_loop(first, path, from));
        }
        // Squid reads the main file at depth 0 and refuses depth 17.
        if self.stack.len() > self.options.limits.depth {
            return Err(ReadError::Limit {
                file: from.map_or_else(|| shown(path), Origin::to_string),
                detail: format!(
                    "can't include {}: includes are nested too deeply (>{})",
                    shown(path),
                    self.options.limits.depth
                ),
            });
        }
        let text = self.load(path)?;
        self.stack.push(Open {
            key,
            name: shown(path),
            from: from.cloned(),
        });
        let read = self.lines(path, &text);
        self.stack.pop();
        read
    }

    /// An include of a file already being read. Squid has no loop check:
    /// it follows the loop 16 levels deep and stops with `can't include
    /// FILE: includes are nested too deeply (>16)`, naming no line.
    fn include_loop(&self, first: usize, path: &Path, from: Option<&Origin>) -> ReadError {
        let mut chain: Vec<String> = self.stack[first + 1..]
            .iter()
            .filter_map(|o| Some(format!("{} includes {}", o.from.as_ref()?, o.name)))
            .collect();
        let at = from.map_or_else(|| shown(path), Origin::to_string);
        chain.push(format!("{at} includes {}", shown(path)));
        ReadError::Limit {
            file: at,
            detail: format!(
                "include loop: {}; Squid follows it until includes are nested too deeply (>16) and refuses the configuration",
                chain.join(", ")
            ),
        }
    }

    /// The statements of one file. Conditions are Squid's: the state of
    /// each open `if` is kept per file, and only the innermost decides
    /// whether a line is read (`if_states.back()`), so lines under `if
    /// true` nested in `if false` are read, as Squid reads them.
    fn lines(&mut self, path: &Path, text: &str) -> Result<(), ReadError> {
        let name = shown(path);
        let mut conds: Vec<(bool, Origin)> = Vec::new();
        for (line, raw) in lex::logical_lines(text) {
            let at = Origin {
                file: name.clone(),
                line,
            };
            let per_process = raw.contains("${process_number}");
            self.process_dependent |= per_process;
            let line = lex::expand(raw, self.macros);
            match lex::statement(&line) {
                Statement::If(expr) => {
                    let value = lex::condition(expr).map_err(|e| fatal(&at, e))?;
                    if per_process {
                        self.process_ifs.push(at.clone());
                    }
                    conds.push((value, at));
                }
                Statement::Else => match conds.last_mut() {
                    Some((value, _)) => *value = !*value,
                    None => return Err(fatal(&at, "'else' without 'if'")),
                },
                Statement::Endif => {
                    if conds.pop().is_none() {
                        return Err(fatal(&at, "'endif' without 'if'"));
                    }
                }
                Statement::Line if conds.last().is_none_or(|(taken, _)| *taken) => {
                    self.directive(at, &line)?;
                }
                Statement::Line => {}
            }
        }
        match conds.last() {
            // Squid says so at the end of the file, naming no line.
            Some((_, at)) => Err(fatal(at, "if-statement without 'endif'")),
            None => Ok(()),
        }
    }

    fn directive(&mut self, at: Origin, line: &str) -> Result<(), ReadError> {
        self.count(&at, 1)?;
        if let Some(paths) = lex::include_paths(line) {
            return self.include(&at, paths);
        }
        let (name, rest) = lex::directive(line);
        match name {
            "acl" => self.acl(at, rest),
            "http_access" => self.http_access(at, rest),
            "ssl_bump" => self.ssl_bump(at, rest),
            "http_port" | "https_port" => {
                let words = lex::words(rest);
                let bumps = words.contains(&"ssl-bump");
                if bumps && self.conf.bump_port.is_none() {
                    self.conf.bump_port = Some(at.clone());
                }
                let port = words.first().and_then(|a| listen_port(a));
                self.conf.listens.push((port, bumps, at));
                Ok(())
            }
            "workers" => {
                self.workers = lex::words(rest).first().map(|w| w.to_string());
                Ok(())
            }
            "configuration_includes_quoted_values" => {
                self.quoted_values = match lex::words(rest).first() {
                    Some(&"on") => true,
                    Some(&"off") => false,
                    _ => {
                        return Err(fatal(
                            &at,
                            "ERROR: Invalid option: Boolean options can only be 'on' or 'off'.",
                        ));
                    }
                };
                Ok(())
            }
            known if directives::known(known) => {
                if let Some(why) = directives::ignored(known) {
                    self.ignore(at, format!("Squid ignores this line: {why}"));
                }
                Ok(())
            }
            unknown => {
                self.unknown(at, unknown);
                Ok(())
            }
        }
    }

    fn ignore(&mut self, at: Origin, why: String) {
        self.conf.ignored.push(IgnoredLine { at, why });
    }

    fn unknown(&mut self, at: Origin, name: &str) {
        // A suggestion for the first lines only: a file of garbage costs
        // a bounded number of comparisons.
        let hint = (self.suggestions < MAX_SUGGESTIONS)
            .then(|| directives::suggestion(name))
            .flatten()
            .map(|d| format!(" (did you mean {d}?)"))
            .unwrap_or_default();
        self.suggestions += 1;
        self.ignore(
            at,
            format!(
                "{name} is not a Squid directive{hint}: the line has no effect, and squid -k parse fails on it"
            ),
        );
    }

    /// Where Squid opens a path a configuration names. A relative path is
    /// opened from Squid's working directory, as fopen(3) and glob(3)
    /// resolve it, not from the including file's directory: `squid -k
    /// parse -f /etc/squid/squid.conf` run from /tmp does not find
    /// `include conf.d/x.conf` (checked), and neither does the audit run
    /// from there. Under `--root` (a copy taken off the box) a relative
    /// path is read below ROOT, as from `/`: systemd starts Squid there
    /// (after `squid -k reconfigure` it reads again from its
    /// coredump_dir, which the audit does not follow).
    fn locate(&self, path: &Path) -> PathBuf {
        match &self.options.root {
            Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        }
    }

    /// `include` as `parseManyConfigFiles`: every path is globbed first
    /// (glob(3): sorted, `*` matches no leading dot, a path that matches
    /// nothing is fatal even without a wildcard), then the files are read
    /// in that order.
    fn include(&mut self, at: &Origin, paths: &str) -> Result<(), ReadError> {
        let mut files = Vec::new();
        for word in lex::include_words(paths) {
            let full = self.locate(Path::new(&word));
            let found = if word.contains(['*', '?', '[']) {
                self.glob(at, &full, &word)?
            } else if self.texts.contains_key(&full) || full.symlink_metadata().is_ok() {
                // What glob(3) does with a plain path, without a directory walk.
                vec![full]
            } else {
                Vec::new()
            };
            if found.is_empty() {
                return Err(self.not_found(at, &word));
            }
            files.extend(found);
        }
        for f in files {
            self.file(&f, Some(at))?;
        }
        Ok(())
    }

    fn glob(&self, at: &Origin, full: &Path, word: &str) -> Result<Vec<PathBuf>, ReadError> {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let pattern = full.to_string_lossy();
        let found = glob::glob_with(&pattern, options).map_err(|e| ReadError::Syntax {
            at: at.clone(),
            detail: format!("include {word}: {e}"),
        })?;
        // The glob is walked lazily: a pattern over the whole file system
        // stops at the file limit instead of listing it all.
        let limit = self.options.limits.files;
        let mut list: Vec<PathBuf> = found.filter_map(Result::ok).take(limit + 1).collect();
        if list.len() > limit {
            return Err(ReadError::Limit {
                file: at.to_string(),
                detail: format!("include {word} matches more than {limit} files"),
            });
        }
        list.sort_by(|a, b| {
            a.as_os_str()
                .as_encoded_bytes()
                .cmp(b.as_os_str().as_encoded_bytes())
        });
        Ok(list)
    }

    fn not_found(&self, at: &Origin, word: &str) -> ReadError {
        let hint = match (Path::new(word).is_relative(), std::env::current_dir()) {
            (true, Ok(cwd)) if self.options.root.is_none() => format!(
                " (a relative path is opened from Squid's working directory, here {}; from / when systemd starts Squid; never from the including file's directory)",
                cwd.display()
            ),
            _ => String::new(),
        };
        fatal(
            at,
            format!("FATAL: Unable to find configuration file: {word}{hint}"),
        )
    }

    /// Whether a rule may name `name` here: Squid looks ACLs up as it reads
    /// a rule, so an ACL defined after the line that uses it is fatal.
    fn defined(&self, at: &Origin, name: &str) -> Result<(), ReadError> {
        if self.conf.acls.contains_key(name) || is_builtin(name) {
            Ok(())
        } else {
            Err(fatal(at, format!("ACL not found: {name}")))
        }
    }

    fn conditions(&self, at: &Origin, names: &[&str]) -> Result<Vec<(bool, String)>, ReadError> {
        names
            .iter()
            .map(|n| {
                let (negated, name) = match n.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, *n),
                };
                self.defined(at, name)?;
                Ok((negated, name.to_string()))
            })
            .collect()
    }

    /// `http_access`: a line without an action, with another action, or
    /// without ACLs is skipped by Squid with a message, not refused.
    fn http_access(&mut self, at: Origin, rest: &str) -> Result<(), ReadError> {
        let words = lex::words(rest);
        let skipped = match words.split_first() {
            None => Some("missing 'allow' or 'deny'.".to_string()),
            Some((action, _)) if !matches!(*action, "allow" | "deny") => {
                Some(format!("expecting 'allow' or 'deny', got '{action}'."))
            }
            Some((_, [])) => Some("Access line contains no ACL's, skipping".to_string()),
            Some(_) => None,
        };
        if let Some(why) = skipped {
            self.ignore(
                at,
                format!("Squid skips this line: aclParseAccessLine: {why}"),
            );
            return Ok(());
        }
        let conds = self.conditions(&at, &words[1..])?;
        self.conf.http_access.push(Rule {
            at,
            action: words[0].to_string(),
            conds,
        });
        Ok(())
    }

    fn ssl_bump(&mut self, at: Origin, rest: &str) -> Result<(), ReadError> {
        const MODES: [&str; 8] = [
            "splice",
            "bump",
            "peek",
            "stare",
            "terminate",
            "none",
            "client-first",
            "server-first",
        ];
        let words = lex::words(rest);
        let Some((&mode, names)) = words.split_first() else {
            return Err(fatal(&at, "ssl_bump needs a mode"));
        };
        if matches!(mode, "allow" | "deny") {
            return Err(fatal(
                &at,
                "FATAL: ssl_bump allow/deny rule(s) must be CAREFULLY converted to specify bump mode(s).",
            ));
        }
        if !MODES.contains(&mode) {
            return Err(fatal(&at, format!("FATAL: unknown ssl_bump mode: {mode}")));
        }
        let conds = self.conditions(&at, names)?;
        self.conf.ssl_bump.push(Rule {
            at,
            action: mode.to_string(),
            conds,
        });
        Ok(())
    }

    fn acl(&mut self, at: Origin, rest: &str) -> Result<(), ReadError> {
        let mut tokens = lex::Tokens::new(rest, self.quoted_values);
        let mut word = |missing: &str| match tokens.next(false) {
            Ok(Some(Token::Word(w))) => Ok(w.to_string()),
            Ok(Some(Token::Quoted(w))) => Ok(w),
            Ok(_) => Err(fatal(
                &at,
                format!("aclParseAclLine: missing ACL {missing}."),
            )),
            Err(e) => Err(fatal(&at, format!("FATAL: {e}"))),
        };
        let name = word("name")?;
        let kind = word("type")?;
        if !directives::acl_type(&kind) {
            return Err(fatal(&at, format!("FATAL: Invalid ACL type '{kind}'")));
        }
        if let Some(existing) = self.conf.acls.get(&name)
            && existing.kind != kind
        {
            return Err(fatal(
                &at,
                format!(
                    "aclParseAclLine: ACL '{name}' already exists with different type (a {} at {})",
                    existing.kind, existing.at
                ),
            ));
        }
        let regex = acl::is_regex(&kind);
        if regex && self.quoted_values {
            return Err(fatal(
                &at,
                "FATAL: Can not read regex expression while configuration_includes_quoted_values is enabled",
            ));
        }
        let mut list = Vec::new();
        while let Some(t) = tokens
            .next(regex)
            .map_err(|e| fatal(&at, format!("FATAL: {e}")))?
        {
            list.push(t);
        }
        let plain: Vec<&str> = list
            .iter()
            .map_while(|t| match t {
                Token::Word(w) => Some(*w),
                _ => None,
            })
            .collect();
        let (flags, used) = acl::options(&kind, &plain).map_err(|e| fatal(&at, e))?;
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let values = self.values(&at, &list[used..])?;
        self.add_acl(at, name, kind, &flags, values)
    }

    fn add_acl(
        &mut self,
        at: Origin,
        name: String,
        kind: String,
        flags: &[String],
        values: Vec<(String, Origin)>,
    ) -> Result<(), ReadError> {
        if matches!(kind.as_str(), "any-of" | "all-of") {
            for (v, _) in &values {
                self.defined(&at, v)?;
            }
        }
        self.count(&at, values.len())?;
        let has = |f: &str| flags.iter().any(|x| x == f);
        if matches!(kind.as_str(), "dstdomain" | "ssl::server_name") {
            return self.add_domains(at, name, kind, has("-n"), values);
        }
        let mut room = acl::RegexRoom {
            used: &mut self.regex_bytes,
            limit: self.options.limits.regex_bytes,
        };
        let test = acl::test(&kind, values, has("-i"), has("-n"), &mut room)?;
        if let Test::Other(why) = &test {
            self.conf.undecidable.push(Undecidable {
                at: at.clone(),
                why: format!("acl {name}: {why}"),
            });
        }
        match self.conf.acls.get_mut(&name) {
            Some(existing) => acl::merge(&mut existing.test, test),
            None => {
                self.conf.acls.insert(name, Acl { kind, test, at });
            }
        }
        Ok(())
    }

    /// Domain values go in one by one, as Squid inserts them, so a value
    /// covered by an earlier one (on this line or another) is found.
    fn add_domains(
        &mut self,
        at: Origin,
        name: String,
        kind: String,
        no_lookup: bool,
        values: Vec<(String, Origin)>,
    ) -> Result<(), ReadError> {
        let acl = self.conf.acls.entry(name.clone()).or_insert_with(|| Acl {
            kind,
            test: Test::Domains {
                values: Vec::new(),
                index: HashMap::new(),
                no_lookup,
            },
            at: at.clone(),
        });
        let overlap = self.overlaps.entry(name.clone()).or_default();
        acl::add_domains(
            &name,
            &mut acl.test,
            overlap,
            values,
            &mut self.conf.ignored,
        )
        .map_err(|e| fatal(&at, e))
    }

    /// An ACL's values: words, quoted values, and the values of the files
    /// they name (`"file"` with quoted values off, one value per line;
    /// `parameters("file")` with them on, words as on a line).
    fn values(
        &mut self,
        at: &Origin,
        tokens: &[Token],
    ) -> Result<Vec<(String, Origin)>, ReadError> {
        let mut out = Vec::new();
        for t in tokens {
            match t {
                Token::Word(w) => match lex::quoted_file(w).filter(|_| !self.quoted_values) {
                    Some(file) => self.acl_file(at, file, &mut out)?,
                    None => out.push((w.to_string(), at.clone())),
                },
                Token::Quoted(v) => out.push((v.clone(), at.clone())),
                Token::Parameters(file) => self.parameters(at, file, &mut out)?,
            }
        }
        Ok(out)
    }

    fn acl_file(
        &mut self,
        at: &Origin,
        file: &str,
        out: &mut Vec<(String, Origin)>,
    ) -> Result<(), ReadError> {
        let full = self.locate(Path::new(file));
        let text = self.load(&full).map_err(|e| match e {
            ReadError::Read { file, detail } => ReadError::Syntax {
                at: at.clone(),
                detail: format!(
                    "ACL file {file}: {detail} (Squid says ERROR: Can not open file and runs without its values)"
                ),
            },
            other => other,
        })?;
        let name = shown(&full);
        out.extend(lex::acl_file_values(&text).map(|(line, v)| {
            (
                v.into_owned(),
                Origin {
                    file: name.clone(),
                    line,
                },
            )
        }));
        Ok(())
    }

    fn parameters(
        &mut self,
        at: &Origin,
        file: &str,
        out: &mut Vec<(String, Origin)>,
    ) -> Result<(), ReadError> {
        let full = self.locate(Path::new(file));
        let text = self.load(&full).map_err(|e| match e {
            ReadError::Read { file, detail } => fatal(
                at,
                format!("FATAL: Error opening config file: parameters (\"{file}\": {detail})"),
            ),
            other => other,
        })?;
        let name = shown(&full);
        for (i, line) in lex::pieces(text.as_bytes(), lex::ACL_FILE_PIECE).enumerate() {
            let line = String::from_utf8_lossy(line);
            let mut tokens = lex::Tokens::new(&line, true);
            while let Some(t) = tokens
                .next(false)
                .map_err(|e| fatal(at, format!("FATAL: {e}")))?
            {
                let value = match t {
                    Token::Word(w) => w.to_string(),
                    Token::Quoted(q) => q,
                    Token::Parameters(_) => {
                        return Err(fatal(at, format!("parameters() inside {name}")));
                    }
                };
                let origin = Origin {
                    file: name.clone(),
                    line: i + 1,
                };
                out.push((value, origin));
            }
        }
        Ok(())
    }
}

/// A file's text, or why it cannot be read.
fn read_text(path: &Path, max: u64) -> Result<Rc<str>, ReadError> {
    let bytes = crate::input::read_limited(path, max).map_err(|e| ReadError::Read {
        file: shown(path),
        detail: e.to_string(),
    })?;
    String::from_utf8(bytes)
        .map(Rc::from)
        .map_err(|_| ReadError::Read {
            file: shown(path),
            detail: "is not UTF-8 text".to_string(),
        })
}

/// Squid's predefined ACLs.
fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "all" | "localhost" | "to_localhost" | "manager" | "to_linklocal" | "CONNECT"
    )
}

/// The port of an `http_port` address: `3128`, `127.0.0.1:3128`,
/// `[::1]:3128`, `name:3128`.
fn listen_port(address: &str) -> Option<u16> {
    address
        .rsplit_once(':')
        .map_or(address, |(_, port)| port)
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use crate::backends::reader::{Access, Config, Options, Probe};
    use crate::model::Scheme;

    fn read(text: &str) -> Box<dyn Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("squid.conf");
        std::fs::write(&path, text).unwrap();
        super::super::read(&path, &Options::default()).unwrap()
    }

    fn access(c: &dyn Config) -> Access {
        c.decide(&Probe {
            host: "a.example".to_string(),
            port: 80,
            scheme: Scheme::Http,
            path: "/".to_string(),
            client: "10.0.0.1".parse().unwrap(),
        })
        .access
    }

    /// The branch worker 1 reads decides; with several workers each reads
    /// its own, and the condition is reported.
    #[test]
    fn conditions_on_the_process_number_read_as_worker_one() {
        let text =
            "if ${process_number} = 1\nhttp_access allow all\nelse\nhttp_access deny all\nendif\n";
        let c = read(text);
        assert_eq!(access(c.as_ref()), Access::Allowed);
        assert!(c.undecidable().is_empty());
        let c = read(&format!("workers 4\n{text}"));
        assert_eq!(access(c.as_ref()), Access::Allowed);
        let u = c.undecidable();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].at.line, 2);
        assert!(u[0].why.contains("workers 4"), "{}", u[0].why);
        // Only the innermost condition decides, as in Squid.
        let c =
            read("if false\nif true\nhttp_access allow all\nendif\nendif\nhttp_access deny all\n");
        assert_eq!(access(c.as_ref()), Access::Allowed);
    }
}
