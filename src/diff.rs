//! The change report between two catalogs, two policies or two output directories.
//!
//! The change report between two catalogs, two policies or two output
//! directories: what `egressgen diff` prints and what a refresh reports.
//! One differ over the shared types; it never parses Microsoft's files
//! itself (a source file is read by `sources` first).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Serialize;

use crate::model::text::{md_code, md_text};
use crate::model::{Catalog, Endpoint, Provenance, SourceInfo};
use crate::policy::{Policy, PolicyEntry, TlsEntry};
use crate::publish::{MANIFEST, Manifest};
use crate::sources::SourceSpec;

/// One side of a comparison, read.
pub enum Side {
    Catalog(Box<Catalog>),
    Policy(Box<Policy>),
    /// An output directory: its policy and the files its manifest lists.
    Dir {
        policy: Box<Policy>,
        files: BTreeMap<String, String>,
    },
}

impl Side {
    fn kind(&self) -> &'static str {
        match self {
            Side::Catalog(_) => "a catalog (a source file, catalog JSON or built-in)",
            Side::Policy(_) => "a policy.json",
            Side::Dir { .. } => "an output directory",
        }
    }
}

/// Why two sides cannot be compared, or one cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{}: {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
    #[error("cannot compare {a} with {b}: give two of the same kind")]
    Mismatch { a: &'static str, b: &'static str },
    /// A side read as a source (a Microsoft file, `baseline`, ...).
    #[error(transparent)]
    Source(crate::error::Error),
}

/// Everything that differs; empty lists mean equal.
#[derive(Debug, Default, Serialize)]
pub struct ChangeReport {
    pub format: &'static str,
    pub version: u32,
    pub a: String,
    pub b: String,
    /// Source files and tables: versions, service-tag change numbers.
    pub sources: Vec<SourceChange>,
    /// Catalog rows added and removed (catalog comparisons).
    pub rows: Changes<Row>,
    /// Service-tag prefixes per tag, added and removed.
    pub prefixes: Vec<TagChange>,
    /// Policy entries, TLS decisions (policy and directory comparisons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyChanges>,
    /// Files of two output directories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Changes<String>>,
}

/// Added and removed items.
#[derive(Debug, Serialize)]
pub struct Changes<T> {
    pub added: Vec<T>,
    pub removed: Vec<T>,
    /// Present on both sides, different (files: the name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<T>,
}

impl<T> Default for Changes<T> {
    fn default() -> Self {
        Changes {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        }
    }
}

impl<T> Changes<T> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// A catalog row as facts, and where it was read.
#[derive(Debug, Serialize)]
pub struct Row {
    pub row: String,
    pub provenance: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SourceChange {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a: Option<SourceVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b: Option<SourceVersion>,
    /// Service tags whose change number or prefix count moved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagCount>,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct SourceVersion {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TagCount {
    pub tag: String,
    pub change_number: (Option<u64>, Option<u64>),
    pub prefixes: (Option<usize>, Option<usize>),
}

#[derive(Debug, Serialize)]
pub struct TagChange {
    pub tag: String,
    pub change_number: (Option<u64>, Option<u64>),
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct PolicyChanges {
    /// Entries by key (`allow/proxy/host/path@ports`).
    pub entries: Changes<String>,
    /// TLS exemptions (`tls-bypass/pattern`) and never-exempt patterns.
    pub tls_bypass: Changes<String>,
    pub tls_never_bypass: Changes<String>,
}

impl ChangeReport {
    /// Whether the two sides are the same in everything compared.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
            && self.rows.is_empty()
            && self.prefixes.is_empty()
            && self.policy.as_ref().is_none_or(|p| {
                p.entries.is_empty() && p.tls_bypass.is_empty() && p.tls_never_bypass.is_empty()
            })
            && self.files.as_ref().is_none_or(Changes::is_empty)
    }
}

/// Compares two sides of the same kind.
pub fn compare(a: &Side, b: &Side, labels: (&str, &str)) -> Result<ChangeReport, DiffError> {
    let mut report = ChangeReport {
        format: "egressgen-change-report",
        version: 1,
        a: clean(labels.0),
        b: clean(labels.1),
        ..Default::default()
    };
    match (a, b) {
        (Side::Catalog(a), Side::Catalog(b)) => {
            report.sources = sources(&a.sources, &b.sources);
            report.rows = rows(&a.endpoints, &b.endpoints);
            report.prefixes = catalog_prefixes(a, b);
        }
        (Side::Policy(a), Side::Policy(b)) => policy_into(&mut report, a, b),
        (
            Side::Dir {
                policy: pa,
                files: fa,
            },
            Side::Dir {
                policy: pb,
                files: fb,
            },
        ) => {
            policy_into(&mut report, pa, pb);
            report.files = Some(keyed(fa, fb, |x, y| x != y));
        }
        _ => {
            return Err(DiffError::Mismatch {
                a: a.kind(),
                b: b.kind(),
            });
        }
    }
    Ok(report)
}

fn policy_into(report: &mut ChangeReport, a: &Policy, b: &Policy) {
    report.sources = sources(&a.sources, &b.sources);
    let entries = |p: &Policy| -> BTreeMap<String, PolicyEntry> {
        p.entries.iter().map(|e| (e.key(), e.clone())).collect()
    };
    let tls = |list: &[TlsEntry]| -> BTreeMap<String, ()> {
        list.iter()
            .map(|t| (TlsEntry::bypass_key(&t.host), ()))
            .collect()
    };
    // An entry with the same key changed when what it allows or how it is
    // treated changed; provenance and notes alone are not a change.
    let same = |x: &PolicyEntry, y: &PolicyEntry| {
        (&x.tls, &x.products, &x.required) == (&y.tls, &y.products, &y.required)
    };
    report.policy = Some(PolicyChanges {
        entries: keyed(&entries(a), &entries(b), |x, y| !same(x, y)),
        tls_bypass: keyed(&tls(&a.tls.bypass), &tls(&b.tls.bypass), |_, _| false),
        tls_never_bypass: keyed(
            &tls(&a.tls.never_bypass),
            &tls(&b.tls.never_bypass),
            |_, _| false,
        ),
    });
    report.prefixes = policy_prefixes(a, b);
}

/// Keys only in `b` (added), only in `a` (removed), and in both with
/// `differs` (changed).
fn keyed<V>(
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    differs: impl Fn(&V, &V) -> bool,
) -> Changes<String> {
    Changes {
        added: b
            .keys()
            .filter(|k| !a.contains_key(*k))
            .map(|k| clean(k))
            .collect(),
        removed: a
            .keys()
            .filter(|k| !b.contains_key(*k))
            .map(|k| clean(k))
            .collect(),
        changed: a
            .iter()
            .filter(|(k, v)| b.get(*k).is_some_and(|w| differs(v, w)))
            .map(|(k, _)| clean(k))
            .collect(),
    }
}

/// Sources paired by kind, cloud and layout (two service-tag files of the
/// same cloud are two versions of one source), in order.
fn sources(a: &[SourceInfo], b: &[SourceInfo]) -> Vec<SourceChange> {
    let slot = |s: &SourceInfo| {
        (
            s.kind.as_str().to_string(),
            s.cloud.clone(),
            s.layout.clone(),
            // Built-in tables are told apart by name.
            (s.kind == crate::model::SourceKind::Builtin).then(|| s.file.clone()),
        )
    };
    let mut pairs: BTreeMap<_, (Vec<&SourceInfo>, Vec<&SourceInfo>)> = BTreeMap::new();
    for s in a {
        pairs.entry(slot(s)).or_default().0.push(s);
    }
    for s in b {
        pairs.entry(slot(s)).or_default().1.push(s);
    }
    let mut out = Vec::new();
    for ((kind, ..), (xs, ys)) in pairs {
        for (x, y) in pair_by_name(xs, ys) {
            let change = SourceChange {
                kind: kind.clone(),
                a: x.map(version),
                b: y.map(version),
                tags: tag_counts(x, y),
            };
            if change.a != change.b || !change.tags.is_empty() {
                out.push(change);
            }
        }
    }
    out
}

/// Two lists of one kind of source: same file names first (the commercial
/// page with the commercial page, whatever the order the sides list
/// them), then what is left in order (a file renamed between versions).
fn pair_by_name<'a>(
    xs: Vec<&'a SourceInfo>,
    mut ys: Vec<&'a SourceInfo>,
) -> Vec<(Option<&'a SourceInfo>, Option<&'a SourceInfo>)> {
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for x in xs {
        match ys.iter().position(|y| y.file == x.file) {
            Some(i) => pairs.push((Some(x), Some(ys.remove(i)))),
            None => unmatched.push(x),
        }
    }
    let mut rest = ys.into_iter();
    for x in unmatched {
        pairs.push((Some(x), rest.next()));
    }
    pairs.extend(rest.map(|y| (None, Some(y))));
    pairs
}

fn version(s: &SourceInfo) -> SourceVersion {
    SourceVersion {
        file: clean(&s.file),
        version: s.version.as_deref().map(clean),
        sha256: s.sha256.as_deref().map(clean),
    }
}

fn tag_counts(a: Option<&SourceInfo>, b: Option<&SourceInfo>) -> Vec<TagCount> {
    let map = |s: Option<&SourceInfo>| -> BTreeMap<String, (u64, usize)> {
        s.map(|s| {
            s.tags
                .iter()
                .map(|t| (t.name.clone(), (t.change_number, t.prefixes)))
                .collect()
        })
        .unwrap_or_default()
    };
    let (ma, mb) = (map(a), map(b));
    let names: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    names
        .into_iter()
        .filter(|n| ma.get(*n) != mb.get(*n))
        .map(|n| TagCount {
            tag: clean(n),
            change_number: (ma.get(n).map(|t| t.0), mb.get(n).map(|t| t.0)),
            prefixes: (ma.get(n).map(|t| t.1), mb.get(n).map(|t| t.1)),
        })
        .collect()
}

/// Every text a report shows comes from files: escaped once here
/// (control characters, line separators), so no output form can be
/// given an extra line.
fn clean(text: &str) -> String {
    crate::model::text::terminal_safe(text)
}

/// A row's facts, without where it was read: two versions of a file that
/// say the same thing in another row are equal.
fn row_text(e: &Endpoint) -> String {
    let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
    let clouds: Vec<&str> = e.clouds.iter().map(|c| c.as_str()).collect();
    let os: Vec<String> =
        e.os.iter()
            .map(|(os, flag)| format!("{}={}", os.as_str(), flag.as_str()))
            .collect();
    format!(
        "{}{} ports {} {} {} {} {} {} tls {} os {}",
        e.host,
        e.path.as_deref().unwrap_or(""),
        ports.join(","),
        e.product.as_str(),
        clouds.join(","),
        e.geography.as_str(),
        word(&e.required),
        word(&e.route),
        word(&e.tls),
        if os.is_empty() {
            "-".to_string()
        } else {
            os.join(",")
        }
    )
}

/// The kebab-case word serde writes for a unit enum value.
fn word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn rows(a: &[Endpoint], b: &[Endpoint]) -> Changes<Row> {
    let index = |list: &[Endpoint]| -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in list {
            m.entry(row_text(e))
                .or_default()
                .extend(e.provenance.iter().map(Provenance::to_string));
        }
        m
    };
    let (ia, ib) = (index(a), index(b));
    let pick = |from: &BTreeMap<String, Vec<String>>, other: &BTreeMap<String, Vec<String>>| {
        from.iter()
            .filter(|(k, _)| !other.contains_key(*k))
            .map(|(k, p)| Row {
                row: clean(k),
                provenance: p.iter().map(|x| clean(x)).collect(),
            })
            .collect()
    };
    Changes {
        added: pick(&ib, &ia),
        removed: pick(&ia, &ib),
        changed: Vec::new(),
    }
}

/// Prefixes per tag of two catalogs, as read (not aggregated).
fn catalog_prefixes(a: &Catalog, b: &Catalog) -> Vec<TagChange> {
    let index = |c: &Catalog| -> BTreeMap<String, (Option<u64>, BTreeSet<IpNet>)> {
        let mut m: BTreeMap<String, (Option<u64>, BTreeSet<IpNet>)> = BTreeMap::new();
        for p in &c.prefixes {
            let slot = m.entry(p.tag.clone()).or_default();
            slot.0 = slot.0.max(p.change_number);
            slot.1.insert(p.net);
        }
        m
    };
    tag_changes(index(a), index(b))
}

/// Prefixes per tag of two policies (aggregated, as the outputs write
/// them).
fn policy_prefixes(a: &Policy, b: &Policy) -> Vec<TagChange> {
    let index = |p: &Policy| -> BTreeMap<String, (Option<u64>, BTreeSet<IpNet>)> {
        p.prefixes
            .tags
            .iter()
            .map(|t| {
                let nets = t
                    .ipv4
                    .iter()
                    .map(|n| IpNet::V4(*n))
                    .chain(t.ipv6.iter().map(|n| IpNet::V6(*n)))
                    .collect();
                (t.tag.clone(), (t.change_numbers.last().copied(), nets))
            })
            .collect()
    };
    tag_changes(index(a), index(b))
}

fn tag_changes(
    a: BTreeMap<String, (Option<u64>, BTreeSet<IpNet>)>,
    b: BTreeMap<String, (Option<u64>, BTreeSet<IpNet>)>,
) -> Vec<TagChange> {
    let empty = (None, BTreeSet::new());
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .filter_map(|n| {
            let (x, y) = (a.get(n).unwrap_or(&empty), b.get(n).unwrap_or(&empty));
            let change = TagChange {
                tag: clean(n),
                change_number: (x.0, y.0),
                added: y.1.difference(&x.1).map(IpNet::to_string).collect(),
                removed: x.1.difference(&y.1).map(IpNet::to_string).collect(),
            };
            let moved = change.change_number.0 != change.change_number.1;
            (moved || !change.added.is_empty() || !change.removed.is_empty()).then_some(change)
        })
        .collect()
}

/// Reads an output directory: its `policy.json` and its manifest.
pub fn read_dir(dir: &Path) -> Result<Side, DiffError> {
    let unreadable = |path: &Path, detail: String| DiffError::Unreadable {
        path: path.to_path_buf(),
        detail,
    };
    let policy_path = dir.join("policy.json");
    let bytes = crate::input::read_limited(&policy_path, MAX_POLICY)
        .map_err(|e| unreadable(&policy_path, e.to_string()))?;
    let policy = Policy::from_json(&bytes).map_err(|e| unreadable(&policy_path, e.to_string()))?;
    let manifest_path = dir.join(MANIFEST);
    let bytes = crate::input::read_limited(&manifest_path, MAX_POLICY)
        .map_err(|e| unreadable(&manifest_path, e.to_string()))?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| unreadable(&manifest_path, e.to_string()))?;
    Ok(Side::Dir {
        policy: Box::new(policy),
        files: manifest
            .files
            .into_iter()
            .map(|f| (f.name, f.sha256))
            .collect(),
    })
}

/// The largest `policy.json` or manifest read (far above any real one).
const MAX_POLICY: u64 = 256 * 1024 * 1024;

impl ChangeReport {
    /// Plain text, `diff`-like: `+` added, `-` removed, `~` changed.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str(&format!("{} and {} are the same\n", self.a, self.b));
            return out;
        }
        for s in &self.sources {
            out.push_str(&format!("source ({}): {}\n", s.kind, source_line(s)));
            for t in &s.tags {
                out.push_str(&format!("  tag {}\n", tag_count_line(t)));
            }
        }
        section_text(&mut out, "row", &self.rows.added, &self.rows.removed, |r| {
            format!("{}  ({})", r.row, r.provenance.join("; "))
        });
        for t in &self.prefixes {
            out.push_str(&format!(
                "prefixes {}: changeNumber {} -> {}, {} added, {} removed\n",
                t.tag,
                opt(t.change_number.0),
                opt(t.change_number.1),
                t.added.len(),
                t.removed.len()
            ));
            lines(&mut out, "  + ", &t.added);
            lines(&mut out, "  - ", &t.removed);
        }
        if let Some(p) = &self.policy {
            for (what, c) in [
                ("entry", &p.entries),
                ("TLS exemption", &p.tls_bypass),
                ("never-exempt", &p.tls_never_bypass),
            ] {
                section_text(&mut out, what, &c.added, &c.removed, String::clone);
                lines(&mut out, &format!("~ {what} "), &c.changed);
            }
        }
        if let Some(f) = &self.files {
            section_text(&mut out, "file", &f.added, &f.removed, String::clone);
            lines(&mut out, "~ file ", &f.changed);
        }
        out
    }

    /// Markdown for a pull request or a ticket.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Changes: `{}` → `{}`\n\n",
            md_code(&self.a),
            md_code(&self.b)
        );
        if self.is_empty() {
            out.push_str("No change.\n");
            return out;
        }
        if !self.sources.is_empty() {
            out.push_str("## Sources\n\n");
            for s in &self.sources {
                out.push_str(&format!("- {}: {}\n", s.kind, md_text(&source_line(s))));
                for t in &s.tags {
                    out.push_str(&format!("  - tag {}\n", md_text(&tag_count_line(t))));
                }
            }
            out.push('\n');
        }
        if !self.rows.is_empty() {
            out.push_str("## Rows\n\n");
            for (sign, list) in [("added", &self.rows.added), ("removed", &self.rows.removed)] {
                for r in list {
                    out.push_str(&format!(
                        "- {sign}: `{}` ({})\n",
                        md_code(&r.row),
                        md_text(&r.provenance.join("; "))
                    ));
                }
            }
            out.push('\n');
        }
        if !self.prefixes.is_empty() {
            out.push_str("## Prefixes\n\n");
            for t in &self.prefixes {
                out.push_str(&format!(
                    "- `{}`: changeNumber {} → {}; added {}; removed {}\n",
                    md_code(&t.tag),
                    opt(t.change_number.0),
                    opt(t.change_number.1),
                    code_list(&t.added),
                    code_list(&t.removed)
                ));
            }
            out.push('\n');
        }
        let mut groups: Vec<(&str, &Changes<String>)> = Vec::new();
        if let Some(p) = &self.policy {
            groups.push(("Policy entries", &p.entries));
            groups.push(("TLS exemptions", &p.tls_bypass));
            groups.push(("Never exempt", &p.tls_never_bypass));
        }
        if let Some(f) = &self.files {
            groups.push(("Files", f));
        }
        for (title, c) in groups.into_iter().filter(|(_, c)| !c.is_empty()) {
            out.push_str(&format!("## {title}\n\n"));
            for (sign, list) in [
                ("added", &c.added),
                ("removed", &c.removed),
                ("changed", &c.changed),
            ] {
                for k in list {
                    out.push_str(&format!("- {sign}: `{}`\n", md_code(k)));
                }
            }
            out.push('\n');
        }
        out
    }
}

fn source_line(s: &SourceChange) -> String {
    let side = |v: &Option<SourceVersion>| match v {
        Some(v) => format!(
            "{}{}",
            v.file,
            v.version
                .as_deref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()
        ),
        None => "(none)".to_string(),
    };
    format!("{} -> {}", side(&s.a), side(&s.b))
}

fn tag_count_line(t: &TagCount) -> String {
    format!(
        "{}: changeNumber {} -> {}, prefixes {} -> {}",
        t.tag,
        opt(t.change_number.0),
        opt(t.change_number.1),
        opt(t.prefixes.0),
        opt(t.prefixes.1)
    )
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".to_string())
}

fn lines(out: &mut String, prefix: &str, items: &[String]) {
    for i in items {
        out.push_str(&format!("{prefix}{i}\n"));
    }
}

fn section_text<T>(
    out: &mut String,
    what: &str,
    added: &[T],
    removed: &[T],
    show: impl Fn(&T) -> String,
) {
    for a in added {
        out.push_str(&format!("+ {what} {}\n", show(a)));
    }
    for r in removed {
        out.push_str(&format!("- {what} {}\n", show(r)));
    }
}

fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|i| format!("`{}`", md_code(i)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads one side: an output directory, a `policy.json`, catalog JSON (as
/// `catalog --format json` or `baseline` writes it), or anything a
/// `--source` takes (a `live:` source from the cache `sources` reads).
pub fn read_side(
    spec: &SourceSpec,
    sources: &mut crate::generate::SourceCache,
) -> Result<Side, DiffError> {
    if let Some(path) = spec.path() {
        if path.is_dir() {
            return read_dir(path);
        }
        if let Some(side) = own_json(path)? {
            return Ok(side);
        }
    }
    let catalog = sources
        .catalog(std::slice::from_ref(spec))
        .map_err(DiffError::Source)?;
    Ok(Side::Catalog(Box::new(catalog)))
}

/// A JSON file egressgen wrote (policy or catalog), told by its `format`.
fn own_json(path: &Path) -> Result<Option<Side>, DiffError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        return Ok(None);
    }
    let unreadable = |detail: String| DiffError::Unreadable {
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
            crate::sources::catalog_json::parse(&text)
                .map(|c| Some(Side::Catalog(Box::new(c))))
                .map_err(|e| unreadable(e.to_string()))
        }
        _ => Ok(None),
    }
}
